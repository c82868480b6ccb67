#!/usr/bin/env bash
# Packs the Debian build dependencies that a bare GPU machine lacks (headers, libraries, CMake
# config and pkg-config files of fmt, GoogleTest, Google Benchmark, OpenBLAS (OpenMP build),
# simdjson, stb, spng, pugixml, CLI11, and pkgconf itself) into gpu-bundle/deps.tar.xz, laid out
# as under / so that the packages' relocatable CMake configs work from any prefix.
# scripts/gpu-check.sh unpacks it there. Run here, from the repository root:
#   scripts/gpu-bundle.sh        (then carry gpu-bundle/ to the GPU machine)
# See docs/gpu.md.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/gpu-bundle"
arch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
lib=/usr/lib/$arch
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# Copies each path (file, symlink or directory) to the same place under the stage; fails on a
# missing one so that an incomplete bundle is never produced.
copy() {
  for p in "$@"; do
    if [[ ! -e "$p" && ! -L "$p" ]]; then
      echo "gpu-bundle: missing $p (install the Debian -dev package: scripts/install-deps.sh)" >&2
      exit 1
    fi
    mkdir -p "$stage$(dirname "$p")"
    cp -a "$p" "$stage$(dirname "$p")/"
  done
}
# Copies the files matching a glob (at least one must exist).
copy_glob() {
  local matches=()
  for pattern in "$@"; do
    for f in $pattern; do [[ -e "$f" || -L "$f" ]] && matches+=("$f"); done
  done
  if [[ ${#matches[@]} -eq 0 ]]; then
    echo "gpu-bundle: nothing matches $*" >&2
    exit 1
  fi
  copy "${matches[@]}"
}

# Headers.
copy /usr/include/fmt /usr/include/gtest /usr/include/gmock /usr/include/benchmark \
  /usr/include/simdjson.h /usr/include/stb /usr/include/spng.h /usr/include/pugixml.hpp \
  /usr/include/pugiconfig.hpp /usr/include/CLI /usr/include/$arch/openblas-openmp
# Libraries (the .so symlink chains are copied as links with their targets).
copy_glob "$lib/libfmt.so*" "$lib/libgtest*.a" "$lib/libgmock*.a" "$lib/libbenchmark*" \
  "$lib/libsimdjson.so*" "$lib/libstb.so*" "$lib/libspng.so*" "$lib/libpugixml.so*" "$lib/libpugixml.a" \
  "$lib/libgomp.so*" "$lib/libgfortran.so*" "$lib/libquadmath.so*" "$lib/libpkgconf.so*"
copy_glob "$lib/openblas-openmp/libopenblas.so*" "$lib/openblas-openmp/libopenblasp-r*.so"
# CMake configs and pkg-config files.
copy "$lib/cmake/fmt" "$lib/cmake/GTest" "$lib/cmake/benchmark" "$lib/cmake/simdjson" \
  "$lib/cmake/pugixml" /usr/share/cmake/CLI11
copy "$lib/pkgconfig/stb.pc" "$lib/pkgconfig/spng.pc" "$lib/pkgconfig/zlib.pc" \
  "$lib/pkgconfig/fmt.pc" "$lib/pkgconfig/simdjson.pc" "$lib/pkgconfig/pugixml.pc"
copy /usr/bin/pkgconf
# The .pc files name prefix=/usr: gpu-check.sh rewrites @BUNDLE@ to where it unpacked.
sed -i 's|^prefix=/usr$|prefix=@BUNDLE@/usr|' "$stage$lib"/pkgconfig/*.pc

rm -rf "$out"
mkdir -p "$out"
tar -C "$stage" -cf - usr | xz -T2 -6 >"$out/deps.tar.xz"
git -C "$root" rev-parse HEAD >"$out/COMMIT" 2>/dev/null || echo unknown >"$out/COMMIT"
echo "$arch" >"$out/ARCH"
size=$(du -sb "$out" | cut -f1)
echo "gpu-bundle: $out ($((size / 1024 / 1024)) MiB, commit $(cat "$out/COMMIT"))"
if ((size > 48 * 1024 * 1024)); then
  echo "gpu-bundle: over 48 MiB: the working tree plus carried files must stay under 64 MiB" >&2
  exit 1
fi
