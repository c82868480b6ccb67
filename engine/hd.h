// ENGINE_HD marks per-element math shared by the CPU and CUDA backends (DESIGN.md "Ops, kernels").
#pragma once

#if defined(__CUDACC__)
#define ENGINE_HD __host__ __device__ __forceinline__
#else
#define ENGINE_HD inline
#endif
