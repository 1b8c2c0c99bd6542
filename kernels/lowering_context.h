// Shared state while lowering work onto cores: one program per core of the
// mesh, a bump allocator per core's SRAM (with a report of what does not fit),
// and fresh semaphore ids and send/recv tags.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kernels/command.h"
#include "platform/config/hw_config.h"

namespace npuvp::kernels {

// [begin, end) of part `i` when `total` items are split into `parts` nearly
// equal contiguous parts (the first total % parts parts get one more).
std::pair<uint64_t, uint64_t> split_range(uint64_t total, uint64_t parts, uint64_t i);

class lowering_context {
 public:
  explicit lowering_context(const hw_config& hw);

  const hw_config& hw() const { return m_hw; }
  int cores() const { return static_cast<int>(m_programs.size()); }
  program& at(int core);
  // Appends `c` labelled with the current operator (begin_op).
  void emit(int core, command c) {
    set_op(c, m_op);
    at(core).push_back(std::move(c));
  }

  // Labels every command emitted from now on with operator `name` (e.g.
  // "layer3.q_proj"); the label is the name's index in op_names(), which starts
  // with "" (index 0 = no label). Names are interned: the same name, the same index.
  uint16_t begin_op(const std::string& name);
  const std::vector<std::string>& op_names() const { return m_op_names; }

  // Reserves `bytes` (64-byte aligned) in the SRAM of `core`. Throws npuvp::error
  // listing the core's regions when the total exceeds the capacity, saying by how much.
  uint32_t alloc(int core, uint64_t bytes, const std::string& what);
  // Reserves the same offset on every core in `cores` (for collectives and
  // rotations, whose peers write at the sender's offsets).
  uint32_t alloc_symmetric(const std::vector<int>& cores, uint64_t bytes, const std::string& what);
  uint64_t sram_used(int core) const { return m_sram_top.at(core); }
  // Highest SRAM use of `core` so far (release() lowers sram_used, not this).
  uint64_t sram_peak(int core) const { return m_sram_peak.at(core); }
  // Frees every region of `cores` allocated after mark(), and the semaphore
  // ids and tags handed out since: buffers and ids reused by the next piece of
  // work, which then runs the same commands (a decoder layer after the one
  // before). The caller orders the old uses before the new ones (e.g. a
  // barrier between layers, by which every signal has been waited for and
  // every send received).
  struct work_mark {
    std::vector<int> cores;
    std::vector<uint64_t> top;
    std::vector<size_t> regions;
    uint16_t next_sem = 0;
    uint32_t next_tag = 0;
  };
  work_mark mark(const std::vector<int>& cores) const;
  void release(const work_mark& m);

  // Semaphore ids 0..15 order a core's own engines (see order()); ids from 16 up
  // are handed out here, one per use between cores, the same on every core.
  uint16_t new_semaphore();
  uint32_t new_tag() { return m_next_tag++; }
  // A fresh barrier group id (each use by the same cores is a new generation).
  uint16_t new_barrier_group();

  // Everything issued on `from` so far completes before anything issued on `to`
  // from now on: signal on `from`, wait on `to`, on the engine-pair semaphore.
  void order(int core, engine from, engine to);
  static uint16_t pair_semaphore(engine from, engine to) {
    return static_cast<uint16_t>(static_cast<int>(from) * engine_count + static_cast<int>(to));
  }

  // Appends `end` to every program and hands them over (index = core id).
  std::vector<program> finish();

 private:
  const hw_config& m_hw;
  std::vector<program> m_programs;
  std::vector<uint64_t> m_sram_top;
  std::vector<uint64_t> m_sram_peak;
  std::vector<std::string> m_op_names{""};
  uint16_t m_op = 0;
  std::vector<std::vector<std::pair<std::string, uint64_t>>> m_regions;
  uint16_t m_next_sem = engine_count * engine_count;
  uint32_t m_next_tag = 0;
  uint16_t m_next_barrier = 0;
};

// Emitters shared by the partition strategies and collectives.
// 2-D copy of rows x row_elems between any two spaces of `core` (row strides
// src_ld, dst_ld in elements of elem_bytes); load_2d and store_2d are its HBM->SRAM
// and SRAM->HBM cases.
void copy_2d(lowering_context& ctx, int core, mem_space src_space, uint64_t src, uint64_t src_ld, mem_space dst_space,
             uint64_t dst, uint64_t dst_ld, uint32_t rows, uint32_t row_elems, uint32_t elem_bytes = 4);
// 2-D copy HBM -> SRAM of `core`: rows x row_elems, HBM row stride hbm_ld and
// SRAM row stride sram_ld (elements of elem_bytes).
void load_2d(lowering_context& ctx, int core, uint64_t hbm, uint64_t hbm_ld, uint32_t sram, uint64_t sram_ld,
             uint32_t rows, uint32_t row_elems, uint32_t elem_bytes = 4);
void store_2d(lowering_context& ctx, int core, uint32_t sram, uint64_t sram_ld, uint64_t hbm, uint64_t hbm_ld,
              uint32_t rows, uint32_t row_elems, uint32_t elem_bytes = 4);
// C[m x n] (+)= A[m x k] B[k x n] on SRAM operands (A of activation_type(type), B of `type`, C fp32), cut
// into matmul commands whose weight tile fits the systolic array
// (k <= matrix.rows, n <= matrix.cols).
void local_gemm(lowering_context& ctx, int core, uint32_t a, uint32_t lda, uint32_t b, uint32_t ldb, uint32_t c,
                uint32_t ldc, uint32_t m, uint32_t k, uint32_t n, bool accumulate, dtype type = dtype::fp32);

// C[m x n] = A[m x k] B[k x n] with A in SRAM and B streamed from HBM (row-major,
// row stride hbm_ld elements, from hbm_b; or, tile_major, stored as its column tiles
// one after another, tile t row-major [k x its tile_n columns] and hbm_ld unused)
// through two SRAM buffers at `bufs` (each k x tile_n of `type`): the DMA loads column
// tile t+1 while the matrix unit multiplies tile t, from tile `first_tile` round to tile
// first_tile - 1 (staggered_first_tile in transformer_layer.h). Starts by waiting for earlier
// matrix work (the buffers may still be in use); the caller orders A's producer
// before the matrix unit. C is complete on the matrix engine.
void streamed_gemm(lowering_context& ctx, int core, uint32_t a, uint32_t lda, uint64_t hbm_b, uint64_t hbm_ld,
                   uint32_t bufs, uint32_t tile_n, uint32_t c, uint32_t ldc, uint32_t m, uint32_t k, uint32_t n,
                   dtype type = dtype::fp32, bool tile_major = false, uint32_t first_tile = 0);

}  // namespace npuvp::kernels
