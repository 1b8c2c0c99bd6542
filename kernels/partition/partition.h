// Partition strategies for one GEMM C[M x N] = A[M x K] B[K x N] (fp32,
// row-major, in HBM) over a tensor-parallel group of cores. docs/lowering.md
// describes each strategy's data layout and communication.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/collectives.h"
#include "kernels/lowering_context.h"
#include "kernels/placement/placement.h"

namespace npuvp::kernels {

struct gemm_job {
  uint32_t m = 0, k = 0, n = 0;
  uint64_t a = 0, b = 0, c = 0;  // HBM addresses of the row-major matrices
  dtype type = dtype::fp32;      // of A and B; C is fp32 (the accumulators)
};

class partition_strategy {
 public:
  virtual ~partition_strategy() = default;
  virtual const char* name() const = 0;
  // Appends the GEMM's commands to the programs of `group` (physical core ids in
  // rank order). Throws npuvp::error when the operands do not fit SRAM.
  virtual void lower(lowering_context& ctx, const gemm_job& job, const std::vector<int>& group) const = 0;
};

// mn_split, k_split, mnk_2d, megatron.
std::unique_ptr<partition_strategy> make_partition(const std::string& name);
const std::vector<std::string>& partition_names();

// Throws npuvp::error for a GEMM with a zero dimension (nothing to compute).
void check_gemm_job(const gemm_job& job);

// Lowers jobs[g] onto the cores of map[g] for every group (ctx.finish() then
// gives one program per core of the mesh; idle cores get just `end`); checks
// every job first (check_gemm_job).
void lower_gemm(lowering_context& ctx, const partition_strategy& strategy, const group_map& map,
                const std::vector<gemm_job>& jobs);

// The core of mn_split, for operands already in SRAM: rank r holds rows M_r of A
// (at `a`, row stride lda, of `type`), loads column block r of B into one of the
// two buffers at b_blocks (each k x ceil(n/ranks) of `type`) and passes the blocks
// around the ring, so it computes its whole row strip C[M_r, :] (fp32 at `c`, row
// stride ldc). Where B is (`b_at`): hbm_matrix: row-major [k x n] in HBM at `b`;
// hbm_blocks: at `b` in HBM as the column blocks one after another, each row-major
// [k x n_r] (one contiguous load); sram: `b` is the SRAM offset of the rank's own
// block (row-major [k x n_r], kept there), multiplied and sent on from there. Every
// rank uses the same SRAM offsets. The caller orders A's producer before the
// matrix engine and the buffers' earlier users (on every rank) before this; C is
// complete on the matrix engine.
// With a_whole (c_whole), `a` (`c`) is the whole matrix on every rank and rank r
// uses its rows M_r there; else it is the rank's strip.
struct mn_operands {
  uint32_t m = 0, k = 0, n = 0;
  uint32_t a = 0, lda = 0;
  uint64_t b = 0;
  enum class place : uint8_t { hbm_matrix, hbm_blocks, sram } b_at = place::hbm_matrix;
  uint32_t b_blocks = 0;
  uint32_t c = 0, ldc = 0;
  dtype type = dtype::fp32;
  bool a_whole = false, c_whole = false;
};
void mn_split_rotate(lowering_context& ctx, const std::vector<int>& group, const mn_operands& op);

// mnk_2d's C layout and communication, for C already in SRAM: `blocks` = the p
// column blocks N_i of an m x n C, block-major ([block i][m x N_i], fp32
// elements); mnk_2d_combine sums each block over its grid row (ring all-reduce
// among group[i*q + j], j = 0..q-1) and gathers the blocks along each grid column,
// so every rank ends with all of C at `c` (the same offset on every rank). `ready`
// is the engine that wrote the partial C; returns the engine on which C is complete.
std::vector<chunk> mnk_blocks(uint32_t m, uint32_t n, int p);
engine mnk_2d_combine(lowering_context& ctx, const std::vector<int>& group, int p, int q, uint32_t c,
                      const std::vector<chunk>& blocks, engine ready);

// `groups` independent fp32 GEMMs m x k x n laid out one after another in HBM
// (A, B, C of group g after those of g - 1, each group 4 KiB aligned).
std::vector<gemm_job> stacked_gemm_jobs(int groups, uint32_t m, uint32_t k, uint32_t n);

// The p x q core grid of mnk_2d for n cores: p * q = n, p <= q, as square as possible.
std::pair<int, int> grid_shape(int n);

}  // namespace npuvp::kernels
