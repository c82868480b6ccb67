# Every dependency is a Debian package (scripts/install-deps.sh installs them; docs/dependencies.md
# says why each was chosen).
find_package(fmt REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(simdjson REQUIRED)

# OpenBLAS, the OpenMP build (libopenblas-openmp-dev), so that BLAS threads and our own OpenMP
# loops share one thread pool instead of oversubscribing the cores.
find_path(OPENBLAS_INCLUDE_DIR cblas.h
  PATHS /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/aarch64-linux-gnu/openblas-openmp
  NO_DEFAULT_PATH)
find_library(OPENBLAS_LIBRARY openblas
  PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp /usr/lib/aarch64-linux-gnu/openblas-openmp
  NO_DEFAULT_PATH)
if(NOT OPENBLAS_INCLUDE_DIR OR NOT OPENBLAS_LIBRARY)
  message(FATAL_ERROR "OpenBLAS (OpenMP build) not found: run scripts/install-deps.sh "
                      "(package libopenblas-openmp-dev)")
endif()
add_library(openblas_omp INTERFACE)
target_include_directories(openblas_omp SYSTEM INTERFACE ${OPENBLAS_INCLUDE_DIR})
target_link_libraries(openblas_omp INTERFACE ${OPENBLAS_LIBRARY})

if(ENGINE_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(ENGINE_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()

# Data pipeline: stb (JPEG/PNG decoding, JPEG writing), spng (PNGs with palette indices, label
# writing), pugixml (VOC XML). Apps: CLI11 (flags).
find_package(PkgConfig REQUIRED)
pkg_check_modules(STB REQUIRED IMPORTED_TARGET stb)
pkg_check_modules(SPNG REQUIRED IMPORTED_TARGET spng)
find_package(pugixml REQUIRED)
find_package(CLI11 REQUIRED)
