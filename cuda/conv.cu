// cuDNN convolutions for engine/kernels/conv.h: NHWC activations, KRSC (NHWC-format) filters,
// groups, stride, padding, dilation. One plan per problem (geometry, device and math flags) holds
// the descriptors and, per direction, the algorithm chosen once — by cuDNN's heuristics, or by
// measuring (cudnnFind*Ex) when math_flags().cudnn_benchmark — with its math type and workspace
// size. Workspaces come from the caching allocator. Deterministic mode keeps only algorithms
// cuDNN reports as deterministic; without TF32 every algorithm runs with CUDNN_FMA_MATH.
#include <algorithm>
#include <array>
#include <limits>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda/allocator.h"
#include "cuda/handles.h"
#include "cuda/runtime.h"
#include "engine/kernels/conv.h"

namespace engine::cuda {

namespace {

enum Dir { kForward = 0, kBackwardData = 1, kBackwardFilter = 2 };
const char* const kDirName[3] = {"conv2d_forward", "conv2d_backward_input",
                                 "conv2d_backward_weight"};

// The largest workspace offered to cudnnFind*Ex while measuring.
constexpr size_t kMaxFindWorkspace = size_t(1) << 30;

struct PlanKey {
  std::array<int64_t, 18> v{};
  bool operator==(const PlanKey& o) const { return v == o.v; }
};

struct PlanKeyHash {
  size_t operator()(const PlanKey& k) const {
    size_t h = 1469598103934665603ull;
    for (int64_t x : k.v) h = (h ^ size_t(x)) * 1099511628211ull;
    return h;
  }
};

PlanKey make_key(const ConvGeometry& g, int device, const MathFlags& f) {
  return {{g.n, g.h, g.w, g.c, g.o, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups,
           int64_t(device), f.allow_tf32, f.deterministic, f.cudnn_benchmark}};
}

struct Choice {
  bool ready = false;
  int algo = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t workspace = 0;
};

// Descriptors are created once per plan and never destroyed: plans live until process exit.
struct Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  // One convolution descriptor per direction, each carrying its chosen algorithm's math type.
  cudnnConvolutionDescriptor_t conv[3] = {nullptr, nullptr, nullptr};
  Choice choice[3];
  MathFlags flags;
};

// Pointers of one call, for cudnnFind*Ex (which runs the candidates on them).
struct Operands {
  void* x;  // input (forward, backward-filter) or grad_x (backward-data)
  void* w;  // filter or grad_weight
  void* y;  // output or grad_y
};

int as_int(int64_t v, const char* what) {
  ENGINE_CHECK(v >= 0 && v <= std::numeric_limits<int>::max(),
               "CUDA conv2d: {} = {} does not fit cuDNN's 32-bit int", what, v);
  return int(v);
}

void check_size(const char* what, int64_t a, int64_t b, int64_t c, int64_t d) {
  const double n = double(a) * double(b) * double(c) * double(d);
  ENGINE_CHECK(n < 2147483648.0,
               "CUDA conv2d: {} [{}, {}, {}, {}] has {} elements; cuDNN's convolutions take "
               "tensors under 2^31 elements: split the batch",
               what, a, b, c, d, int64_t(n));
}

std::unique_ptr<Plan> create_plan(const ConvGeometry& g, const MathFlags& f) {
  check_size("input", g.n, g.h, g.w, g.c);
  check_size("output", g.n, g.ho, g.wo, g.o);
  check_size("weight", g.o, g.kh, g.kw, g.c / g.groups);
  auto p = std::make_unique<Plan>();
  p->flags = f;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->x));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->y));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->bias));
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->w));
  // cudnnSet*4dDescriptor take N, C, H, W whatever the layout.
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT,
                                         as_int(g.n, "N"), as_int(g.c, "C"), as_int(g.h, "H"),
                                         as_int(g.w, "W")));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT,
                                         as_int(g.n, "N"), as_int(g.o, "O"), as_int(g.ho, "Ho"),
                                         as_int(g.wo, "Wo")));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->bias, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1,
                                         as_int(g.o, "O"), 1, 1));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC,
                                         as_int(g.o, "O"), as_int(g.c / g.groups, "C/groups"),
                                         as_int(g.kh, "KH"), as_int(g.kw, "KW")));
  for (auto& cd : p->conv) {
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&cd));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
        cd, as_int(g.ph, "pad_h"), as_int(g.pw, "pad_w"), as_int(g.sh, "stride_h"),
        as_int(g.sw, "stride_w"), as_int(g.dh, "dilation_h"), as_int(g.dw, "dilation_w"),
        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionGroupCount(cd, as_int(g.groups, "groups")));
    CUDNN_CHECK(
        cudnnSetConvolutionMathType(cd, f.allow_tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
  }
  int n = 0, c = 0, h = 0, w = 0;
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv[kForward], p->x, p->w, &n, &c, &h, &w));
  ENGINE_CHECK(n == g.n && c == g.o && h == g.ho && w == g.wo,
               "CUDA conv2d: cuDNN's output shape [{}, {}, {}, {}] (NCHW) differs from the "
               "op's [{}, {}, {}, {}]",
               n, c, h, w, g.n, g.o, g.ho, g.wo);
  return p;
}

