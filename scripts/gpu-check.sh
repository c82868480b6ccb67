#!/usr/bin/env bash
# Builds the project and runs the GPU tests, the unit tests and the CUDA benchmarks on a bare
# CUDA machine (nvcc, CMake, Ninja, CUDA runtime libraries; cuDNN only inside PyTorch's Python
# wheels; no package registry), using the Debian dependencies packed by scripts/gpu-bundle.sh.
# Run from the repository root with gpu-bundle/ present:
#   scripts/gpu-check.sh [all|configure|build|test|bench]...   (default: all)
# Writes logs, JUnit XML, benchmark JSON and summary.txt to build-gpu/check; when $OUT is set
# (the device tool), copies summary.txt, the ctest logs, the benchmarks' output (bench.txt) and
# their JSON (bench-json.tar.gz) there (the tool brings back at most 8 files). The build dir
# build-gpu/ is reused by later calls. See docs/gpu.md.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build="${GPU_BUILD_DIR:-$root/build-gpu}"
out="$build/check"
jobs="${GPU_JOBS:-16}"
mkdir -p "$out"
summary="$out/summary.txt"
steps=("$@")
[[ ${#steps[@]} -eq 0 ]] && steps=(all)
want() {
  local s
  for s in "${steps[@]}"; do [[ "$s" == all || "$s" == "$1" ]] && return 0; done
  return 1
}
note() { echo "$*" | tee -a "$summary"; }
# Hands the main results to $OUT, whatever happened.
finish() {
  [[ -n "${OUT:-}" && -d "${OUT:-}" ]] || return 0
  cp -f "$summary" "$OUT/" 2>/dev/null
  for f in "$out"/ctest-gpu.log "$out"/ctest-unit.log; do
    [[ -f "$f" ]] && cp -f "$f" "$OUT/"
  done
  # The device tool brings back at most 8 files: the benchmarks travel as one text file and one
  # archive of their JSON.
  if compgen -G "$out/bench_*.txt" >/dev/null; then
    for f in "$out"/bench_*.txt; do
      echo "=== $(basename "$f" .txt)"
      cat "$f"
    done >"$OUT/bench.txt"
    tar -C "$out" -czf "$OUT/bench-json.tar.gz" $(cd "$out" && ls bench_*.json 2>/dev/null)
  fi
  if grep -q 'FAILED: \(configure\|build\)' "$summary" 2>/dev/null; then
    tail -c 2000000 "$out/configure.log" >"$OUT/configure.log" 2>/dev/null
    tail -c 2000000 "$out/build.log" >"$OUT/build.log" 2>/dev/null
  fi
  return 0
}
trap finish EXIT
fail() {
  note "FAILED: $*"
  exit 1
}

# ------------------------------------------------------------------ dependencies from the bundle
[[ -f gpu-bundle/deps.tar.xz ]] || fail "gpu-bundle/deps.tar.xz missing: run scripts/gpu-bundle.sh where the Debian packages are installed and carry gpu-bundle/"
bundle="${GPU_BUNDLE_DIR:-/tmp/engine-gpu-bundle}"
if [[ ! -f "$bundle/.unpacked" || gpu-bundle/deps.tar.xz -nt "$bundle/.unpacked" ]]; then
  rm -rf "$bundle" && mkdir -p "$bundle"
  tar -C "$bundle" -xJf gpu-bundle/deps.tar.xz || fail "cannot unpack gpu-bundle/deps.tar.xz"
  sed -i "s|@BUNDLE@|$bundle|" "$bundle"/usr/lib/*/pkgconfig/*.pc
  touch "$bundle/.unpacked"
fi
arch=$(cat gpu-bundle/ARCH 2>/dev/null || echo x86_64-linux-gnu)
blib="$bundle/usr/lib/$arch"
export PKG_CONFIG_PATH="$blib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pkg_config=$(command -v pkg-config || true)
if [[ -z "$pkg_config" ]]; then
  pkg_config="$bundle/usr/bin/pkgconf"
fi
export LD_LIBRARY_PATH="$blib:$blib/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# cuDNN: an explicit CUDNN_INCLUDE_DIR / CUDNN_LIBRARY_DIR wins; else PyTorch's nvidia-cudnn wheel;
# else the toolkit's own (cmake/EngineCuda.cmake looks there by itself).
if [[ -z "${CUDNN_INCLUDE_DIR:-}" ]]; then
  py=$(command -v python3 || true)
  cudnn_dir=""
  if [[ -n "$py" ]]; then
    cudnn_dir=$("$py" -c 'import nvidia.cudnn, os; print(list(nvidia.cudnn.__path__)[0])' 2>/dev/null || true)
  fi
  if [[ -z "$cudnn_dir" ]]; then
    hit=$(find /opt /usr/local/lib /usr/lib -path '*nvidia/cudnn/include/cudnn.h' 2>/dev/null | head -n1)
    [[ -n "$hit" ]] && cudnn_dir=$(dirname "$(dirname "$hit")")
  fi
  if [[ -n "$cudnn_dir" && -f "$cudnn_dir/include/cudnn.h" ]]; then
    # The wheel ships libcudnn.so.9 without the unversioned name find_library looks for.
    links="$bundle/cudnn-lib"
    mkdir -p "$links"
    so=$(ls "$cudnn_dir"/lib/libcudnn.so* 2>/dev/null | head -n1)
    [[ -n "$so" ]] || fail "no libcudnn.so* in $cudnn_dir/lib"
    ln -sf "$so" "$links/libcudnn.so"
    export CUDNN_INCLUDE_DIR="$cudnn_dir/include" CUDNN_LIBRARY_DIR="$links"
    export LD_LIBRARY_PATH="$cudnn_dir/lib:$LD_LIBRARY_PATH"
  fi
fi
# cuBLAS and the CUDA runtime from the wheels too, should the toolkit's not be loadable.
for w in cublas cuda_runtime nvjitlink; do
  d=$(ls -d /opt/torch/.venv/lib/python3*/site-packages/nvidia/$w/lib 2>/dev/null | head -n1)
  [[ -n "$d" ]] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
done

rm -f "$summary"
commit=$(git rev-parse HEAD 2>/dev/null || cat gpu-bundle/COMMIT 2>/dev/null || echo unknown)
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n1)
note "engine gpu-check $(date -u +%Y-%m-%dT%H:%M:%SZ)"
note "commit: $commit"
note "gpu: ${gpu:-none found by nvidia-smi}"
note "nvcc: $(nvcc --version 2>/dev/null | tail -n1 || echo missing)"
note "cudnn: ${CUDNN_INCLUDE_DIR:-toolkit}"

# ------------------------------------------------------------------ configure and build
# Cache entries, not only hints: a toolkit that ships its own cudnn.h would otherwise win the
# search and mismatch the wheel's library.
cudnn_args=()
if [[ -n "${CUDNN_INCLUDE_DIR:-}" && -n "${CUDNN_LIBRARY_DIR:-}" ]]; then
  cudnn_args=(-DCUDNN_INCLUDE_DIR="$CUDNN_INCLUDE_DIR" -DCUDNN_LIBRARY="$CUDNN_LIBRARY_DIR/libcudnn.so")
fi
if want configure || want build || [[ ! -f "$build/build.ninja" ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DENGINE_CUDA="${GPU_ENGINE_CUDA:-ON}" \
    -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" -DCMAKE_PREFIX_PATH="$bundle/usr" \
    -DPKG_CONFIG_EXECUTABLE="$pkg_config" "${cudnn_args[@]}" \
    -DOPENBLAS_INCLUDE_DIR="$bundle/usr/include/$arch/openblas-openmp" \
    -DOPENBLAS_LIBRARY="$blib/openblas-openmp/libopenblas.so" \
    ${GPU_CMAKE_ARGS:-} >"$out/configure.log" 2>&1 || {
    tail -n 30 "$out/configure.log"
    fail "configure (see configure.log)"
  }
  note "configure: ok ($(grep -o 'CUDA backend: [A-Z]*' "$out/configure.log" | tail -n1))"
fi
if want build; then
  start=$(date +%s)
  ninja -C "$build" -j "$jobs" >"$out/build.log" 2>&1 || {
    grep -E 'error|FAILED' "$out/build.log" | head -n 40
    fail "build (see build.log)"
  }
  note "build: ok in $(($(date +%s) - start)) s"
fi

status=0
# ------------------------------------------------------------------ tests
if want test; then
  for label in gpu unit; do
    ctest --test-dir "$build" -L "$label" -j "$jobs" --timeout 600 \
      --output-junit "$out/ctest-$label.xml" >"$out/ctest-$label.log" 2>&1
    rc=$?
    line=$(grep -E 'tests passed|tests failed' "$out/ctest-$label.log" | tail -n1)
    skipped=$(grep -c 'Skipped' "$out/ctest-$label.log" || true)
    note "ctest -L $label: ${line:-no result} (skipped: $skipped)"
    if [[ $rc -ne 0 ]]; then
      status=1
      grep -E '\*\*\*Failed|Exception|SEGFAULT|Timeout' "$out/ctest-$label.log" | head -n 40 | tee -a "$summary"
    fi
  done
fi

# ------------------------------------------------------------------ CUDA benchmarks
if want bench; then
  # Every CUDA benchmark: the bench_cuda_* programs, the SPML loss/K-Means/pooling program and
  # the CUDA cases of the CRF and random-walk programs (their CPU cases are left out: they take
  # minutes).
  for b in "$build"/bench/bench_cuda_* "$build"/bench/bench_spml_cuda "$build"/bench/bench_crf \
    "$build"/bench/bench_random_walk; do
    [[ -x "$b" ]] || continue
    name=$(basename "$b")
    filter=.
    [[ "$name" == bench_crf || "$name" == bench_random_walk ]] && filter=_cuda
    "$b" --benchmark_out="$out/$name.json" --benchmark_out_format=json \
      --benchmark_filter="$filter" --benchmark_min_time=0.2 >"$out/$name.txt" 2>&1 || status=1
    note "--- $name"
    grep -E '^BM_' "$out/$name.txt" | sed -E 's/ +/ /g' | tee -a "$summary" >/dev/null
  done
fi

note "status: $([[ $status -eq 0 ]] && echo ok || echo FAILED)"
exit $status
