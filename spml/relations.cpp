#include "spml/relations.h"

#include <algorithm>
#include <unordered_set>
#include <utility>

#include "engine/error.h"
#include "engine/kernels/linalg.h"

namespace spml {

const char* relation_name(Relation r) {
  switch (r) {
    case Relation::kSemAnn:
      return "sem_ann";
    case Relation::kSemOcc:
      return "sem_occ";
    case Relation::kImgSim:
      return "img_sim";
    case Relation::kFeatAff:
      return "feat_aff";
  }
  return "?";
}

namespace {

using engine::DType;
using engine::Tensor;

// Host copy of a key tensor of `n` elements of dtype `dtype` (the Segments contract).
template <typename T>
std::vector<T> keys_of(const char* what, const Tensor& t, DType dtype, int64_t n) {
  ENGINE_CHECK(t.defined(), "spml loss: {} is missing", what);
  ENGINE_CHECK(t.dtype() == dtype && t.dim() == 1 && t.numel() == n,
               "spml loss: {} is {}; expected [{}] {}", what, t.desc(), n,
               engine::dtype_name(dtype));
  return t.to_vector<T>();
}

void check_matrix(const char* what, const Tensor& t, int64_t rows, int64_t cols) {
  ENGINE_CHECK(t.defined(), "spml loss: {} is missing", what);
  ENGINE_CHECK(t.dim() == 2 && t.size(0) == rows && (cols < 0 || t.size(1) == cols) &&
                   (t.dtype() == DType::f32 || t.dtype() == DType::f64),
               "spml loss: {} is {}; expected [{}, {}] f32 or f64", what, t.desc(), rows,
               cols < 0 ? std::string("D") : std::to_string(cols));
}

// Keys of one segment set, checked against the config.
struct SetKeys {
  std::vector<int32_t> label, image, region;
  std::vector<int64_t> tags;
};

SetKeys set_keys(const char* name, const SegmentSet& s, int num_classes) {
  const int64_t n = s.size();
  SetKeys k;
  const std::string p(name);
  k.label = keys_of<int32_t>((p + ".label").c_str(), s.label, DType::i32, n);
  k.image = keys_of<int32_t>((p + ".image").c_str(), s.image, DType::i32, n);
  k.region = keys_of<int32_t>((p + ".region").c_str(), s.region, DType::i32, n);
  k.tags = keys_of<int64_t>((p + ".tags").c_str(), s.tags, DType::i64, n);
  const int64_t tag_limit = int64_t(1) << num_classes;
  for (int64_t j = 0; j < n; ++j) {
    ENGINE_CHECK(k.label[j] == kUnlabeledSegment || (k.label[j] >= 0 && k.label[j] < num_classes),
                 "spml loss: {}.label[{}] = {}; expected a class in [0, {}) or {} (unlabeled)",
                 name, j, k.label[j], num_classes, kUnlabeledSegment);
    ENGINE_CHECK(k.tags[j] >= 0 && k.tags[j] < tag_limit,
                 "spml loss: {}.tags[{}] = {:#x}; expected a mask of classes below {}", name, j,
                 k.tags[j], num_classes);
  }
  return k;
}

// Each relation's mean: 1/N over its pixels, or for img_sim the mean per image then over the
// images that have pixels.
void set_weights(RelationKeys& r, const std::vector<int32_t>& own, const std::vector<int32_t>& img,
                 bool per_image) {
  const int64_t p = int64_t(r.pixel_key.size());
  r.pixel_weight.assign(size_t(p), 0.0);
  r.num_pixels_in = 0;
  for (int64_t i = 0; i < p; ++i) r.num_pixels_in += r.pixel_key[i] >= 0;
  if (r.num_pixels_in == 0) return;
  if (!per_image) {
    for (int64_t i = 0; i < p; ++i)
      if (r.pixel_key[i] >= 0) r.pixel_weight[i] = 1.0 / double(r.num_pixels_in);
    return;
  }
  std::vector<int64_t> count;
  for (int64_t i = 0; i < p; ++i) {
    if (r.pixel_key[i] < 0) continue;
    const int32_t n = img[own[i]];
    if (size_t(n) >= count.size()) count.resize(size_t(n) + 1, 0);
    ++count[n];
  }
  int64_t images = 0;
  for (int64_t c : count) images += c > 0;
  for (int64_t i = 0; i < p; ++i)
    if (r.pixel_key[i] >= 0)
      r.pixel_weight[i] = 1.0 / (double(images) * double(count[img[own[i]]]));
}

}  // namespace

std::vector<int64_t> feature_affinity_keys(const Tensor& prototypes,
                                           const std::vector<int32_t>& labels,
                                           const FeatureAffinityParams& params) {
  const int64_t s = int64_t(labels.size());
  check_matrix("feature affinity prototypes", prototypes, s, -1);
  const int64_t d = prototypes.size(1);
  const std::vector<float> mu = prototypes.to_vector<float>();
  std::vector<int64_t> key(size_t(s), -1);
  std::vector<int64_t> labeled, unlabeled;
  for (int64_t j = 0; j < s; ++j) {
    if (labels[j] >= 0) {
      key[j] = int64_t(1) << labels[j];
      labeled.push_back(j);
    } else {
      unlabeled.push_back(j);
    }
  }
  if (labeled.empty() || unlabeled.empty()) return key;
  const int64_t nl = int64_t(labeled.size());
  std::vector<float> lab(size_t(nl * d));
  for (int64_t a = 0; a < nl; ++a) std::copy_n(mu.data() + labeled[a] * d, d, lab.data() + a * d);
  // Unlabeled rows in blocks so that the similarity block stays small.
  constexpr int64_t kBlock = 256;
  const int k = params.top_k;
  const float thr = float(params.min_similarity);
  const int64_t nu = int64_t(unlabeled.size());
  const int64_t blocks = (nu + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t u0 = b * kBlock, nb = std::min(kBlock, nu - u0);
    std::vector<float> q(size_t(nb * d)), sim(size_t(nb * nl));
    for (int64_t a = 0; a < nb; ++a)
      std::copy_n(mu.data() + unlabeled[u0 + a] * d, d, q.data() + a * d);
    engine::cpu::gemm<float>(false, true, nb, nl, d, 1.0f, q.data(), d, lab.data(), d, 0.0f,
                             sim.data(), nl);
    std::vector<std::pair<float, int64_t>> best;
    for (int64_t a = 0; a < nb; ++a) {
      best.clear();
      const float* row = sim.data() + a * nl;
      for (int64_t c = 0; c < nl; ++c)
        if (row[c] >= thr) best.emplace_back(-row[c], c);  // ties: lower index first
      const size_t take = std::min(best.size(), size_t(k));
      std::partial_sort(best.begin(), best.begin() + take, best.end());
      int64_t m = 0;
      for (size_t t = 0; t < take; ++t) m |= int64_t(1) << labels[labeled[best[t].second]];
      key[unlabeled[u0 + a]] = take > 0 ? m : -1;
    }
  }
  return key;
}

LossPlan build_loss_plan(const LossInputs& in, const LossConfig& config) {
  validate(config);
  const Tensor& e = in.embedding;
  ENGINE_CHECK(e.defined(), "spml loss: the pixel embedding is missing");
  const int64_t p = e.size(0);
  check_matrix("embedding", e, p, -1);
  const int64_t d = e.size(1);
  const int64_t sc = in.current.size(), sm = in.memory.size();
  ENGINE_CHECK(sc > 0 || p == 0, "spml loss: {} pixels but no current segments", p);
  check_matrix("current.prototypes", in.current.prototypes, sc, d);
  ENGINE_CHECK(in.current.prototypes.dtype() == e.dtype(),
               "spml loss: current.prototypes is {} but the embedding is {}",
               in.current.prototypes.desc(), e.desc());
  if (sm > 0) {
    check_matrix("memory.prototypes", in.memory.prototypes, sm, d);
    ENGINE_CHECK(in.memory.prototypes.dtype() == e.dtype(),
                 "spml loss: memory.prototypes is {} but the embedding is {}",
                 in.memory.prototypes.desc(), e.desc());
  }
  LossPlan plan;
  plan.own = keys_of<int32_t>("pixel_segment", in.pixel_segment, DType::i32, p);
  for (int64_t i = 0; i < p; ++i)
    ENGINE_CHECK(plan.own[i] >= 0 && plan.own[i] < sc,
                 "spml loss: pixel_segment[{}] = {}; expected a current segment in [0, {})", i,
                 plan.own[i], sc);
  const SetKeys cur = set_keys("current", in.current, config.num_classes);
  const SetKeys mem = sm > 0 ? set_keys("memory", in.memory, config.num_classes) : SetKeys{};

  // Plain space: current then memory segments, every pixel sees all of them.
  RelationSpace& plain = plan.plain;
  plain.location = false;
  plain.num_candidates = sc + sm;
  plain.num_grad = sc;
  plain.cand_lo.assign(size_t(p), 0);
  plain.cand_hi.assign(size_t(p), int32_t(sc + sm));
  auto seg_keys = [&](auto&& of) {
    std::vector<int64_t> k(size_t(sc + sm));
    for (int64_t j = 0; j < sc; ++j) k[j] = of(cur, j);
    for (int64_t j = 0; j < sm; ++j) k[sc + j] = of(mem, j);
    return k;
  };
  auto finish = [&](RelationKeys r, bool per_image, RelationSpace& space) {
    set_weights(r, plan.own, cur.image, per_image);
    space.relations.push_back(std::move(r));
  };
  if (config.sem_ann.enabled) {
    RelationKeys r;
    r.relation = Relation::kSemAnn;
    r.rule = kMatchEqual;
    r.concentration = config.sem_ann.concentration;
    r.segment_key = seg_keys([](const SetKeys& k, int64_t j) { return int64_t(k.label[j]); });
    r.pixel_key.resize(size_t(p));
    for (int64_t i = 0; i < p; ++i) r.pixel_key[i] = cur.label[plan.own[i]];
    finish(std::move(r), false, plain);
  }
  if (config.sem_occ.enabled) {
    RelationKeys r;
    r.relation = Relation::kSemOcc;
    r.rule = kMatchIntersect;
    r.concentration = config.sem_occ.concentration;
    r.segment_key = seg_keys([](const SetKeys& k, int64_t j) { return k.tags[j]; });
    r.pixel_key.resize(size_t(p));
    for (int64_t i = 0; i < p; ++i) r.pixel_key[i] = cur.tags[plan.own[i]];
    finish(std::move(r), false, plain);
  }
  if (config.feat_aff.enabled) {
    RelationKeys r;
    r.relation = Relation::kFeatAff;
    r.rule = kMatchIntersect;
    r.concentration = config.feat_aff.concentration;
    std::vector<int32_t> labels(cur.label);
    labels.insert(labels.end(), mem.label.begin(), mem.label.end());
    Tensor all = sm > 0 ? Tensor() : in.current.prototypes;
    if (sm > 0) {
      all = Tensor::empty({sc + sm, d}, DType::f32);
      all.narrow(0, 0, sc).copy_(in.current.prototypes.detach());
      all.narrow(0, sc, sm).copy_(in.memory.prototypes.detach());
    }
    r.segment_key = feature_affinity_keys(all.detach(), labels, config.feat_aff_params);
    r.pixel_key.resize(size_t(p));
    for (int64_t i = 0; i < p; ++i) r.pixel_key[i] = r.segment_key[plan.own[i]];
    finish(std::move(r), false, plain);
  }

  // Location space (img_sim): current segments of the pixel's own image only.
  RelationSpace& local = plan.local;
  if (config.img_sim.enabled) {
    local.location = config.img_sim_use_location;
    local.num_candidates = sc;
    local.num_grad = sc;
    if (local.location) {
      const Tensor& el = in.embedding_loc;
      ENGINE_CHECK(el.defined() && in.current.prototypes_loc.defined(),
                   "spml loss: img_sim uses the with-location embedding but embedding_loc or "
                   "current.prototypes_loc is missing (set img_sim_use_location=false to use the "
                   "plain ones)");
      check_matrix("embedding_loc", el, p, -1);
      check_matrix("current.prototypes_loc", in.current.prototypes_loc, sc, el.size(1));
      ENGINE_CHECK(el.dtype() == e.dtype() && in.current.prototypes_loc.dtype() == e.dtype(),
                   "spml loss: embedding_loc {} and current.prototypes_loc {} must have the "
                   "embedding's dtype {}",
                   el.desc(), in.current.prototypes_loc.desc(), e.desc());
    }
    // Segments are contiguous per image (Segments contract); find each image's range.
    std::vector<int32_t> first(static_cast<size_t>(sc)), last(static_cast<size_t>(sc));
    for (int64_t j = 0; j < sc;) {
      int64_t k = j;
      while (k < sc && cur.image[k] == cur.image[j]) ++k;
      for (int64_t t = j; t < k; ++t) first[t] = int32_t(j), last[t] = int32_t(k);
      j = k;
    }
    std::unordered_set<int32_t> started;
    for (int64_t j = 0; j < sc; ++j) {
      if (first[j] != j) continue;
      ENGINE_CHECK(started.insert(cur.image[j]).second,
                   "spml loss: current segments of image {} are not contiguous (a second run "
                   "starts at segment {})",
                   cur.image[j], j);
    }
    local.cand_lo.resize(size_t(p));
    local.cand_hi.resize(size_t(p));
    RelationKeys r;
    r.relation = Relation::kImgSim;
    r.rule = kMatchEqual;
    r.concentration = config.img_sim.concentration;
    r.segment_key.resize(size_t(sc));
    for (int64_t j = 0; j < sc; ++j) {
      ENGINE_CHECK(cur.region[j] >= 0, "spml loss: current.region[{}] = {}; expected >= 0", j,
                   cur.region[j]);
      r.segment_key[j] = cur.region[j];
    }
    r.pixel_key.resize(size_t(p));
    for (int64_t i = 0; i < p; ++i) {
      const int32_t s = plan.own[i];
      r.pixel_key[i] = cur.region[s];
      local.cand_lo[i] = first[s];
      local.cand_hi[i] = last[s];
    }
    finish(std::move(r), true, local);
  }
  return plan;
}

}  // namespace spml
