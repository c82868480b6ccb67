#!/usr/bin/env bash
# The data readers' tests under AddressSanitizer + UndefinedBehaviorSanitizer (issue 5 item 9):
# a separate CPU-only build dir, only the data_tests target, run through ctest so that every test
# is its own process. Any sanitizer report fails the run.
# Usage: scripts/sanitize.sh [build-dir]   (default build-asan; extra ctest args via CTEST_ARGS)
#        SANITIZE_ALL=1 scripts/sanitize.sh   also the unit suite (engine_unit_tests and the apps
#        its tests run): about 25 minutes on 2 cores, so not part of CI; run it before a release.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-asan}"
jobs="$(nproc)"
start=$(date +%s)

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# Debug (-O0 -g): line numbers in the reports and the quickest compile; the tests are small.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DENGINE_SANITIZE=address,undefined -DENGINE_CUDA=OFF -DENGINE_BUILD_BENCH=OFF \
  -DENGINE_NATIVE=OFF "${launcher[@]}" >/dev/null
targets=(data_tests)
if [[ "${SANITIZE_ALL:-0}" == 1 ]]; then
  targets+=(engine_unit_tests predict pseudo_label infer eval_miou train_voc train_densepose
    train_classifier)
fi
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# Only the targets above are built; the other suites appear to ctest as "<exe>_NOT_BUILT"
# placeholders, which are excluded.
ctest --test-dir "$build" --output-on-failure --timeout 300 -j "$jobs" -E '_NOT_BUILT$' \
  ${CTEST_ARGS:-}
echo "sanitize.sh: ${targets[*]} passed under ASan+UBSan in $(( $(date +%s) - start )) s"
