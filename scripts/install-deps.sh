#!/usr/bin/env bash
# Installs the project's build and test dependencies from Debian's packages, only those missing.
# Idempotent: a second run installs nothing. The CUDA toolkit (nvcc, cuDNN, cuBLAS, NCCL) comes
# with the machine image; without it the build is CPU-only (ENGINE_CUDA=AUTO).
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config clang-format
  libgtest-dev libgmock-dev libbenchmark-dev
  libfmt-dev libstb-dev libopenblas-openmp-dev libcli11-dev libsimdjson-dev libpugixml-dev
  libspng-dev libopenmpi-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
