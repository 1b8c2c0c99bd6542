// The memory a command touches, and whether it lies within the chip's
// memories: the one list that race detection (reference executor) and the
// range checks of the TLM core, the reference executor and `npuvp perf`'s
// stream loading read.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "kernels/command.h"
#include "kernels/compute.h"

namespace npuvp::kernels {

// A range a command reads or writes: `rows` rows of `row_bytes`, `stride`
// apart, from `addr` in HBM or in the SRAM of `core` (self_core: the core
// running the command). Empty when rows or row_bytes is 0.
struct mem_access {
  mem_space space = mem_space::sram;
  uint16_t core = self_core;
  uint64_t addr = 0;
  uint32_t rows = 0;
  uint64_t row_bytes = 0, stride = 0;
  bool write = false;
};

// Calls f(mem_access) for each range c touches: a dma its source and
// destination, a matmul A, B and C, a vector op src0, src1 and dst (extent_of),
// a send its source and the peer's destination (some possibly empty); recv and
// the sync commands none. Inline: the checks run it for every command.
template <class F>
void for_each_access(const command& c, F&& f) {
  if (auto* d = std::get_if<dma_cmd>(&c)) {
    f(mem_access{d->src_space, d->src_core, d->src, d->rows, d->row_bytes, d->src_stride, false});
    f(mem_access{d->dst_space, d->dst_core, d->dst, d->rows, d->row_bytes, d->dst_stride, true});
  } else if (auto* m = std::get_if<matmul_cmd>(&c)) {
    const uint64_t eb = uint64_t(dtype_bytes(m->type)), ab = uint64_t(dtype_bytes(activation_type(m->type)));
    const uint32_t b_rows = m->transpose_b ? m->n : m->k, b_cols = m->transpose_b ? m->k : m->n;
    f(mem_access{mem_space::sram, self_core, m->a, m->m, m->k * ab, m->lda * ab, false});
    f(mem_access{mem_space::sram, self_core, m->b, b_rows, b_cols * eb, m->ldb * eb, false});
    f(mem_access{mem_space::sram, self_core, m->c, m->m, m->n * 4ull, m->ldc * 4ull, true});
  } else if (auto* v = std::get_if<vector_cmd>(&c)) {
    // fp32 elements; a count no memory holds saturates (and lies beyond every memory).
    auto bytes = [](uint64_t count) { return count > UINT64_MAX / 4 ? UINT64_MAX : count * 4; };
    const vector_extent x = extent_of(*v);
    f(mem_access{mem_space::sram, self_core, v->src0, 1, bytes(x.src0), 0, false});
    f(mem_access{mem_space::sram, self_core, v->src1, 1, bytes(x.src1), 0, false});
    f(mem_access{mem_space::sram, self_core, v->dst, 1, x.dst_bytes, 0, true});
  } else if (auto* s = std::get_if<send_cmd>(&c)) {
    f(mem_access{mem_space::sram, self_core, s->src, 1, s->bytes, 0, false});
    f(mem_access{mem_space::sram, s->peer, s->dst, 1, s->bytes, 0, true});
  }
}

// One past the range's last byte (its last row starts (rows - 1) x stride
// after the first), in 128 bits: no field values wrap around into range.
inline unsigned __int128 end_of(const mem_access& a) {
  return (unsigned __int128)(a.rows - 1) * a.stride + a.addr + a.row_bytes;
}
// The range ends by `capacity` (an empty one anywhere).
inline bool fits(const mem_access& a, uint64_t capacity) {
  return a.rows == 0 || a.row_bytes == 0 || end_of(a) <= capacity;
}

// Every range of c lies within its memory: `sram_bytes` of a core's SRAM,
// `hbm_bytes` of the global HBM space.
inline bool in_memory(const command& c, uint64_t sram_bytes, uint64_t hbm_bytes) {
  bool ok = true;
  for_each_access(c,
                  [&](const mem_access& a) { ok = ok && fits(a, a.space == mem_space::hbm ? hbm_bytes : sram_bytes); });
  return ok;
}

// What lies beyond its memory (in_memory false), e.g. "reads SRAM range
// [33554432, 33556992), beyond its 33554432 bytes": a stream lowered for a
// larger chip, a hand-written address. Empty when all fits.
std::string range_error(const command& c, uint64_t sram_bytes, uint64_t hbm_bytes);
// The same for a program: its first command beyond the memories, as
// "command 7 (<its text>): reads SRAM range ...". Empty when all fit.
std::string range_error(const program& p, uint64_t sram_bytes, uint64_t hbm_bytes);

}  // namespace npuvp::kernels
