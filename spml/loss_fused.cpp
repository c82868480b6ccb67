#include "spml/loss_fused.h"

#include <omp.h>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/factory.h"
#include "engine/ops/reduce.h"
#if ENGINE_WITH_CUDA
#include "engine/kernels/runtime.h"
#endif
#include "spml/loss_kernels.h"

namespace spml {

namespace {

using engine::DType;
using engine::Tensor;

template <typename T>
ContrastArgs<T> make_args(const RelationSpace& s, const std::vector<int32_t>& own,
                          const Tensor& pixels, const Tensor& candidates) {
  ContrastArgs<T> a;
  a.num_pixels = pixels.size(0);
  a.dim = pixels.size(1);
  a.num_candidates = s.num_candidates;
  a.num_grad = s.num_grad;
  a.pixels = pixels.data<T>();
  a.prototypes = candidates.data<T>();
  a.own = own.data();
  a.cand_lo = s.cand_lo.data();
  a.cand_hi = s.cand_hi.data();
  a.num_relations = int(s.relations.size());
  for (int r = 0; r < a.num_relations; ++r) {
    const RelationKeys& k = s.relations[size_t(r)];
    a.relations[r] =
        KernelRelation{k.rule, k.concentration, k.pixel_key.data(), k.segment_key.data()};
  }
  return a;
}

// The plan's key arrays of one space on the tensors' device (CUDA): copied once per call and kept
// by the backward closure.
struct DeviceSpaceKeys {
  Tensor own, cand_lo, cand_hi;
  std::vector<Tensor> pixel_key, segment_key;
};

#if ENGINE_WITH_CUDA
std::shared_ptr<const DeviceSpaceKeys> keys_to_device(const RelationSpace& s,
                                                      const std::vector<int32_t>& own,
                                                      engine::Device device) {
  auto k = std::make_shared<DeviceSpaceKeys>();
  auto up = [&](const auto& v) { return Tensor::from_vector(v, {int64_t(v.size())}).to(device); };
  k->own = up(own);
  k->cand_lo = up(s.cand_lo);
  k->cand_hi = up(s.cand_hi);
  for (const RelationKeys& r : s.relations) {
    k->pixel_key.push_back(up(r.pixel_key));
    k->segment_key.push_back(up(r.segment_key));
  }
  return k;
}

// make_args with the key pointers replaced by their device copies.
ContrastArgs<float> device_args(const RelationSpace& s, const std::vector<int32_t>& own,
                                const DeviceSpaceKeys& k, const Tensor& pixels,
                                const Tensor& candidates) {
  ContrastArgs<float> a = make_args<float>(s, own, pixels, candidates);
  a.own = k.own.data<int32_t>();
  a.cand_lo = k.cand_lo.data<int32_t>();
  a.cand_hi = k.cand_hi.data<int32_t>();
  for (int r = 0; r < a.num_relations; ++r) {
    a.relations[r].pixel_key = k.pixel_key[size_t(r)].data<int64_t>();
    a.relations[r].segment_key = k.segment_key[size_t(r)].data<int64_t>();
  }
  return a;
}
#endif

}  // namespace

Tensor contrast_space_fused(const Tensor& pixels, const Tensor& current, const Tensor& memory,
                            std::shared_ptr<const LossPlan> plan, bool local_space) {
  const RelationSpace& space = local_space ? plan->local : plan->plain;
  const int64_t p = pixels.size(0), d = pixels.size(1), sc = current.size(0);
  const int64_t sm = memory.defined() ? memory.size(0) : 0;
  const int64_t nr = int64_t(space.relations.size());
  const engine::Device device = pixels.device();
  ENGINE_CHECK(current.device() == device && (!memory.defined() || memory.device() == device),
               "spml fused loss: pixels on {}, current prototypes on {}, memory on {}; expected "
               "one device",
               device.str(), current.device().str(),
               memory.defined() ? memory.device().str() : std::string("-"));
#if ENGINE_WITH_CUDA
  const bool on_cuda = device.is_cuda();
  ENGINE_CHECK(!on_cuda || pixels.dtype() == DType::f32,
               "spml fused loss: CUDA embedding dtype {}; the CUDA kernels take f32",
               engine::dtype_name(pixels.dtype()));
#else
  constexpr bool on_cuda = false;
  ENGINE_CHECK(device.is_cpu(), "spml fused loss: tensors on {}; this build has no CUDA backend",
               device.str());
#endif
  ENGINE_CHECK(
      space.num_candidates == sc + sm && space.num_grad == sc && int64_t(plan->own.size()) == p,
      "spml fused loss: the plan ({} candidates, {} pixels) does not match the tensors "
      "({} + {} segments, {} pixels)",
      space.num_candidates, plan->own.size(), sc, sm, p);
  const DType dt = pixels.dtype();
  Tensor pix = pixels.detach().contiguous();
  Tensor cand;
  if (sm > 0) {
    cand = Tensor::empty({sc + sm, d}, dt, device);
    cand.narrow(0, 0, sc).copy_(current.detach());
    cand.narrow(0, sc, sm).copy_(memory.detach());
  } else {
    cand = current.detach().contiguous();
  }
  Tensor loss = Tensor::empty({p, nr}, dt, device), log_num = Tensor::empty({p, nr}, dt, device),
         log_den = Tensor::empty({p, nr}, dt, device),
         fb = Tensor::empty({p, nr}, DType::u8, device);
  auto run = [&](auto zero) {
    using T = decltype(zero);
    cpu::contrast_forward<T>(make_args<T>(space, plan->own, pix, cand), loss.data<T>(),
                             log_num.data<T>(), log_den.data<T>(), fb.data<uint8_t>());
  };
  ENGINE_CHECK(dt == DType::f32 || dt == DType::f64,
               "spml fused loss: embedding dtype {}; expected f32 or f64", engine::dtype_name(dt));
  std::shared_ptr<const DeviceSpaceKeys> dkeys;
  if (on_cuda) {
#if ENGINE_WITH_CUDA
    engine::cuda::DeviceGuard guard(device.index);
    dkeys = keys_to_device(space, plan->own, device);
    cuda::contrast_forward(device_args(space, plan->own, *dkeys, pix, cand), loss.data<float>(),
                           log_num.data<float>(), log_den.data<float>(), fb.data<uint8_t>());
#endif
  } else if (dt == DType::f32) {
    run(float{});
  } else {
    run(double{});
  }

  engine::autograd::record(
      local_space ? "spml_contrast_local" : "spml_contrast", {pixels, current}, {&loss},
      [plan, local_space, pix, cand, log_num, log_den, fb, sc, dt, device,
       dkeys](const std::vector<Tensor>& grads) -> std::vector<Tensor> {
        const RelationSpace& sp = local_space ? plan->local : plan->plain;
        Tensor g = grads[0].contiguous();
        Tensor gp = Tensor::empty(pix.shape(), dt, device),
               gc = Tensor::empty({sc, pix.size(1)}, dt, device);
        if (dkeys) {
#if ENGINE_WITH_CUDA
          engine::cuda::DeviceGuard guard(device.index);
          cuda::contrast_backward(device_args(sp, plan->own, *dkeys, pix, cand), g.data<float>(),
                                  log_num.data<float>(), log_den.data<float>(), fb.data<uint8_t>(),
                                  gp.data<float>(), gc.data<float>());
#endif
          return {gp, gc};
        }
        auto back = [&](auto zero) {
          using T = decltype(zero);
          cpu::contrast_backward<T>(make_args<T>(sp, plan->own, pix, cand), g.data<T>(),
                                    log_num.data<T>(), log_den.data<T>(), fb.data<uint8_t>(),
                                    gp.data<T>(), gc.data<T>());
        };
        if (dt == DType::f32)
          back(float{});
        else
          back(double{});
        return {gp, gc};
      });
  return loss;
}

RelationLosses spml_loss_fused(const LossInputs& in, const LossConfig& config) {
  auto plan = std::make_shared<const LossPlan>(build_loss_plan(in, config));
  RelationLosses out;
  auto reduce = [&](const Tensor& per_pixel, const RelationSpace& space) {
    for (size_t r = 0; r < space.relations.size(); ++r) {
      const RelationKeys& k = space.relations[r];
      Tensor value;
      if (k.num_pixels_in == 0) {
        value = engine::zeros({}, in.embedding.dtype(), in.embedding.device());
      } else {
        Tensor w = Tensor::from_vector(k.pixel_weight, {int64_t(k.pixel_weight.size())})
                       .to(in.embedding.dtype())
                       .to(in.embedding.device());
        value = engine::sum(engine::mul(per_pixel.select(1, int64_t(r)), w));
      }
      switch (k.relation) {
        case Relation::kSemAnn:
          out.sem_ann = value;
          break;
        case Relation::kSemOcc:
          out.sem_occ = value;
          break;
        case Relation::kImgSim:
          out.img_sim = value;
          break;
        case Relation::kFeatAff:
          out.feat_aff = value;
          break;
      }
    }
  };
  if (!plan->plain.relations.empty()) {
    Tensor l =
        contrast_space_fused(in.embedding, in.current.prototypes,
                             in.memory.size() > 0 ? in.memory.prototypes : Tensor(), plan, false);
    reduce(l, plan->plain);
  }
  if (!plan->local.relations.empty()) {
    const bool loc = plan->local.location;
    Tensor l = contrast_space_fused(loc ? in.embedding_loc : in.embedding,
                                    loc ? in.current.prototypes_loc : in.current.prototypes,
                                    Tensor(), plan, true);
    reduce(l, plan->local);
  }
  return out;
}

FusedLossMemory fused_loss_memory(int64_t p, int64_t sc, int64_t sm, int64_t d, int64_t d_loc,
                                  const LossConfig& c, int threads) {
  const size_t f = sizeof(float);
  const int64_t r_plain = int64_t(c.sem_ann.enabled) + c.sem_occ.enabled + c.feat_aff.enabled;
  const int64_t r_local = c.img_sim.enabled;
  const int64_t dl = c.img_sim_use_location ? d_loc : d;
  FusedLossMemory m;
  // own + per space cand_lo/hi; per relation pixel key (i64), pixel weight (f64 host + f32
  // tensor), segment key (i64).
  m.keys = size_t(p) * 4;
  auto space_keys = [&](int64_t r, int64_t s) {
    if (r == 0) return size_t(0);
    return size_t(p) * 8 + size_t(r) * (size_t(p) * (8 + 8 + 4) + size_t(s) * 8);
  };
  m.keys += space_keys(r_plain, sc + sm) + space_keys(r_local, sc);
  // ℓ, ln num, ln den (f32) and the fallback byte per pixel and relation, plus the incoming
  // gradient [P, R] and the weighted per-relation products [P] of the reduction.
  const int64_t r_all = r_plain + r_local;
  m.saved = size_t(p * r_all) * (3 * f + 1) + size_t(p * r_all) * f + size_t(p * r_all) * 2 * f;
  m.candidates = r_plain > 0 && sm > 0 ? size_t((sc + sm) * d) * f : 0;
  size_t scratch = 0;
  if (r_plain > 0)
    scratch = std::max(cpu::contrast_forward_scratch_bytes(r_plain, threads, f),
                       cpu::contrast_backward_scratch_bytes(p, sc, d, threads, f));
  if (r_local > 0)
    scratch = std::max({scratch, cpu::contrast_forward_scratch_bytes(r_local, threads, f),
                        cpu::contrast_backward_scratch_bytes(p, sc, dl, threads, f)});
  m.scratch = scratch;
  if (r_plain > 0) m.gradients += size_t(p * d + sc * d) * f;
  if (r_local > 0) m.gradients += size_t(p * dl + sc * dl) * f;
  return m;
}

}  // namespace spml
