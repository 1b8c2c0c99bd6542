#include "kernels/collectives.h"
#include "kernels/partition/strategies.h"

namespace npuvp::kernels {

std::vector<chunk> mnk_blocks(uint32_t m, uint32_t n, int p) {
  std::vector<chunk> blocks;
  uint64_t offset = 0;
  for (int i = 0; i < p; ++i) {
    const auto [b, e] = split_range(n, p, i);
    blocks.push_back({offset, uint64_t(m) * (e - b)});
    offset += uint64_t(m) * (e - b);
  }
  return blocks;
}

engine mnk_2d_combine(lowering_context& ctx, const std::vector<int>& group, int p, int q, uint32_t c,
                      const std::vector<chunk>& blocks, engine ready) {
  engine row_done = ready;
  for (int i = 0; i < p; ++i) {
    std::vector<int> ring;
    for (int j = 0; j < q; ++j) ring.push_back(group[i * q + j]);
    row_done = ring_all_reduce(ctx, ring, c + static_cast<uint32_t>(blocks[i].offset * 4), blocks[i].elems, ready);
  }
  engine col_done = row_done;
  for (int j = 0; j < q; ++j) {
    std::vector<int> ring;
    for (int i = 0; i < p; ++i) ring.push_back(group[i * q + j]);
    col_done = ring_all_gather(ctx, ring, c, blocks, 0, row_done);
  }
  return col_done;
}

void mnk_2d::lower(lowering_context& ctx, const gemm_job& job, const std::vector<int>& group) const {
  const int n = static_cast<int>(group.size());
  const auto [p, q] = grid_shape(n);  // rank = i * q + j: grid row i, grid column j
  const uint32_t M = job.m, K = job.k, N = job.n, eb = static_cast<uint32_t>(dtype_bytes(job.type));
  // Grid row i owns column block N_i of C; grid column j owns K_j.
  const std::vector<chunk> blocks = mnk_blocks(M, N, p);  // C is kept block-major in SRAM: [block i][M x N_i]
  const auto max_kj = static_cast<uint32_t>(split_range(K, q, 0).second);
  const auto max_nb = static_cast<uint32_t>(split_range(N, p, 0).second);
  const uint32_t a_cols = ctx.alloc_symmetric(group, uint64_t(M) * max_kj * eb, "A column block");
  const uint32_t b_tile = ctx.alloc_symmetric(group, uint64_t(max_kj) * max_nb * eb, "B tile");
  const uint32_t c_full = ctx.alloc_symmetric(group, uint64_t(M) * N * 4, "C, block-major");
  auto width = [&](int i) {
    const auto [b, e] = split_range(N, p, i);
    return static_cast<uint32_t>(e - b);
  };
  for (int i = 0; i < p; ++i)
    for (int j = 0; j < q; ++j) {
      const int me = group[i * q + j];
      const auto [k0, k1] = split_range(K, q, j);
      const auto kj = static_cast<uint32_t>(k1 - k0);
      const uint64_t n0 = split_range(N, p, i).first;
      load_2d(ctx, me, job.a + k0 * eb, K, a_cols, kj, M, kj, eb);
      load_2d(ctx, me, job.b + (k0 * N + n0) * eb, N, b_tile, width(i), kj, width(i), eb);
      ctx.order(me, engine::dma, engine::matrix);
      local_gemm(ctx, me, a_cols, kj, b_tile, width(i), c_full + static_cast<uint32_t>(blocks[i].offset * 4), width(i),
                 M, kj, width(i), false, job.type);
    }
  const engine col_done = mnk_2d_combine(ctx, group, p, q, c_full, blocks, engine::matrix);
  // Every rank now holds all of C; rank r stores rows M_r of every block.
  for (int r = 0; r < n; ++r) {
    const int me = group[r];
    ctx.order(me, col_done, engine::dma);
    const auto [r0, r1] = split_range(M, n, r);
    for (int i = 0; i < p; ++i) {
      const uint64_t n0 = split_range(N, p, i).first;
      store_2d(ctx, me, c_full + static_cast<uint32_t>((blocks[i].offset + r0 * width(i)) * 4), width(i),
               job.c + (r0 * N + n0) * 4, N, static_cast<uint32_t>(r1 - r0), width(i));
    }
  }
}

}  // namespace npuvp::kernels
