// Op table rows: concat, stack, split, chunk and pad.
#include "engine/ops/elementwise.h"
#include "engine/ops/join.h"
#include "support/op_table.h"

namespace engine::testing {
namespace {

using V = std::vector<Tensor>;

OpCase concat_case(std::string name, std::vector<Shape> shapes, int64_t dim) {
  OpCase c;
  c.name = std::move(name);
  for (auto& s : shapes) c.inputs.push_back({s});
  c.fn = [dim](const V& x) { return concat(x, dim); };
  return c;
}

// Each piece goes through a different function so that a misrouted gradient slice shows.
Tensor mix(const std::vector<Tensor>& pieces, int64_t dim) {
  std::vector<Tensor> parts;
  for (size_t i = 0; i < pieces.size(); ++i)
    parts.push_back(i % 2 == 0 ? mul(pieces[i], double(i + 1)) : tanh(pieces[i]));
  return concat(parts, dim);
}

std::vector<OpCase> cases() {
  std::vector<OpCase> out;
  OpCase channels =
      concat_case("concat/nhwc_channels", {{2, 5, 7, 3}, {2, 5, 7, 5}, {2, 5, 7, 1}}, 3);
  // The DeepLab v3+ decoder joins upsampled ASPP features with low-level ones along C.
  channels.bench_inputs = {{{16, 128, 128, 256}}, {{16, 128, 128, 48}}};
  out.push_back(channels);
  out.push_back(concat_case("concat/nhwc_channels_negative_dim", {{1, 3, 5, 2}, {1, 3, 5, 3}}, -1));
  out.push_back(concat_case("concat/batch", {{1, 3, 5, 2}, {3, 3, 5, 2}}, 0));
  out.push_back(concat_case("concat/height", {{2, 3, 5, 2}, {2, 1, 5, 2}, {2, 4, 5, 2}}, 1));
  out.push_back(concat_case("concat/single", {{3, 5}}, 1));

  OpCase partial;
  partial.name = "concat/with_constant";
  partial.inputs = {{{2, 3, 5}}, {{2, 3, 2}, Init::normal, DType::f32, false}};
  partial.fn = [](const V& x) { return concat(x, 2); };
  out.push_back(partial);

  OpCase st0;
  st0.name = "stack/dim0";
  st0.inputs = {{{3, 5, 2}}, {{3, 5, 2}}, {{3, 5, 2}}};
  st0.fn = [](const V& x) { return stack(x, 0); };
  out.push_back(st0);
  OpCase st_last = st0;
  st_last.name = "stack/last";
  st_last.fn = [](const V& x) { return stack(x, -1); };
  out.push_back(st_last);

  OpCase sp;
  sp.name = "split/channels";
  sp.inputs = {{{2, 3, 5, 7}}};
  sp.fn = [](const V& x) { return mix(split(x[0], {2, 0, 4, 1}, 3), 3); };
  out.push_back(sp);
  OpCase sp_h = sp;
  sp_h.name = "split/height";
  sp_h.fn = [](const V& x) { return mix(split(x[0], {1, 2}, 1), 1); };
  out.push_back(sp_h);

  OpCase ch;
  ch.name = "chunk/uneven";
  ch.inputs = {{{2, 7, 3}}};
  ch.fn = [](const V& x) { return mix(chunk(x[0], 3, 1), 1); };  // 3, 3, 1
  out.push_back(ch);

  OpCase p;
  p.name = "pad/nhwc_spatial";
  p.inputs = {{{2, 5, 7, 3}}};
  p.fn = [](const V& x) { return pad(x[0], {{0, 0}, {1, 2}, {3, 0}}, -0.5); };
  p.bench_inputs = {{{16, 65, 65, 256}}};
  out.push_back(p);
  OpCase p_all = p;
  p_all.name = "pad/every_dim";
  p_all.inputs = {{{2, 3, 5}}};
  p_all.fn = [](const V& x) { return pad(x[0], {{1, 0}, {2, 1}, {0, 3}}, 1.5); };
  out.push_back(p_all);
  OpCase p_crop = p;
  p_crop.name = "pad/crop_and_grow";
  p_crop.inputs = {{{3, 7, 5}}};
  p_crop.fn = [](const V& x) { return pad(x[0], {{0, -1}, {-2, 1}, {2, -3}}); };
  out.push_back(p_crop);
  return out;
}

}  // namespace
ENGINE_REGISTER_OP_CASES(join, cases);
}  // namespace engine::testing
