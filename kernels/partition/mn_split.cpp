#include "kernels/partition/strategies.h"

namespace npuvp::kernels {

void mn_split_rotate(lowering_context& ctx, const std::vector<int>& group, const mn_operands& op) {
  const int n = static_cast<int>(group.size());
  const uint32_t K = op.k, N = op.n, eb = static_cast<uint32_t>(dtype_bytes(op.type));
  auto size = [](uint64_t total, int parts, int i) {
    const auto [b, e] = split_range(total, parts, i);
    return static_cast<uint32_t>(e - b);
  };
  const uint64_t block_bytes = uint64_t(K) * size(N, n, 0) * eb;
  const uint16_t credit = ctx.new_semaphore();
  const uint32_t tag = ctx.new_tag();
  // The block multiplied (and sent on) at step s: the rank's own block (resident, or loaded into
  // the first buffer), then the received ones, alternating between the two buffers.
  auto buf = [&](int s) {
    return s == 0 && op.b_at == mn_operands::place::sram ? static_cast<uint32_t>(op.b)
                                   : op.b_blocks + static_cast<uint32_t>((s % 2) * block_bytes);
  };
  auto wrap = [n](int i) { return ((i % n) + n) % n; };
  const uint16_t dma_to_matrix = lowering_context::pair_semaphore(engine::dma, engine::matrix);
  const uint16_t matrix_to_dma = lowering_context::pair_semaphore(engine::matrix, engine::dma);

  for (int r = 0; r < n; ++r) {
    const int me = group[r];
    const auto next = static_cast<uint16_t>(group[wrap(r + 1)]), prev = static_cast<uint16_t>(group[wrap(r - 1)]);
    const auto mr = size(op.m, n, r);
    const uint64_t m0 = split_range(op.m, n, r).first;
    const auto a = static_cast<uint32_t>(op.a + (op.a_whole ? m0 * op.lda * dtype_bytes(activation_type(op.type)) : 0));
    const auto c = static_cast<uint32_t>(op.c + (op.c_whole ? m0 * op.ldc * 4 : 0));
    const uint64_t n0_own = split_range(N, n, r).first;
    if (op.b_at == mn_operands::place::hbm_matrix)
      load_2d(ctx, me, op.b + n0_own * eb, N, buf(0), size(N, n, r), K, size(N, n, r), eb);
    else if (op.b_at == mn_operands::place::hbm_blocks)
      load_2d(ctx, me, op.b + n0_own * K * eb, size(N, n, r), buf(0), size(N, n, r), K, size(N, n, r), eb);
    if (op.b_at != mn_operands::place::sram) ctx.order(me, engine::dma, engine::matrix);
    for (int s = 0; s < n; ++s) {
      // Step s: this rank holds block (r - s) of B's columns in buf(s).
      const int j = wrap(r - s);
      const uint32_t nj = size(N, n, j);
      const auto nj0 = static_cast<uint32_t>(split_range(N, n, j).first);
      if (s >= 1) ctx.emit(me, wait_cmd{engine::matrix, dma_to_matrix, 1});
      local_gemm(ctx, me, a, op.lda, buf(s), nj, c + nj0 * 4, op.ldc, mr, K, nj, false, op.type);
      if (s <= n - 3) ctx.emit(me, signal_cmd{engine::matrix, matrix_to_dma, self_core, 1});
      if (s > n - 2) continue;
      // Pass the block on and receive the next one into the other buffer; the
      // next rank's other buffer is free once it finished step s-1 (credit).
      if (s >= 1) ctx.emit(me, wait_cmd{engine::dma, credit, 1});
      ctx.emit(me, send_cmd{engine::dma, next, buf(s), buf(s + 1), K * nj * eb, tag});
      ctx.emit(me, recv_cmd{engine::dma, prev, buf(s + 1), K * size(N, n, wrap(r - s - 1)) * eb, tag});
      ctx.emit(me, signal_cmd{engine::dma, dma_to_matrix, self_core, 1});
      if (s <= n - 3) {
        ctx.emit(me, wait_cmd{engine::dma, matrix_to_dma, 1});
        ctx.emit(me, signal_cmd{engine::dma, credit, prev, 1});
      }
    }
  }
}

void mn_split::lower(lowering_context& ctx, const gemm_job& job, const std::vector<int>& group) const {
  const int n = static_cast<int>(group.size());
  const uint32_t K = job.k, N = job.n, eb = static_cast<uint32_t>(dtype_bytes(job.type));
  const auto max_mr = static_cast<uint32_t>(split_range(job.m, n, 0).second);
  const uint32_t a_strip = ctx.alloc_symmetric(group, uint64_t(max_mr) * K * eb, "A row strip");
  const uint64_t block_bytes = uint64_t(K) * split_range(N, n, 0).second * eb;
  const uint32_t b_blocks = ctx.alloc_symmetric(group, 2 * block_bytes, "B column blocks (2 buffers)");
  const uint32_t c_strip = ctx.alloc_symmetric(group, uint64_t(max_mr) * N * 4, "C row strip");
  for (int r = 0; r < n; ++r) {
    const auto [m0, m1] = split_range(job.m, n, r);
    load_2d(ctx, group[r], job.a + m0 * K * eb, K, a_strip, K, static_cast<uint32_t>(m1 - m0), K, eb);
  }
  mn_split_rotate(ctx, group,
                  {job.m, K, N, a_strip, K, job.b, mn_operands::place::hbm_matrix, b_blocks, c_strip, N, job.type});
  for (int r = 0; r < n; ++r) {
    const auto [m0, m1] = split_range(job.m, n, r);
    ctx.order(group[r], engine::matrix, engine::dma);
    store_2d(ctx, group[r], c_strip, N, job.c + m0 * N * 4, N, static_cast<uint32_t>(m1 - m0), N);
  }
}

}  // namespace npuvp::kernels
