// The fused SPML loss against the unfused reference (values and gradients of pixels and
// prototypes, plain and with-location) over many random segment/label/tag/region layouts with
// memory banks, plus properties: segment order does not matter, moving a pixel toward its
// positives lowers the loss, results do not depend on the thread count.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "engine/ops/factory.h"
#include "engine/ops/normalize.h"
#include "engine/random.h"
#include "spml/loss_fused.h"
#include "spml/loss_reference.h"

namespace spml {
namespace {

using engine::DType;
using engine::Tensor;

struct Layout {
  std::vector<int32_t> own, label, image, region;
  std::vector<int64_t> tags;
  std::vector<int32_t> mem_label;
  std::vector<int64_t> mem_tags;
};

// Random batch: 1..4 images with 1..6 segments each (some images one segment), labels with
// unlabeled ones, tags possibly empty, a few regions; 0..40 memory segments (or 300 to cross a
// 256-segment tile).
Layout random_layout(uint32_t seed, int classes, int64_t pixels, int64_t memory) {
  std::mt19937 rng(seed);
  Layout l;
  const int images = 1 + int(rng() % 4);
  for (int n = 0; n < images; ++n) {
    const int segs = (n == 0 && seed % 3 == 0) ? 1 : 1 + int(rng() % 6);
    int64_t tags = int64_t(rng() % (1u << classes));
    if (rng() % 5 == 0) tags = 0;
    for (int s = 0; s < segs; ++s) {
      l.image.push_back(n);
      l.label.push_back(rng() % 3 == 0 ? kUnlabeledSegment : int32_t(rng() % classes));
      l.region.push_back(int32_t(rng() % 3));
      l.tags.push_back(tags);
    }
  }
  const int64_t sc = int64_t(l.label.size());
  for (int64_t i = 0; i < pixels; ++i) l.own.push_back(int32_t(rng() % sc));
  std::sort(l.own.begin(), l.own.end());  // pixels in image order, as Segments gives them
  for (int64_t j = 0; j < memory; ++j) {
    l.mem_label.push_back(rng() % 4 == 0 ? kUnlabeledSegment : int32_t(rng() % classes));
    l.mem_tags.push_back(int64_t(rng() % (1u << classes)));
  }
  return l;
}

Tensor unit_rows(int64_t n, int64_t d, engine::Generator& gen, DType dt) {
  return engine::l2_normalize(engine::randn({n, d}, gen, 0, 1, DType::f64), 1).detach().to(dt);
}

LossInputs make_inputs(const Layout& l, int64_t d, int64_t dl, DType dt, uint64_t seed) {
  engine::Generator gen(seed);
  const int64_t p = int64_t(l.own.size()), sc = int64_t(l.label.size());
  const int64_t sm = int64_t(l.mem_label.size());
  LossInputs in;
  in.embedding = unit_rows(p, d, gen, dt).set_requires_grad();
  in.embedding_loc = unit_rows(p, dl, gen, dt).set_requires_grad();
  in.pixel_segment = Tensor::from_vector(l.own, {p});
  in.current.prototypes = unit_rows(sc, d, gen, dt).set_requires_grad();
  in.current.prototypes_loc = unit_rows(sc, dl, gen, dt).set_requires_grad();
  in.current.label = Tensor::from_vector(l.label, {sc});
  in.current.image = Tensor::from_vector(l.image, {sc});
  in.current.region = Tensor::from_vector(l.region, {sc});
  in.current.tags = Tensor::from_vector(l.tags, {sc});
  if (sm > 0) {
    in.memory.prototypes = unit_rows(sm, d, gen, dt);
    in.memory.label = Tensor::from_vector(l.mem_label, {sm});
    std::vector<int32_t> img(static_cast<size_t>(sm)), reg(static_cast<size_t>(sm), 0);
    for (int64_t j = 0; j < sm; ++j) img[j] = 100 + int32_t(j % 8);
    in.memory.image = Tensor::from_vector(img, {sm});
    in.memory.region = Tensor::from_vector(reg, {sm});
    in.memory.tags = Tensor::from_vector(l.mem_tags, {sm});
  }
  return in;
}

LossConfig all_relations(int classes, bool use_loc) {
  LossConfig c;
  c.num_classes = classes;
  c.sem_ann = {true, 6.0, 1.0};
  c.sem_occ = {true, 8.0, 0.3};
  c.img_sim = {true, 16.0, 0.1};
  c.feat_aff = {true, 12.0, 0.5};
  c.feat_aff_params = {2, 0.0};
  c.img_sim_use_location = use_loc;
  c.joint_ce = false;
  return c;
}

struct Result {
  std::vector<double> values;  // per relation (NaN when off)
  std::vector<std::vector<double>> grads;
};

Result evaluate(bool fused, const LossInputs& in, const LossConfig& c) {
  for (auto t : {in.embedding, in.embedding_loc, in.current.prototypes, in.current.prototypes_loc})
    t.zero_grad();
  RelationLosses l = fused ? spml_loss_fused(in, c) : spml_loss_reference(in, c);
  Result r;
  for (const Tensor& t : {l.sem_ann, l.sem_occ, l.img_sim, l.feat_aff})
    r.values.push_back(t.defined() ? t.item() : std::nan(""));
  total_loss(c, l).backward();
  for (auto t : {in.embedding, in.embedding_loc, in.current.prototypes, in.current.prototypes_loc})
    r.grads.push_back(t.grad().defined() ? t.grad().to_vector<double>() : std::vector<double>{});
  return r;
}

void expect_close(const Result& a, const Result& b, double tol, const std::string& what) {
  for (size_t r = 0; r < a.values.size(); ++r) {
    if (std::isnan(a.values[r])) {
      EXPECT_TRUE(std::isnan(b.values[r])) << what;
      continue;
    }
    EXPECT_NEAR(a.values[r], b.values[r], tol * (1 + std::abs(b.values[r])))
        << what << " relation " << r;
  }
  for (size_t k = 0; k < a.grads.size(); ++k) {
    ASSERT_EQ(a.grads[k].size(), b.grads[k].size()) << what << " gradient " << k;
    for (size_t e = 0; e < a.grads[k].size(); ++e)
      ASSERT_NEAR(a.grads[k][e], b.grads[k][e], tol * (1e-3 + std::abs(b.grads[k][e])))
          << what << " gradient " << k << " element " << e;
  }
}

TEST(SpmlLossFused, MatchesReferenceF64ManyLayouts) {
  for (uint32_t seed = 0; seed < 24; ++seed) {
    const int64_t pixels = 5 + (seed * 37) % 150;  // crosses the 64-pixel tile
    const int64_t memory = seed % 4 == 0 ? 0 : (seed == 5 ? 300 : int64_t(seed * 3));
    Layout l = random_layout(seed, 4, pixels, memory);
    LossInputs in = make_inputs(l, 5, 7, DType::f64, seed);
    LossConfig c = all_relations(4, seed % 2 == 0);
    c.feat_aff_params = {1 + int(seed % 3), seed % 2 ? -1.0 : 0.3};
    expect_close(evaluate(true, in, c), evaluate(false, in, c), 1e-9,
                 "seed " + std::to_string(seed));
  }
}

TEST(SpmlLossFused, MatchesReferenceF32) {
  for (uint32_t seed = 100; seed < 106; ++seed) {
    Layout l = random_layout(seed, 5, 90, seed % 2 ? 20 : 0);
    LossInputs in = make_inputs(l, 8, 10, DType::f32, seed);
    LossConfig c = all_relations(5, true);
    expect_close(evaluate(true, in, c), evaluate(false, in, c), 2e-4,
                 "seed " + std::to_string(seed));
  }
}

TEST(SpmlLossFused, SegmentOrderDoesNotMatter) {
  for (uint32_t seed = 200; seed < 206; ++seed) {
    Layout l = random_layout(seed, 4, 60, 10);
    LossInputs in = make_inputs(l, 5, 7, DType::f64, seed);
    LossConfig c = all_relations(4, true);
    c.feat_aff_params = {1, 0.0};
    const Result base = evaluate(true, in, c);
    // Reverse the images' order and shuffle segments inside each image (segments stay
    // contiguous per image); remap the pixels' own segments.
    const int64_t sc = int64_t(l.label.size());
    std::vector<int64_t> order;
    std::mt19937 rng(seed);
    for (int32_t n = l.image.back(); n >= 0; --n) {
      std::vector<int64_t> block;
      for (int64_t j = 0; j < sc; ++j)
        if (l.image[j] == n) block.push_back(j);
      std::shuffle(block.begin(), block.end(), rng);
      order.insert(order.end(), block.begin(), block.end());
    }
    std::vector<int32_t> where(static_cast<size_t>(sc));
    for (int64_t k = 0; k < sc; ++k) where[order[k]] = int32_t(k);
    Layout q = l;
    for (int64_t k = 0; k < sc; ++k) {
      q.label[k] = l.label[order[k]];
      q.image[k] = l.image[order[k]];
      q.region[k] = l.region[order[k]];
      q.tags[k] = l.tags[order[k]];
    }
    for (auto& o : q.own) o = where[o];
    LossInputs pin = in;
    pin.pixel_segment = Tensor::from_vector(q.own, {int64_t(q.own.size())});
    pin.current.label = Tensor::from_vector(q.label, {sc});
    pin.current.image = Tensor::from_vector(q.image, {sc});
    pin.current.region = Tensor::from_vector(q.region, {sc});
    pin.current.tags = Tensor::from_vector(q.tags, {sc});
    auto perm = [&](const Tensor& t) {
      std::vector<double> v = t.to_vector<double>(), out(v.size());
      const int64_t d = t.size(1);
      for (int64_t k = 0; k < sc; ++k)
        std::copy_n(v.begin() + order[k] * d, d, out.begin() + k * d);
      return Tensor::from_vector(out, {sc, d}).set_requires_grad();
    };
    pin.current.prototypes = perm(in.current.prototypes);
    pin.current.prototypes_loc = perm(in.current.prototypes_loc);
    const Result moved = evaluate(true, pin, c);
    for (size_t r = 0; r < base.values.size(); ++r)
      EXPECT_NEAR(moved.values[r], base.values[r], 1e-12) << "seed " << seed << " relation " << r;
    for (size_t e = 0; e < base.grads[0].size(); ++e)
      ASSERT_NEAR(moved.grads[0][e], base.grads[0][e], 1e-12);
  }
}

TEST(SpmlLossFused, MovingTowardPositivesLowersLoss) {
  // D = 4: the positive s1 lies on axis 0, the negative s2 on axis 2; the pixel (in its own
  // segment s0, orthogonal to everything) rotates from axis 1 toward axis 0, so only its cosine
  // to the positive changes.
  LossInputs in;
  in.pixel_segment = Tensor::from_vector(std::vector<int32_t>{0}, {1});
  in.current.prototypes =
      Tensor::from_vector(std::vector<double>{0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0}, {3, 4});
  in.current.label = Tensor::from_vector(std::vector<int32_t>{0, 0, 1}, {3});
  in.current.image = Tensor::from_vector(std::vector<int32_t>{0, 0, 0}, {3});
  in.current.region = Tensor::from_vector(std::vector<int32_t>{0, 1, 2}, {3});
  in.current.tags = Tensor::from_vector(std::vector<int64_t>{3, 3, 3}, {3});
  LossConfig c;
  c.num_classes = 2;
  c.sem_ann = {true, 6.0, 1.0};
  c.joint_ce = false;
  double prev_fused = 1e300, prev_ref = 1e300;
  for (int step = 0; step <= 8; ++step) {
    const double a = 1.5707963267948966 * (1.0 - step / 8.0);
    in.embedding = Tensor::from_vector(std::vector<double>{std::cos(a), std::sin(a), 0, 0}, {1, 4});
    const double f = spml_loss_fused(in, c).sem_ann.item();
    const double r = spml_loss_reference(in, c).sem_ann.item();
    EXPECT_NEAR(f, r, 1e-12);
    EXPECT_LT(f, prev_fused) << "step " << step;
    EXPECT_LT(r, prev_ref) << "step " << step;
    prev_fused = f;
    prev_ref = r;
  }
}

TEST(SpmlLossFused, ThreadCountDoesNotChangeResults) {
  Layout l = random_layout(7, 4, 700, 40);
  LossInputs in = make_inputs(l, 16, 18, DType::f32, 7);
  LossConfig c = all_relations(4, true);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const Result one = evaluate(true, in, c);
  omp_set_num_threads(std::max(2, saved));
  const Result many = evaluate(true, in, c);
  omp_set_num_threads(saved);
  EXPECT_EQ(one.values, many.values);
  EXPECT_EQ(one.grads, many.grads);
}

TEST(SpmlLossFused, MemoryAccountingIsLinear) {
  LossConfig c = loss_preset("voc_scribble");
  const auto a = fused_loss_memory(262144, 600, 1200, 64, 66, c, 16);
  const auto b = fused_loss_memory(2 * 262144, 600, 1200, 64, 66, c, 16);
  // Doubling the pixels at most doubles everything (no pixel × segment term).
  EXPECT_LE(b.total(), 2 * a.total());
  EXPECT_LT(a.total(), size_t(1) << 30);
}

TEST(SpmlLossFused, ErrorsNameTheTensor) {
  Layout l = random_layout(3, 4, 10, 0);
  LossInputs in = make_inputs(l, 5, 7, DType::f64, 3);
  LossConfig c = all_relations(4, true);
  in.pixel_segment = Tensor::from_vector(std::vector<int32_t>(10, 999), {10});
  EXPECT_THROW(spml_loss_fused(in, c), engine::Error);
  try {
    spml_loss_fused(in, c);
  } catch (const engine::Error& e) {
    EXPECT_NE(std::string(e.what()).find("pixel_segment[0] = 999"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace spml
