// Op table rows: matmul (plain, batched, broadcast batch dims, transposed and strided views) and
// linear.
#include <algorithm>

#include "engine/ops/linalg.h"
#include "support/op_table.h"

namespace engine::testing {
namespace {

using V = std::vector<Tensor>;

double matmul_flops(const V& x) {
  const Tensor& a = x[0];
  const Tensor& b = x[1];
  double batch = double(a.numel()) / double(a.size(-2) * a.size(-1));
  double batch_b = double(b.numel()) / double(b.size(-2) * b.size(-1));
  return 2.0 * std::max(batch, batch_b) * double(a.size(-2)) * double(a.size(-1)) *
         double(b.size(-1));
}

OpCase mm(const char* name, Shape a, Shape b, OpFn fn = nullptr) {
  OpCase c;
  c.name = name;
  c.inputs = {{a}, {b}};
  c.fn = fn ? fn : [](const V& x) { return matmul(x[0], x[1]); };
  return c;
}

std::vector<OpCase> cases() {
  std::vector<OpCase> out;
  OpCase plain = mm("matmul/2d", {5, 7}, {7, 3});
  plain.bench_inputs = {{{1024, 1024}}, {{1024, 1024}}};
  plain.flops = matmul_flops;
  out.push_back(plain);
  out.push_back(mm("matmul/batched", {3, 5, 7}, {3, 7, 4}));
  out.push_back(mm("matmul/batch_times_matrix", {3, 5, 7}, {7, 4}));
  out.push_back(mm("matmul/stack_times_expanded_matrix", {1, 5, 7}, {7, 4}, [](const V& x) {
    return matmul(x[0], x[1].expand({3, 7, 4}));
  }));
  out.push_back(mm("matmul/matrix_times_batch", {5, 7}, {2, 7, 3}));
  out.push_back(mm("matmul/broadcast_both", {3, 1, 5, 7}, {4, 7, 3}));
  out.push_back(mm("matmul/vector_rows", {1, 7}, {7, 1}));
  out.push_back(mm("matmul/transposed_a", {7, 5}, {7, 3},
                   [](const V& x) { return matmul(x[0].transpose(0, 1), x[1]); }));
  out.push_back(mm("matmul/transposed_b", {2, 5, 7}, {2, 3, 7},
                   [](const V& x) { return matmul(x[0], x[1].transpose(-2, -1)); }));
  out.push_back(mm("matmul/transposed_both", {7, 5}, {3, 7},
                   [](const V& x) { return matmul(x[0].transpose(0, 1), x[1].transpose(0, 1)); }));
  out.push_back(mm("matmul/column_strided", {5, 14}, {7, 3},
                   [](const V& x) { return matmul(x[0].slice(1, 0, 14, 2), x[1]); }));
  out.push_back(mm("matmul/row_sliced", {9, 7}, {7, 11},
                   [](const V& x) { return matmul(x[0].narrow(0, 2, 5), x[1].narrow(1, 3, 5)); }));

  OpCase lin;
  lin.name = "linear/bias";
  lin.inputs = {{{2, 3, 5}}, {{4, 5}}, {{4}}};
  lin.fn = [](const V& x) { return linear(x[0], x[1], x[2]); };
  lin.bench_inputs = {{{4096, 2048}}, {{1000, 2048}}, {{1000}}};
  lin.flops = [](const V& x) { return 2.0 * double(x[0].numel()) * double(x[1].size(0)); };
  out.push_back(lin);

  OpCase lin_nb;
  lin_nb.name = "linear/no_bias_vector";
  lin_nb.inputs = {{{5}}, {{3, 5}}};
  lin_nb.fn = [](const V& x) { return linear(x[0], x[1]); };
  out.push_back(lin_nb);
  return out;
}

}  // namespace
ENGINE_REGISTER_OP_CASES(linalg, cases);
}  // namespace engine::testing
