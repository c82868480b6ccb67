// SPML CUDA lab at the VOC step size (16 images × 128×128 = 262144 pixels, D = 64, 608 current +
// 1200 memory segments, all four relations): the fused loss kernels of cuda/spml_loss.cu alone
// (forward+backward of the plain space, against the FP32 FLOP and HBM rooflines), the whole fused
// loss step, the unfused reference and the fused loss at a size the reference fits, K-Means and
// segment pooling fwd+bwd. Validation lives in tests/gpu/spml_loss_cuda_test.cpp.
// Run: build/bench/bench_spml_cuda (skips every case without a GPU or in a CPU-only build).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "engine/device.h"
#include "engine/error.h"
#include "engine/ops/factory.h"
#include "engine/ops/normalize.h"
#include "engine/ops/reduce.h"
#include "engine/random.h"
#include "spml/kmeans.h"
#include "spml/loss_fused.h"
#include "spml/loss_kernels.h"
#include "spml/loss_reference.h"
#include "spml/segment_pool.h"
#include "spml/segmentation.h"
#include "spml/side_features.h"
#if ENGINE_WITH_CUDA
#include "engine/kernels/runtime.h"
#endif

namespace {

using engine::Device;
using engine::DType;
using engine::Tensor;
using spml::LossInputs;

// H100 SXM: FP32 FMA peak (non-tensor) and HBM3 bandwidth.
constexpr double kPeakFp32 = 67e12;
constexpr double kPeakTf32 = 495e12;
constexpr double kHbm = 3.35e12;

bool skip_without_gpu(benchmark::State& state) {
#if ENGINE_WITH_CUDA
  if (engine::cuda_available()) return false;
  state.SkipWithError("no CUDA device");
#else
  state.SkipWithError("built without CUDA (ENGINE_CUDA=OFF)");
#endif
  return true;
}

void sync() {
#if ENGINE_WITH_CUDA
  engine::cuda::synchronize();
#endif
}

// `images` images of `ppi` pixels and `segs` segments each, `memory` bank segments, VOC-like keys
// (21 classes, a third unlabeled, 2-3 tags per image), f32 on `dev`.
LossInputs make(int64_t images, int64_t ppi, int64_t segs, int64_t memory, int64_t d, Device dev) {
  std::mt19937 rng(1);
  engine::Generator gen(2);
  auto unit = [&](int64_t n, int64_t k) {
    return engine::l2_normalize(engine::randn({n, k}, gen), 1).detach().to(dev);
  };
  const int64_t sc = images * segs, p = images * ppi;
  std::vector<int32_t> own(static_cast<size_t>(p)), label(static_cast<size_t>(sc)),
      image(static_cast<size_t>(sc)), region(static_cast<size_t>(sc));
  std::vector<int64_t> tags(static_cast<size_t>(sc));
  for (int64_t n = 0; n < images; ++n) {
    const int64_t t = (int64_t(1) << (rng() % 21)) | (int64_t(1) << (rng() % 21)) | 1;
    for (int64_t s = 0; s < segs; ++s) {
      const size_t j = size_t(n * segs + s);
      image[j] = int32_t(n);
      label[j] = rng() % 3 == 0 ? spml::kUnlabeledSegment : int32_t(rng() % 21);
      region[j] = int32_t(rng() % uint32_t(segs / 2 + 1));
      tags[j] = t;
    }
    for (int64_t i = 0; i < ppi; ++i)
      own[size_t(n * ppi + i)] = int32_t(n * segs + int64_t(rng() % uint32_t(segs)));
  }
  std::sort(own.begin(), own.end());
  LossInputs in;
  in.embedding = unit(p, d).set_requires_grad();
  in.embedding_loc = unit(p, d + 2).set_requires_grad();
  in.pixel_segment = Tensor::from_vector(own, {p});
  in.current.prototypes = unit(sc, d).set_requires_grad();
  in.current.prototypes_loc = unit(sc, d + 2).set_requires_grad();
  in.current.label = Tensor::from_vector(label, {sc});
  in.current.image = Tensor::from_vector(image, {sc});
  in.current.region = Tensor::from_vector(region, {sc});
  in.current.tags = Tensor::from_vector(tags, {sc});
  if (memory > 0) {
    std::vector<int32_t> ml(static_cast<size_t>(memory)), mi(static_cast<size_t>(memory)),
        mr(static_cast<size_t>(memory), 0);
    std::vector<int64_t> mt(static_cast<size_t>(memory));
    for (int64_t j = 0; j < memory; ++j) {
      ml[size_t(j)] = label[size_t(j % sc)];
      mi[size_t(j)] = int32_t(100 + j / segs);
      mt[size_t(j)] = tags[size_t(j % sc)];
    }
    in.memory.prototypes = unit(memory, d);
    in.memory.label = Tensor::from_vector(ml, {memory});
    in.memory.image = Tensor::from_vector(mi, {memory});
    in.memory.region = Tensor::from_vector(mr, {memory});
    in.memory.tags = Tensor::from_vector(mt, {memory});
  }
  return in;
}

spml::LossConfig voc_all_relations() {
  spml::LossConfig c = spml::loss_preset("voc_scribble");
  c.sem_ann.enabled = c.sem_occ.enabled = c.img_sim.enabled = c.feat_aff.enabled = true;
  return c;
}

constexpr int64_t kImages = 16, kPpi = 128 * 128, kSegs = 38, kMemory = 1200, kDim = 64;

// The plain-space kernels alone (sem_ann, sem_occ, feat_aff over 608 + 1200 candidates), keys
// and outputs already on the device.
void BM_ContrastKernelsCuda(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
#if ENGINE_WITH_CUDA
  const Device dev = Device::cuda(0);
  const LossInputs in = make(kImages, kPpi, kSegs, kMemory, kDim, dev);
  const spml::LossPlan plan = spml::build_loss_plan(in, voc_all_relations());
  const spml::RelationSpace& s = plan.plain;
  const int64_t p = in.embedding.size(0), sc = in.current.size(), sm = in.memory.size();
  auto up = [&](const auto& v) { return Tensor::from_vector(v, {int64_t(v.size())}).to(dev); };
  Tensor own = up(plan.own), lo = up(s.cand_lo), hi = up(s.cand_hi);
  std::vector<Tensor> pk, sk;
  for (const auto& r : s.relations) {
    pk.push_back(up(r.pixel_key));
    sk.push_back(up(r.segment_key));
  }
  Tensor cand = Tensor::empty({sc + sm, kDim}, DType::f32, dev);
  cand.narrow(0, 0, sc).copy_(in.current.prototypes.detach());
  cand.narrow(0, sc, sm).copy_(in.memory.prototypes);
  Tensor pix = in.embedding.detach().contiguous();
  spml::ContrastArgs<float> a;
  a.num_pixels = p;
  a.num_candidates = sc + sm;
  a.num_grad = sc;
  a.dim = kDim;
  a.pixels = pix.data<float>();
  a.prototypes = cand.data<float>();
  a.own = own.data<int32_t>();
  a.cand_lo = lo.data<int32_t>();
  a.cand_hi = hi.data<int32_t>();
  a.num_relations = int(s.relations.size());
  for (int r = 0; r < a.num_relations; ++r)
    a.relations[r] = {s.relations[size_t(r)].rule, s.relations[size_t(r)].concentration,
                      pk[size_t(r)].data<int64_t>(), sk[size_t(r)].data<int64_t>()};
  const int64_t nr = a.num_relations;
  Tensor loss = Tensor::empty({p, nr}, DType::f32, dev),
         ln = Tensor::empty({p, nr}, DType::f32, dev), ld = Tensor::empty({p, nr}, DType::f32, dev),
         fb = Tensor::empty({p, nr}, DType::u8, dev);
  Tensor g = engine::ones({p, nr}, DType::f32, dev);
  Tensor gp = Tensor::empty({p, kDim}, DType::f32, dev),
         gc = Tensor::empty({sc, kDim}, DType::f32, dev);
  for (auto _ : state) {
    spml::cuda::contrast_forward(a, loss.data<float>(), ln.data<float>(), ld.data<float>(),
                                 fb.data<uint8_t>());
    spml::cuda::contrast_backward(a, g.data<float>(), ln.data<float>(), ld.data<float>(),
                                  fb.data<uint8_t>(), gp.data<float>(), gc.data<float>());
    sync();
  }
  const double s_all = double(sc + sm);
  // Executed FMAs: logits twice (forward, backward recompute), G·μ, and Gᵀ·e over the current.
  const double flops = 2.0 * double(p) * kDim * (3 * s_all + double(sc));
  // Bytes that must move: pixels read twice, pixel gradients written, keys and per-(pixel,
  // relation) outputs, prototypes and their gradients.
  const double bytes = double(p) * kDim * 4 * 3 +
                       double(p) * (4 * 3 + nr * (8 * 2 + 4 * 3 + 1 + 4)) + s_all * kDim * 4 * 2 +
                       double(sc) * kDim * 4;
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["fp32_roofline_ms"] = flops / kPeakFp32 * 1e3;
  state.counters["tf32_roofline_ms"] = flops / kPeakTf32 * 1e3;
  state.counters["hbm_roofline_ms"] = bytes / kHbm * 1e3;
  state.counters["hbm_MB"] = bytes / 1e6;
#endif
}
BENCHMARK(BM_ContrastKernelsCuda)->Unit(benchmark::kMillisecond)->UseRealTime();

// The whole fused loss step on CUDA (plan on the host, key upload, both spaces, autograd).
void BM_FusedLossStepCuda(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const LossInputs in = make(kImages, kPpi, kSegs, kMemory, kDim, Device::cuda(0));
  const spml::LossConfig c = voc_all_relations();
  for (auto _ : state) {
    spml::RelationLosses l = spml::spml_loss_fused(in, c);
    spml::total_loss(c, l).backward();
    sync();
  }
  state.counters["pixels/s"] =
      benchmark::Counter(double(kImages * kPpi), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_FusedLossStepCuda)->Unit(benchmark::kMillisecond)->UseRealTime();

// Fused against unfused at 2 images × 64×64 (8192 pixels, 76 + 1200 segments): the reference's
// P × S f32 matrices are 42 MB each here; at the VOC step they would be 1.9 GB each.
template <bool kFused>
void BM_SmallCuda(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  const LossInputs in = make(2, 64 * 64, kSegs, kMemory, kDim, Device::cuda(0));
  const spml::LossConfig c = voc_all_relations();
  try {
    for (auto _ : state) {
      spml::RelationLosses l =
          kFused ? spml::spml_loss_fused(in, c) : spml::spml_loss_reference(in, c);
      spml::total_loss(c, l).backward();
      sync();
    }
  } catch (const engine::Error& e) {
    state.SkipWithError(e.what());
    return;
  }
  state.counters["ref_matrix_bytes_at_voc"] =
      double(kImages * kPpi) * (kImages * kSegs + kMemory) * 4;
}
BENCHMARK_TEMPLATE(BM_SmallCuda, true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_SmallCuda, false)->Unit(benchmark::kMillisecond)->UseRealTime();

// K-Means (6×6 grid, 10 iterations) on [embedding ⊕ xy] features of the VOC step on CUDA.
void BM_KMeansCuda(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  engine::Generator gen{1, 0};
  Tensor emb = engine::l2_normalize(engine::randn({kImages, 128, 128, kDim}, gen), 3);
  Tensor feats =
      spml::with_side_features(emb, spml::location_features(kImages, 128, 128)).to(Device::cuda(0));
  try {
    for (auto _ : state) benchmark::DoNotOptimize(spml::spherical_kmeans(feats, Tensor(), {6, 10}));
  } catch (const engine::Error& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(BM_KMeansCuda)->Unit(benchmark::kMillisecond)->UseRealTime();

// Segment pooling forward+backward on CUDA (segments formed on the host once).
void BM_PoolingCuda(benchmark::State& state) {
  if (skip_without_gpu(state)) return;
  engine::Generator gen{1, 0};
  Tensor emb = engine::l2_normalize(engine::randn({kImages, 128, 128, kDim}, gen), 3);
  Tensor feats = spml::with_side_features(emb, spml::location_features(kImages, 128, 128));
  Tensor clusters = spml::spherical_kmeans(feats, Tensor(), {6, 0});
  Tensor labels = engine::randint({kImages, 128, 128}, 0, 21, gen).to(DType::u8);
  Tensor regions = engine::randint({kImages, 128, 128}, 0, 40, gen).to(DType::i32);
  std::vector<uint64_t> tags(size_t(kImages), 0x6);
  const spml::Segments seg = spml::make_segments(clusters, labels, regions, tags, 21);
  Tensor e = emb.to(Device::cuda(0)).detach().set_requires_grad();
  try {
    for (auto _ : state) {
      Tensor protos = spml::pool_prototypes(spml::segment_pixels(e, seg), seg);
      engine::sum(protos).backward();
      sync();
    }
  } catch (const engine::Error& err) {
    state.SkipWithError(err.what());
    return;
  }
  state.counters["segments"] = double(seg.num_segments());
}
BENCHMARK(BM_PoolingCuda)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
