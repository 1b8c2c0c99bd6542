#include "kernels/partition/strategies.h"

namespace npuvp::kernels {

void megatron::lower(lowering_context& ctx, const gemm_job& job, const std::vector<int>& group) const {
  const int n = static_cast<int>(group.size());
  const uint32_t M = job.m, K = job.k, N = job.n, eb = static_cast<uint32_t>(dtype_bytes(job.type));
  const auto max_nb = static_cast<uint32_t>(split_range(N, n, 0).second);
  const uint32_t a_all = ctx.alloc_symmetric(group, uint64_t(M) * K * eb, "A (replicated)");
  const uint32_t b_cols = ctx.alloc_symmetric(group, uint64_t(K) * max_nb * eb, "B column block");
  const uint32_t c_cols = ctx.alloc_symmetric(group, uint64_t(M) * max_nb * 4, "C column block");
  for (int r = 0; r < n; ++r) {
    const int me = group[r];
    const auto [n0, n1] = split_range(N, n, r);
    const auto nr = static_cast<uint32_t>(n1 - n0);
    load_2d(ctx, me, job.a, K, a_all, K, M, K, eb);
    load_2d(ctx, me, job.b + n0 * eb, N, b_cols, nr, K, nr, eb);
    ctx.order(me, engine::dma, engine::matrix);
    local_gemm(ctx, me, a_all, K, b_cols, nr, c_cols, nr, M, K, nr, false, job.type);
    ctx.order(me, engine::matrix, engine::dma);
    store_2d(ctx, me, c_cols, nr, job.c + n0 * 4, N, M, nr);
  }
}

}  // namespace npuvp::kernels
