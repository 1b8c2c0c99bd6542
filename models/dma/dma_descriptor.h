// A DMA transfer as plain data (SystemC-free): `rows` rows of `row_bytes`
// bytes, row r read from src + r * src_stride and written to
// dst + r * dst_stride. A 1-D copy is one row. Addresses are those the
// engine's mem_out socket sees (global addresses behind a fabric).
#pragma once

#include <cstdint>

namespace npuvp {

struct dma_descriptor {
  uint64_t src = 0;
  uint64_t dst = 0;
  uint64_t row_bytes = 0;   // bytes per row (element run), > 0
  uint64_t rows = 1;        // > 0
  uint64_t src_stride = 0;  // bytes between row starts in the source (0 re-reads one row)
  uint64_t dst_stride = 0;  // bytes between row starts in the destination

  static dma_descriptor linear(uint64_t src, uint64_t dst, uint64_t bytes) {
    return {src, dst, bytes, 1, bytes, bytes};
  }
  static dma_descriptor strided(uint64_t src, uint64_t dst, uint64_t row_bytes, uint64_t rows, uint64_t src_stride,
                                uint64_t dst_stride) {
    return {src, dst, row_bytes, rows, src_stride, dst_stride};
  }
  uint64_t bytes() const { return row_bytes * rows; }
};

}  // namespace npuvp