// The cuDNN entry points of one direction, so that algorithm choice is written once.
struct ForwardApi {
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  using Algo = cudnnConvolutionFwdAlgo_t;
  static constexpr int kAlgoCount = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) {
    return cudnnGetConvolutionForwardAlgorithmMaxCount(h, n);
  }
  static cudnnStatus_t heuristics(cudnnHandle_t h, const Plan& p, cudnnConvolutionDescriptor_t cd,
                                  int req, int* ret, Perf* perf) {
    return cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, cd, p.y, req, ret, perf);
  }
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, cudnnConvolutionDescriptor_t cd,
                            const Operands& o, int req, int* ret, Perf* perf, void* ws,
                            size_t ws_size) {
    return cudnnFindConvolutionForwardAlgorithmEx(h, p.x, o.x, p.w, o.w, cd, p.y, o.y, req, ret,
                                                  perf, ws, ws_size);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, cudnnConvolutionDescriptor_t cd,
                                 Algo a, size_t* size) {
    return cudnnGetConvolutionForwardWorkspaceSize(h, p.x, p.w, cd, p.y, a, size);
  }
};

struct BackwardDataApi {
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  using Algo = cudnnConvolutionBwdDataAlgo_t;
  static constexpr int kAlgoCount = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) {
    return cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, n);
  }
  static cudnnStatus_t heuristics(cudnnHandle_t h, const Plan& p, cudnnConvolutionDescriptor_t cd,
                                  int req, int* ret, Perf* perf) {
    return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, cd, p.x, req, ret, perf);
  }
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, cudnnConvolutionDescriptor_t cd,
                            const Operands& o, int req, int* ret, Perf* perf, void* ws,
                            size_t ws_size) {
    return cudnnFindConvolutionBackwardDataAlgorithmEx(h, p.w, o.w, p.y, o.y, cd, p.x, o.x, req,
                                                       ret, perf, ws, ws_size);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, cudnnConvolutionDescriptor_t cd,
                                 Algo a, size_t* size) {
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w, p.y, cd, p.x, a, size);
  }
};

struct BackwardFilterApi {
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  using Algo = cudnnConvolutionBwdFilterAlgo_t;
  static constexpr int kAlgoCount = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) {
    return cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, n);
  }
  static cudnnStatus_t heuristics(cudnnHandle_t h, const Plan& p, cudnnConvolutionDescriptor_t cd,
                                  int req, int* ret, Perf* perf) {
    return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, cd, p.w, req, ret, perf);
  }
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, cudnnConvolutionDescriptor_t cd,
                            const Operands& o, int req, int* ret, Perf* perf, void* ws,
                            size_t ws_size) {
    return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p.x, o.x, p.y, o.y, cd, p.w, o.w, req,
                                                         ret, perf, ws, ws_size);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, cudnnConvolutionDescriptor_t cd,
                                 Algo a, size_t* size) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x, p.y, cd, p.w, a, size);
  }
};

// Lists candidate algorithms best first (measured or predicted), then keeps the first that is
// usable under the flags and whose workspace size cuDNN can state for its math type.
template <typename Api>
Choice choose(Plan& p, Dir dir, const Operands& ops, int device) {
  cudnnHandle_t h = cudnn_handle();
  cudnnConvolutionDescriptor_t cd = p.conv[dir];
  int max_count = 0;
  CUDNN_CHECK(Api::max_count(h, &max_count));
  max_count = std::max(max_count, 1);
  std::vector<typename Api::Perf> perf(static_cast<size_t>(max_count));
  int returned = 0;
  if (p.flags.cudnn_benchmark) {
    size_t ws = 0;
    for (int a = 0; a < Api::kAlgoCount; ++a) {
      size_t s = 0;
      if (Api::workspace(h, p, cd, typename Api::Algo(a), &s) == CUDNN_STATUS_SUCCESS)
        ws = std::max(ws, s);
    }
    ws = std::min(ws, kMaxFindWorkspace);
    DeviceBuffer buffer(ws, device);
    CUDNN_CHECK(Api::find(h, p, cd, ops, max_count, &returned, perf.data(), buffer.get(), ws));
  } else {
    CUDNN_CHECK(Api::heuristics(h, p, cd, max_count, &returned, perf.data()));
  }
  for (int i = 0; i < returned; ++i) {
    const auto& r = perf[size_t(i)];
    if (r.status != CUDNN_STATUS_SUCCESS) continue;
    if (p.flags.deterministic && r.determinism != CUDNN_DETERMINISTIC) continue;
    Choice c;
    c.algo = int(r.algo);
    // Without TF32, FP32 stays on FMA units whatever math type the candidate reported.
    c.math = p.flags.allow_tf32 ? r.mathType : CUDNN_FMA_MATH;
    CUDNN_CHECK(cudnnSetConvolutionMathType(cd, c.math));
    if (Api::workspace(h, p, cd, r.algo, &c.workspace) != CUDNN_STATUS_SUCCESS) continue;
    c.ready = true;
    return c;
  }
  ENGINE_THROW(
      "CUDA {}: cuDNN offers no usable algorithm among {} candidates (deterministic: {}, TF32: "
      "{}, measured: {})",
      kDirName[dir], returned, p.flags.deterministic, p.flags.allow_tf32, p.flags.cudnn_benchmark);
}

