#include "kernels/collectives.h"
#include "kernels/partition/strategies.h"

namespace npuvp::kernels {

void k_split::lower(lowering_context& ctx, const gemm_job& job, const std::vector<int>& group) const {
  const int n = static_cast<int>(group.size());
  const uint32_t M = job.m, K = job.k, N = job.n, eb = static_cast<uint32_t>(dtype_bytes(job.type));
  const auto max_kr = static_cast<uint32_t>(split_range(K, n, 0).second);
  const uint32_t a_cols = ctx.alloc_symmetric(group, uint64_t(M) * max_kr * eb, "A column block");
  const uint32_t b_rows = ctx.alloc_symmetric(group, uint64_t(max_kr) * N * eb, "B row block");
  const uint32_t c_part = ctx.alloc_symmetric(group, uint64_t(M) * N * 4, "C partial sum");
  for (int r = 0; r < n; ++r) {
    const int me = group[r];
    const auto [k0, k1] = split_range(K, n, r);
    const auto kr = static_cast<uint32_t>(k1 - k0);
    load_2d(ctx, me, job.a + k0 * eb, K, a_cols, kr, M, kr, eb);
    load_2d(ctx, me, job.b + k0 * N * eb, N, b_rows, N, kr, N, eb);
    ctx.order(me, engine::dma, engine::matrix);
    local_gemm(ctx, me, a_cols, kr, b_rows, N, c_part, N, M, kr, N, false, job.type);
  }
  const engine done = ring_all_reduce(ctx, group, c_part, uint64_t(M) * N, engine::matrix);
  const auto chunks = even_chunks(uint64_t(M) * N, n);
  for (int r = 0; r < n; ++r) {
    ctx.order(group[r], done, engine::dma);
    const auto& ch = chunks[r];
    store_2d(ctx, group[r], c_part + static_cast<uint32_t>(ch.offset * 4), ch.elems, job.c + ch.offset * 4, ch.elems, 1,
             static_cast<uint32_t>(ch.elems));
  }
}

}  // namespace npuvp::kernels
