// Op table rows: gather, scatter_add, index_select, index_add, segment_sum, one_hot. Index inputs
// are integers drawn in [lo, hi) = [0, size of the indexed dim); repeated values exercise the
// accumulating backward passes.
#include "engine/ops/elementwise.h"
#include "engine/ops/index.h"
#include "support/op_table.h"

namespace engine::testing {
namespace {

using V = std::vector<Tensor>;

InputSpec ints(Shape shape, int64_t hi, DType dtype) {
  return {std::move(shape), Init::integers, dtype, false, 0.0, double(hi)};
}

std::vector<OpCase> cases() {
  std::vector<OpCase> out;
  auto add = [&](const char* name, std::vector<InputSpec> inputs, OpFn fn) {
    OpCase c;
    c.name = name;
    c.inputs = std::move(inputs);
    c.fn = std::move(fn);
    out.push_back(c);
    return &out.back();
  };

  add("gather/dim1_i64", {{{3, 5}}, ints({3, 7}, 5, DType::i64)},
      [](const V& x) { return gather(x[0], 1, x[1]); });
  add("gather/neg_dim_smaller_index_i32", {{{5, 3, 7}}, ints({9, 2, 5}, 5, DType::i32)},
      [](const V& x) { return gather(x[0], -3, x[1]); });
  // A transposed (strided) x and the last dim.
  add("gather/strided_x", {{{7, 4}}, ints({4, 3}, 7, DType::i64)},
      [](const V& x) { return gather(x[0].transpose(0, 1), -1, x[1]); });

  add("scatter_add/dim0_i64", {{{4, 5}}, ints({6, 5}, 4, DType::i64), {{6, 5}}},
      [](const V& x) { return scatter_add(x[0], 0, x[1], x[2]); });
  add("scatter_add/neg_dim_i32", {{{3, 5, 7}}, ints({2, 5, 9}, 7, DType::i32), {{2, 5, 9}}},
      [](const V& x) { return scatter_add(x[0], -1, x[1], x[2]); });

  add("index_select/dim1_i32", {{{5, 3, 7}}, ints({4}, 3, DType::i32)},
      [](const V& x) { return index_select(x[0], 1, x[1]); });
  add("index_select/neg_dim_i64", {{{3, 7}}, ints({11}, 7, DType::i64)},
      [](const V& x) { return index_select(x[0], -1, x[1]); });

  add("index_add/dim0_i64", {{{5, 3}}, ints({9}, 5, DType::i64), {{9, 3}}},
      [](const V& x) { return index_add(x[0], 0, x[1], x[2]); });
  add("index_add/neg_dim_i32", {{{2, 3, 5}}, ints({7}, 3, DType::i32), {{2, 7, 5}}},
      [](const V& x) { return index_add(x[0], -2, x[1], x[2]); });

  // 2000 segments as in an SPML VOC step (16 images of 128x128 pixels, 64-d embeddings); the
  // small check hits few of them, so most output rows are empty segments.
  OpCase* seg = add("segment_sum/i32", {{{13, 5}}, ints({13}, 4, DType::i32)},
                    [](const V& x) { return segment_sum(x[0], x[1], 2000); });
  seg->bench_inputs = {{{262144, 64}}, ints({262144}, 2000, DType::i32)};
  add("segment_sum/i64_empty_segments", {{{11, 3}}, ints({11}, 3, DType::i64)},
      [](const V& x) { return segment_sum(x[0], x[1], 6); });

  // one_hot is not differentiable; the row checks it through a product with a weight.
  add("one_hot/times_weight", {ints({3, 5}, 4, DType::i64), {{3, 5, 4}}},
      [](const V& x) { return one_hot(x[0], 4, x[1].dtype()) * x[1]; });
  add("one_hot/ignore_i32", {ints({7}, 4, DType::i32), {{7, 3}}},
      [](const V& x) { return one_hot(x[0], 3, x[1].dtype(), 3) * x[1]; });
  return out;
}

}  // namespace
ENGINE_REGISTER_OP_CASES(index, cases);
}  // namespace engine::testing
