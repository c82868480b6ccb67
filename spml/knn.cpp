#include "spml/knn.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "engine/error.h"

namespace spml {

using engine::Tensor;

namespace {

std::string describe(const Tensor& t) {
  return t.defined() ? t.desc() : "undefined";
}

void normalize_rows(float* p, int64_t rows, int64_t d) {
  for (int64_t i = 0; i < rows; ++i) {
    float* r = p + i * d;
    double ss = 0.0;
    for (int64_t k = 0; k < d; ++k) ss += double(r[k]) * r[k];
    if (ss <= 0.0) continue;
    const float inv = static_cast<float>(1.0 / std::sqrt(ss));
    for (int64_t k = 0; k < d; ++k) r[k] *= inv;
  }
}

void check_ids(const char* op, const Tensor& ids) {
  ENGINE_CHECK(ids.defined() && ids.dim() == 2 && ids.dtype() == engine::DType::i32 &&
                   ids.device() == engine::Device::cpu(),
               "{}: cluster_ids must be CPU i32 [h, w], got {}", op, describe(ids));
}

}  // namespace

PrototypeMemory make_prototype_memory(const Tensor& prototypes, const Tensor& labels) {
  ENGINE_CHECK(
      prototypes.defined() && prototypes.dim() == 2 && prototypes.dtype() == engine::DType::f32 &&
          prototypes.device() == engine::Device::cpu(),
      "make_prototype_memory: prototypes must be CPU f32 [M, D], got {}", describe(prototypes));
  const int64_t m = prototypes.shape()[0];
  ENGINE_CHECK(labels.defined() && labels.dim() == 1 && labels.dtype() == engine::DType::i32 &&
                   labels.shape()[0] == m && labels.device() == engine::Device::cpu(),
               "make_prototype_memory: labels must be CPU i32 [{}], got {}", m, describe(labels));
  PrototypeMemory mem{prototypes.contiguous().clone(), labels.contiguous().clone()};
  normalize_rows(mem.prototypes.data<float>(), m, prototypes.shape()[1]);
  return mem;
}

PrototypeMemory concat_prototype_memory(const std::vector<PrototypeMemory>& parts) {
  ENGINE_CHECK(!parts.empty(), "concat_prototype_memory: no parts");
  const int64_t d = parts[0].prototypes.shape()[1];
  int64_t m = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    ENGINE_CHECK(parts[i].prototypes.dim() == 2 && parts[i].prototypes.shape()[1] == d,
                 "concat_prototype_memory: part {} has prototypes {}, expected [M, {}]", i,
                 parts[i].prototypes.desc(), d);
    m += parts[i].prototypes.shape()[0];
  }
  Tensor p = Tensor::empty({m, d});
  Tensor l = Tensor::empty({m}, engine::DType::i32);
  int64_t at = 0;
  for (const PrototypeMemory& part : parts) {
    const int64_t mi = part.prototypes.shape()[0];
    const Tensor src = part.prototypes.contiguous();
    const Tensor lab = part.labels.contiguous();
    std::copy_n(src.data<float>(), mi * d, p.data<float>() + at * d);
    std::copy_n(lab.data<int32_t>(), mi, l.data<int32_t>() + at);
    at += mi;
  }
  return PrototypeMemory{p, l};
}

Tensor cluster_prototypes(const Tensor& features, const Tensor& cluster_ids, int64_t num_clusters) {
  check_ids("cluster_prototypes", cluster_ids);
  const int64_t h = cluster_ids.shape()[0], w = cluster_ids.shape()[1];
  ENGINE_CHECK(features.defined() && features.dim() == 3 &&
                   features.dtype() == engine::DType::f32 && features.shape()[0] == h &&
                   features.shape()[1] == w && features.device() == engine::Device::cpu(),
               "cluster_prototypes: features must be CPU f32 [{}, {}, D], got {}", h, w,
               describe(features));
  ENGINE_CHECK(num_clusters >= 1, "cluster_prototypes: num_clusters must be >= 1, got {}",
               num_clusters);
  const int64_t d = features.shape()[2];
  const Tensor f = features.contiguous(), ids = cluster_ids.contiguous();
  const float* fp = f.data<float>();
  const int32_t* ip = ids.data<int32_t>();
  std::vector<double> sum(static_cast<size_t>(num_clusters * d), 0.0);
  for (int64_t i = 0; i < h * w; ++i) {
    const int32_t k = ip[i];
    if (k < 0) continue;
    ENGINE_CHECK(k < num_clusters, "cluster_prototypes: cluster id {} at pixel {} is >= {}", k, i,
                 num_clusters);
    for (int64_t t = 0; t < d; ++t) sum[static_cast<size_t>(k * d + t)] += fp[i * d + t];
  }
  Tensor out = Tensor::empty({num_clusters, d});
  float* o = out.data<float>();
  for (int64_t i = 0; i < num_clusters * d; ++i) o[i] = static_cast<float>(sum[i]);
  normalize_rows(o, num_clusters, d);
  return out;
}

