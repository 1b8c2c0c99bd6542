// Compute timing of one NPU core, shared by the SystemC core model
// (models/npu_core) and the analytical perfmodel so both engines use the same
// first-principles formulas. SystemC-free, header only.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/command.h"
#include "platform/config/hw_config.h"

namespace npuvp::core_timing {

// One weight tile C[m x n] (+)= A[m x k] B[k x n] that fits the array
// (k <= rows, n <= cols), alone on a weight-stationary R x C systolic array:
//   k cycles       shift the k x n weight tile into the PEs, one row per cycle;
//   m + k + n - 2  stream m input rows through the array: the first result
//                  leaves after the skewed fill (k + n - 1), then one row per
//                  cycle for the remaining m - 1 rows (drain included).
// Total 2k + n + m - 2: the weight-stationary cycle count of SCALE-Sim
// (Samajdar et al., arXiv 1811.02883, "2Sr + Sc + T - 2" with Sr = k, Sc = n,
// T = m) for one fold.
inline uint64_t matmul_cycles(uint64_t m, uint64_t k, uint64_t n, const matrix_config& /*array*/) {
  if (m == 0 || k == 0 || n == 0) return 0;
  return 2 * k + n + m - 2;
}

// One matmul command: a weight tile larger than the array runs as
// ceil(k/R) x ceil(n/C) folds (k outer, n inner), back to back with
// double-buffered weights, as in the TPU (Jouppi et al., ISCA 2017, section 2:
// "weights are double-buffered ... to hide the 256 cycles it takes to shift a
// tile in"): fold t+1's k_{t+1} weight rows shift in while fold t's m input
// rows stream, and fold t+1's first row enters right behind fold t's last
// (fill and drain of consecutive folds overlap). Folds t = 1..T:
//   k_1 + sum_t max(m, k_{t+1}) + (k_T + n_T - 2),   k_{T+1} = 0:
// the first load, one issue interval per fold, the last fold's drain. One fold
// is exactly matmul_cycles; consecutive commands overlap the same way
// (matmul_follow_cycles), so k folds in one command take as long as k one-fold
// commands back to back.
inline uint64_t matmul_command_cycles(uint64_t m, uint64_t k, uint64_t n, const matrix_config& array) {
  if (m == 0 || k == 0 || n == 0) return 0;
  const uint64_t R = uint64_t(array.rows), C = uint64_t(array.cols);
  const uint64_t k_folds = (k + R - 1) / R, n_folds = (n + C - 1) / C;
  const uint64_t k_last = k - (k_folds - 1) * R, n_last = n - (n_folds - 1) * C;
  auto k_of = [&](uint64_t fold) { return fold / n_folds + 1 < k_folds ? R : k_last; };
  const uint64_t folds = k_folds * n_folds;
  uint64_t cycles = k_of(0);
  for (uint64_t t = 0; t < folds; ++t) cycles += std::max(m, t + 1 < folds ? k_of(t + 1) : uint64_t(0));
  return cycles + k_last + n_last - 2;
}

// The last fold's drain, k_T + n_T - 2 cycles: the results leaving the array
// after the command's last input row entered.
inline uint64_t matmul_drain_cycles(uint64_t m, uint64_t k, uint64_t n, const matrix_config& array) {
  if (m == 0 || k == 0 || n == 0) return 0;
  const uint64_t R = uint64_t(array.rows), C = uint64_t(array.cols);
  return (k - (k - 1) / R * R) + (n - (n - 1) / C * C) - 2;
}

// A matmul command that starts on the matrix unit the moment the previous one
// retired (nothing between them on the matrix engine but zero-time
// waits/signals): its first fold's weights (k_1 = min(k, rows)) were shifted in
// behind the previous command's last m_prev input rows (double-buffered, the
// TPU's weight FIFO prefetch, Jouppi et al. ISCA 2017 section 2) and its first
// row entered right behind the previous command's last, so the previous
// command's drain d_prev (matmul_drain_cycles) and min(k_1, m_prev) of its own
// load are hidden:
//   alone - d_prev - min(k_1, m_prev), at least 0 (commands retire in order).
// `alone` is matmul_command_cycles. The prefetch assumes the command's
// operands were ready while the previous one streamed.
inline uint64_t matmul_follow_cycles(uint64_t alone, uint64_t k, uint64_t prev_m, uint64_t prev_drain,
                                     const matrix_config& array) {
  const uint64_t hidden = prev_drain + std::min({k, uint64_t(array.rows), prev_m});
  return alone > hidden ? alone - hidden : 0;
}

// Passes a vector op makes over its data per element (element-wise ops read
// and write once; row-wise ops need extra passes for the reduction):
//   add/mul/scale/copy 1; silu/gelu 2 (exp/tanh on the special-function path,
//   then the multiply); rmsnorm 2 (sum of squares, scale); softmax 3 (max,
//   exp + sum, divide; as in FlashAttention's three passes, Dao et al. 2022);
//   rope 2 (cos/sin products, pairwise add); topk 3 (two selection passes and
//   the normalisation).
enum class vector_kind { elementwise, activation, norm, softmax, rope, topk };
inline uint64_t vector_passes(vector_kind kind) {
  switch (kind) {
    case vector_kind::elementwise:
      return 1;
    case vector_kind::activation:
      return 2;
    case vector_kind::norm:
      return 2;
    case vector_kind::softmax:
      return 3;
    case vector_kind::rope:
      return 2;
    case vector_kind::topk:
      return 3;
  }
  return 1;
}

// The cost class of each vector_op of the command stream.
inline vector_kind vector_kind_of(kernels::vector_op op) {
  switch (op) {
    case kernels::vector_op::add:
    case kernels::vector_op::mul:
    case kernels::vector_op::sub:
    case kernels::vector_op::max:
    case kernels::vector_op::scale:
    case kernels::vector_op::copy:
    case kernels::vector_op::row_max:  // one reading pass, one result per row
    case kernels::vector_op::row_sum:
    case kernels::vector_op::sub_row:
    case kernels::vector_op::mul_row:
    case kernels::vector_op::div_row:
    case kernels::vector_op::causal_mask:
    case kernels::vector_op::to_bf16:
      return vector_kind::elementwise;
    case kernels::vector_op::exp:  // special-function path, like the activations
    case kernels::vector_op::silu:
    case kernels::vector_op::gelu:
      return vector_kind::activation;
    case kernels::vector_op::rmsnorm:
      return vector_kind::norm;
    case kernels::vector_op::softmax:
      return vector_kind::softmax;
    case kernels::vector_op::rope:
      return vector_kind::rope;
    case kernels::vector_op::topk:
      return vector_kind::topk;
  }
  return vector_kind::elementwise;
}

// One vector command over `elements` fp32 values: a fixed start-up cost plus
// the passes streamed through `lanes` lanes.
inline uint64_t vector_cycles(uint64_t elements, vector_kind kind, const vector_config& v) {
  const uint64_t work = elements * vector_passes(kind);
  return static_cast<uint64_t>(v.op_overhead_cycles) + (work + v.lanes - 1) / v.lanes;
}

}  // namespace npuvp::core_timing
