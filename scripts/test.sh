#!/usr/bin/env bash
# The project's test command (README.md): installs dependencies, configures, builds and runs
# every ctest test (labels unit, e2e; gpu tests skip themselves without a device), then the data
# tests under sanitizers (scripts/sanitize.sh; ENGINE_SKIP_SANITIZE=1 skips them).
# Usage: scripts/test.sh [build-dir]   (extra ctest args via CTEST_ARGS)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
jobs="$(nproc)"

scripts/install-deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
cmake --build "$build" -j "$jobs"
# OpenMP and OpenBLAS share the cores; tests run one at a time with all threads.
ctest --test-dir "$build" --output-on-failure --timeout 900 ${CTEST_ARGS:-}
# The data readers' tests again under ASan + UBSan, in their own build dir (build-asan); set
# ENGINE_SKIP_SANITIZE=1 to skip.
if [[ "${ENGINE_SKIP_SANITIZE:-0}" != 1 ]]; then
  scripts/sanitize.sh
fi