Tensor cluster_majority_labels(const Tensor& cluster_ids, const Tensor& labels,
                               int64_t num_clusters) {
  check_ids("cluster_majority_labels", cluster_ids);
  const int64_t h = cluster_ids.shape()[0], w = cluster_ids.shape()[1];
  ENGINE_CHECK(labels.defined() && labels.dim() == 2 && labels.shape()[0] == h &&
                   labels.shape()[1] == w &&
                   (labels.dtype() == engine::DType::u8 || labels.dtype() == engine::DType::i32) &&
                   labels.device() == engine::Device::cpu(),
               "cluster_majority_labels: labels must be CPU u8 or i32 [{}, {}], got {}", h, w,
               describe(labels));
  ENGINE_CHECK(num_clusters >= 1, "cluster_majority_labels: num_clusters must be >= 1, got {}",
               num_clusters);
  const Tensor lab = labels.to(engine::DType::i32).contiguous(), ids = cluster_ids.contiguous();
  const int32_t* lp = lab.data<int32_t>();
  const int32_t* ip = ids.data<int32_t>();
  std::vector<int64_t> counts(static_cast<size_t>(num_clusters * 256), 0);
  for (int64_t i = 0; i < h * w; ++i) {
    if (ip[i] < 0) continue;
    ENGINE_CHECK(ip[i] < num_clusters && lp[i] >= 0 && lp[i] <= 255,
                 "cluster_majority_labels: pixel {} has cluster {} (need < {}) and label {} (need "
                 "0..255)",
                 i, ip[i], num_clusters, lp[i]);
    ++counts[static_cast<size_t>(ip[i] * 256 + lp[i])];
  }
  Tensor out = Tensor::empty({num_clusters}, engine::DType::i32);
  int32_t* o = out.data<int32_t>();
  for (int64_t k = 0; k < num_clusters; ++k) {
    const int64_t* row = &counts[static_cast<size_t>(k * 256)];
    int32_t best = kKnnIgnore;
    int64_t best_count = 0;
    for (int32_t l = 0; l < 256; ++l)
      if (row[l] > best_count) {
        best_count = row[l];
        best = l;
      }
    o[k] = best;
  }
  return out;
}

Tensor knn_votes(const Tensor& queries, const PrototypeMemory& memory, int num_classes,
                 const KnnConfig& config) {
  ENGINE_CHECK(memory.prototypes.defined() && memory.prototypes.dim() == 2 &&
                   memory.labels.defined() && memory.labels.dim() == 1 &&
                   memory.labels.shape()[0] == memory.prototypes.shape()[0],
               "knn_votes: memory must hold prototypes [M, D] and labels [M], got {} and {}",
               describe(memory.prototypes), describe(memory.labels));
  const int64_t m = memory.prototypes.shape()[0], d = memory.prototypes.shape()[1];
  ENGINE_CHECK(queries.defined() && queries.dim() == 2 && queries.dtype() == engine::DType::f32 &&
                   queries.shape()[1] == d && queries.device() == engine::Device::cpu(),
               "knn_votes: queries must be CPU f32 [K, {}] to match the memory, got {}", d,
               describe(queries));
  ENGINE_CHECK(num_classes >= 1 && num_classes <= 255 && config.k >= 1,
               "knn_votes: need 1 <= num_classes <= 255 and k >= 1, got {} classes, k = {}",
               num_classes, config.k);
  const int64_t nq = queries.shape()[0], c = num_classes;
  Tensor q = queries.contiguous().clone();
  normalize_rows(q.data<float>(), nq, d);
  const Tensor mp = memory.prototypes.contiguous(), ml = memory.labels.contiguous();
  const float* qp = q.data<float>();
  const float* pp = mp.data<float>();
  const int32_t* lp = ml.data<int32_t>();
  Tensor out = Tensor::empty({nq, c});
  float* o = out.data<float>();
  const int k = config.k;
#pragma omp parallel for if (nq * m * d > (1 << 16)) schedule(dynamic, 4)
  for (int64_t qi = 0; qi < nq; ++qi) {
    const float* qv = qp + qi * d;
    float* orow = o + qi * c;
    for (int64_t l = 0; l < c; ++l) orow[l] = 0.0f;
    double qn = 0.0;
    for (int64_t t = 0; t < d; ++t) qn += double(qv[t]) * qv[t];
    if (qn == 0.0) continue;
    // Sorted best-first (similarity desc, index asc); small k, so insertion is cheapest.
    std::vector<std::pair<float, int64_t>> top;
    top.reserve(static_cast<size_t>(k) + 1);
    for (int64_t j = 0; j < m; ++j) {
      const int32_t lab = lp[j];
      if (lab < 0 || lab >= c) continue;
      const float* pv = pp + j * d;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (int64_t t = 0; t < d; ++t) s += qv[t] * pv[t];
      if (static_cast<int>(top.size()) == k && !(s > top.back().first)) continue;
      auto pos =
          std::upper_bound(top.begin(), top.end(), s,
                           [](float v, const std::pair<float, int64_t>& e) { return v > e.first; });
      top.insert(pos, {s, j});
      if (static_cast<int>(top.size()) > k) top.pop_back();
    }
    if (top.empty()) continue;
    const float inv = 1.0f / static_cast<float>(top.size());
    for (const auto& e : top) orow[lp[e.second]] += inv;
  }
  return out;
}