struct PlanCache {
  std::mutex mutex;
  std::unordered_map<PlanKey, std::unique_ptr<Plan>, PlanKeyHash> plans;
};

PlanCache& plan_cache() {
  static PlanCache* c = new PlanCache();
  return *c;
}

// The plan for `g` with the direction's algorithm chosen. Plans are never removed, so the
// returned reference stays valid; their contents do not change once chosen.
const Plan& plan_for(const ConvGeometry& g, Dir dir, const Operands& ops, int device) {
  const MathFlags flags = math_flags();
  PlanCache& cache = plan_cache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  auto& slot = cache.plans[make_key(g, device, flags)];
  if (!slot) slot = create_plan(g, flags);
  Plan& p = *slot;
  if (!p.choice[dir].ready) {
    if (dir == kForward) p.choice[dir] = choose<ForwardApi>(p, dir, ops, device);
    if (dir == kBackwardData) p.choice[dir] = choose<BackwardDataApi>(p, dir, ops, device);
    if (dir == kBackwardFilter) p.choice[dir] = choose<BackwardFilterApi>(p, dir, ops, device);
  }
  return p;
}

}  // namespace

void conv2d_forward(const ConvGeometry& g, const float* x, const float* weight, const float* bias,
                    float* y) {
  if (g.n == 0) return;  // empty batch: nothing to compute (cuDNN rejects N = 0)
  const int device = current_device();
  Operands ops{const_cast<float*>(x), const_cast<float*>(weight), y};
  const Plan& p = plan_for(g, kForward, ops, device);
  const Choice& c = p.choice[kForward];
  DeviceBuffer ws(c.workspace, device);
  const float one = 1.f, zero = 0.f;
  cudnnHandle_t h = cudnn_handle();
  CUDNN_CHECK(cudnnConvolutionForward(h, &one, p.x, x, p.w, weight, p.conv[kForward],
                                      cudnnConvolutionFwdAlgo_t(c.algo), ws.get(), c.workspace,
                                      &zero, p.y, y));
  if (bias != nullptr) CUDNN_CHECK(cudnnAddTensor(h, &one, p.bias, bias, &one, p.y, y));
}

void conv2d_backward_input(const ConvGeometry& g, const float* grad_y, const float* weight,
                           float* grad_x) {
  if (g.n == 0) return;
  const int device = current_device();
  Operands ops{grad_x, const_cast<float*>(weight), const_cast<float*>(grad_y)};
  const Plan& p = plan_for(g, kBackwardData, ops, device);
  const Choice& c = p.choice[kBackwardData];
  DeviceBuffer ws(c.workspace, device);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnConvolutionBackwardData(
      cudnn_handle(), &one, p.w, weight, p.y, grad_y, p.conv[kBackwardData],
      cudnnConvolutionBwdDataAlgo_t(c.algo), ws.get(), c.workspace, &zero, p.x, grad_x));
}

void conv2d_backward_weight(const ConvGeometry& g, const float* x, const float* grad_y,
                            float* grad_weight) {
  const int device = current_device();
  if (g.n == 0) {  // no samples: the gradient is zero
    CUDA_CHECK(cudaMemsetAsync(grad_weight, 0,
                               sizeof(float) * size_t(g.o * g.kh * g.kw * (g.c / g.groups)),
                               current_stream()));
    return;
  }
  Operands ops{const_cast<float*>(x), grad_weight, const_cast<float*>(grad_y)};
  const Plan& p = plan_for(g, kBackwardFilter, ops, device);
  const Choice& c = p.choice[kBackwardFilter];
  DeviceBuffer ws(c.workspace, device);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(
      cudnn_handle(), &one, p.x, x, p.y, grad_y, p.conv[kBackwardFilter],
      cudnnConvolutionBwdFilterAlgo_t(c.algo), ws.get(), c.workspace, &zero, p.w, grad_weight));
}

}  // namespace engine::cuda
