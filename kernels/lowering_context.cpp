#include "kernels/lowering_context.h"

#include <algorithm>

#include "platform/base/error.h"

namespace npuvp::kernels {

std::pair<uint64_t, uint64_t> split_range(uint64_t total, uint64_t parts, uint64_t i) {
  const uint64_t base = total / parts, extra = total % parts;
  const uint64_t begin = i * base + std::min(i, extra);
  return {begin, begin + base + (i < extra ? 1 : 0)};
}

lowering_context::lowering_context(const hw_config& hw)
    : m_hw(hw),
      m_programs(static_cast<size_t>(hw.mesh.width * hw.mesh.height)),
      m_sram_top(m_programs.size(), 0),
      m_sram_peak(m_programs.size(), 0),
      m_regions(m_programs.size()) {}

program& lowering_context::at(int core) {
  if (core < 0 || core >= cores()) throw error("lowering: no core " + std::to_string(core));
  return m_programs[core];
}

static std::string kib(uint64_t bytes) {
  return std::to_string(bytes / 1024) + "." + std::to_string(bytes % 1024 * 10 / 1024) + " KiB";
}

uint32_t lowering_context::alloc(int core, uint64_t bytes, const std::string& what) {
  at(core);
  const uint64_t start = (m_sram_top[core] + 63) / 64 * 64;
  const uint64_t capacity = m_hw.core.sram.capacity_bytes();
  m_regions[core].emplace_back(what, bytes);
  if (start + bytes > capacity) {
    std::string msg = "core " + std::to_string(core) + " (x=" + std::to_string(core % m_hw.mesh.width) +
                      ", y=" + std::to_string(core / m_hw.mesh.width) + "): SRAM does not fit: needs " +
                      kib(start + bytes) + " but core.sram.capacity_kib is " + kib(capacity) + ", over by " +
                      kib(start + bytes - capacity) + "; regions:";
    for (const auto& [name, size] : m_regions[core]) msg += " " + name + " " + kib(size) + ";";
    throw error(msg);
  }
  m_sram_top[core] = start + bytes;
  m_sram_peak[core] = std::max(m_sram_peak[core], m_sram_top[core]);
  return static_cast<uint32_t>(start);
}

lowering_context::work_mark lowering_context::mark(const std::vector<int>& cores) const {
  work_mark m{cores, {}, {}, m_next_sem, m_next_tag};
  for (int c : cores) {
    m.top.push_back(m_sram_top.at(c));
    m.regions.push_back(m_regions.at(c).size());
  }
  return m;
}

void lowering_context::release(const work_mark& m) {
  for (size_t i = 0; i < m.cores.size(); ++i) {
    m_sram_top.at(m.cores[i]) = m.top[i];
    m_regions.at(m.cores[i]).resize(m.regions[i]);
  }
  m_next_sem = m.next_sem;
  m_next_tag = m.next_tag;
}

uint16_t lowering_context::begin_op(const std::string& name) {
  for (size_t i = 0; i < m_op_names.size(); ++i)
    if (m_op_names[i] == name) return m_op = static_cast<uint16_t>(i);
  if (m_op_names.size() > 0xFFFF) throw error("lowering: more than 65535 operator names");
  m_op_names.push_back(name);
  return m_op = static_cast<uint16_t>(m_op_names.size() - 1);
}

uint32_t lowering_context::alloc_symmetric(const std::vector<int>& cores, uint64_t bytes, const std::string& what) {
  uint64_t top = 0;
  for (int c : cores) top = std::max(top, (m_sram_top.at(c) + 63) / 64 * 64);
  uint32_t offset = 0;
  for (int c : cores) {
    m_sram_top[c] = top;
    offset = alloc(c, bytes, what);
  }
  return offset;
}

uint16_t lowering_context::new_semaphore() {
  if (m_next_sem == self_core) throw error("lowering: out of semaphore ids");
  return m_next_sem++;
}

uint16_t lowering_context::new_barrier_group() {
  if (m_next_barrier == 0xFFFF) throw error("lowering: out of barrier group ids");
  return m_next_barrier++;
}

void lowering_context::order(int core, engine from, engine to) {
  if (from == to) return;
  const uint16_t sem = pair_semaphore(from, to);
  emit(core, signal_cmd{from, sem, self_core, 1});
  emit(core, wait_cmd{to, sem, 1});
}

std::vector<program> lowering_context::finish() {
  for (auto& p : m_programs) p.push_back(end_cmd{});
  return std::move(m_programs);
}

void copy_2d(lowering_context& ctx, int core, mem_space src_space, uint64_t src, uint64_t src_ld, mem_space dst_space,
             uint64_t dst, uint64_t dst_ld, uint32_t rows, uint32_t row_elems, uint32_t elem_bytes) {
  if (rows == 0 || row_elems == 0) return;
  dma_cmd d;
  d.src_space = src_space;
  d.dst_space = dst_space;
  d.src = src;
  d.dst = dst;
  d.row_bytes = row_elems * elem_bytes;
  d.rows = rows;
  d.src_stride = src_ld * elem_bytes;
  d.dst_stride = dst_ld * elem_bytes;
  ctx.emit(core, d);
}

void load_2d(lowering_context& ctx, int core, uint64_t hbm, uint64_t hbm_ld, uint32_t sram, uint64_t sram_ld,
             uint32_t rows, uint32_t row_elems, uint32_t elem_bytes) {
  copy_2d(ctx, core, mem_space::hbm, hbm, hbm_ld, mem_space::sram, sram, sram_ld, rows, row_elems, elem_bytes);
}

void store_2d(lowering_context& ctx, int core, uint32_t sram, uint64_t sram_ld, uint64_t hbm, uint64_t hbm_ld,
              uint32_t rows, uint32_t row_elems, uint32_t elem_bytes) {
  copy_2d(ctx, core, mem_space::sram, sram, sram_ld, mem_space::hbm, hbm, hbm_ld, rows, row_elems, elem_bytes);
}

void local_gemm(lowering_context& ctx, int core, uint32_t a, uint32_t lda, uint32_t b, uint32_t ldb, uint32_t c,
                uint32_t ldc, uint32_t m, uint32_t k, uint32_t n, bool accumulate, dtype type) {
  const auto eb = static_cast<uint32_t>(dtype_bytes(type));
  const auto ab = static_cast<uint32_t>(dtype_bytes(activation_type(type)));  // A: the activations
  const uint32_t tile_k = static_cast<uint32_t>(ctx.hw().core.matrix.rows);
  const uint32_t tile_n = static_cast<uint32_t>(ctx.hw().core.matrix.cols);
  if (m == 0 || n == 0) return;
  for (uint32_t n0 = 0; n0 < n; n0 += tile_n) {
    const uint32_t nt = std::min(tile_n, n - n0);
    // k = 0 still clears C (unless accumulating): one empty-k matmul.
    uint32_t k0 = 0;
    do {
      const uint32_t kt = std::min(tile_k, k - k0);
      matmul_cmd mm;
      mm.m = m;
      mm.k = kt;
      mm.n = nt;
      mm.type = type;
      mm.a = a + k0 * ab;
      mm.b = b + (k0 * ldb + n0) * eb;
      mm.c = c + n0 * 4;
      mm.lda = lda;
      mm.ldb = ldb;
      mm.ldc = ldc;
      mm.accumulate = accumulate || k0 > 0;
      ctx.emit(core, mm);
      k0 += kt;
    } while (k0 < k);
  }
}

void streamed_gemm(lowering_context& ctx, int core, uint32_t a, uint32_t lda, uint64_t hbm_b, uint64_t hbm_ld,
                   uint32_t bufs, uint32_t tile_n, uint32_t c, uint32_t ldc, uint32_t m, uint32_t k, uint32_t n,
                   dtype type, bool tile_major, uint32_t first_tile) {
  if (n == 0) return;
  const auto eb = static_cast<uint32_t>(dtype_bytes(type));
  const uint32_t tiles = (n + tile_n - 1) / tile_n;
  auto buf = [&](uint32_t t) { return bufs + (t % 2) * k * tile_n * eb; };
  const uint16_t loaded = lowering_context::pair_semaphore(engine::dma, engine::matrix);
  const uint16_t consumed = lowering_context::pair_semaphore(engine::matrix, engine::dma);
  ctx.order(core, engine::matrix, engine::dma);
  for (uint32_t t = 0; t < tiles; ++t) {
    const uint32_t n0 = (t + first_tile) % tiles * tile_n, nt = std::min(tile_n, n - n0);
    // Tile t reuses the buffer of tile t-2: wait until the matrix unit is done with it.
    if (t >= 2) ctx.emit(core, wait_cmd{engine::dma, consumed, 1});
    if (tile_major)
      load_2d(ctx, core, hbm_b + uint64_t(n0) * k * eb, nt, buf(t), nt, k, nt, eb);
    else
      load_2d(ctx, core, hbm_b + uint64_t(n0) * eb, hbm_ld, buf(t), nt, k, nt, eb);
    ctx.emit(core, signal_cmd{engine::dma, loaded, self_core, 1});
    ctx.emit(core, wait_cmd{engine::matrix, loaded, 1});
    local_gemm(ctx, core, a, lda, buf(t), nt, c + n0 * 4, ldc, m, k, nt, false, type);
    if (t + 2 < tiles) ctx.emit(core, signal_cmd{engine::matrix, consumed, self_core, 1});
  }
}

}  // namespace npuvp::kernels