Tensor broadcast_cluster_scores(const Tensor& cluster_ids, const Tensor& scores) {
  check_ids("broadcast_cluster_scores", cluster_ids);
  ENGINE_CHECK(scores.defined() && scores.dim() == 2 && scores.dtype() == engine::DType::f32 &&
                   scores.device() == engine::Device::cpu(),
               "broadcast_cluster_scores: scores must be CPU f32 [K, C], got {}", describe(scores));
  const int64_t h = cluster_ids.shape()[0], w = cluster_ids.shape()[1];
  const int64_t nk = scores.shape()[0], c = scores.shape()[1];
  const Tensor ids = cluster_ids.contiguous(), sc = scores.contiguous();
  const int32_t* ip = ids.data<int32_t>();
  const float* sp = sc.data<float>();
  Tensor out = Tensor::empty({h, w, c});
  float* o = out.data<float>();
  for (int64_t i = 0; i < h * w; ++i) {
    const int32_t k = ip[i];
    ENGINE_CHECK(k < nk, "broadcast_cluster_scores: cluster id {} at pixel {} is >= K = {}", k, i,
                 nk);
    for (int64_t l = 0; l < c; ++l) o[i * c + l] = k >= 0 ? sp[k * c + l] : 0.0f;
  }
  return out;
}

Tensor normalize_tag_scores(const Tensor& scores, const std::vector<bool>& tags, float floor) {
  ENGINE_CHECK(scores.defined() && scores.dim() == 3 && scores.dtype() == engine::DType::f32 &&
                   scores.device() == engine::Device::cpu(),
               "normalize_tag_scores: scores must be CPU f32 [H, W, C], got {}", describe(scores));
  const int64_t c = scores.shape()[2], n = scores.shape()[0] * scores.shape()[1];
  ENGINE_CHECK(static_cast<int64_t>(tags.size()) == c && floor > 0.0f,
               "normalize_tag_scores: tags has {} entries for {} classes (floor {}, must be > 0)",
               tags.size(), c, floor);
  Tensor out = scores.contiguous().clone();
  float* p = out.data<float>();
  std::vector<float> mx(static_cast<size_t>(c), floor);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t l = 0; l < c; ++l) mx[l] = std::max(mx[l], p[i * c + l]);
  std::vector<float> scale(static_cast<size_t>(c));
  for (int64_t l = 0; l < c; ++l) scale[l] = tags[l] ? 1.0f / mx[l] : 1.0f;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t l = 0; l < c; ++l) p[i * c + l] *= scale[l];
  return out;
}

Tensor knn_retrieval_labels(const Tensor& cluster_ids, const Tensor& queries,
                            const PrototypeMemory& memory, int num_classes,
                            const KnnConfig& config) {
  check_ids("knn_retrieval_labels", cluster_ids);
  Tensor votes = knn_votes(queries, memory, num_classes, config);
  const int64_t nk = votes.shape()[0], c = votes.shape()[1];
  const float* vp = votes.data<float>();
  std::vector<int32_t> cluster_label(static_cast<size_t>(nk), kKnnIgnore);
  for (int64_t k = 0; k < nk; ++k) {
    float best = 0.0f;
    for (int64_t l = 0; l < c; ++l)
      if (vp[k * c + l] > best) {
        best = vp[k * c + l];
        cluster_label[static_cast<size_t>(k)] = static_cast<int32_t>(l);
      }
  }
  const int64_t h = cluster_ids.shape()[0], w = cluster_ids.shape()[1];
  const Tensor ids = cluster_ids.contiguous();
  const int32_t* ip = ids.data<int32_t>();
  Tensor out = Tensor::empty({h, w}, engine::DType::i32);
  int32_t* o = out.data<int32_t>();
  for (int64_t i = 0; i < h * w; ++i) {
    ENGINE_CHECK(ip[i] < nk, "knn_retrieval_labels: cluster id {} at pixel {} is >= K = {}", ip[i],
                 i, nk);
    o[i] = ip[i] >= 0 ? cluster_label[static_cast<size_t>(ip[i])] : kKnnIgnore;
  }
  return out;
}

}  // namespace spml
