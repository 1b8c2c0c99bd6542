// The partition strategies (one .cpp each). Use make_partition() to pick by name.
#pragma once

#include "kernels/partition/partition.h"

namespace npuvp::kernels {

// Rank r holds rows M_r of A and columns N_r of B; the B column blocks rotate
// around the ring (n-1 steps, double-buffered) so each rank computes its full
// row strip C[M_r, :].
class mn_split : public partition_strategy {
 public:
  const char* name() const override { return "mn_split"; }
  void lower(lowering_context& ctx, const gemm_job& job, const std::vector<int>& group) const override;
};

// Rank r holds A[:, K_r] and B[K_r, :], computes a partial C, ring all-reduce;
// rank r stores chunk r of the reduced C.
class k_split : public partition_strategy {
 public:
  const char* name() const override { return "k_split"; }
  void lower(lowering_context& ctx, const gemm_job& job, const std::vector<int>& group) const override;
};

// p x q grid: N split over grid rows, K over grid columns; all-reduce along each
// grid row, then all-gather of the N blocks along each grid column.
class mnk_2d : public partition_strategy {
 public:
  const char* name() const override { return "mnk_2d"; }
  void lower(lowering_context& ctx, const gemm_job& job, const std::vector<int>& group) const override;
};

// Megatron-LM column parallelism (Shoeybi et al. 2019): every rank holds all of
// A and columns N_r of B and writes C[:, N_r]; no communication. The row-parallel
// half (K split + all-reduce) is k_split.
class megatron : public partition_strategy {
 public:
  const char* name() const override { return "megatron"; }
  void lower(lowering_context& ctx, const gemm_job& job, const std::vector<int>& group) const override;
};

}  // namespace npuvp::kernels
