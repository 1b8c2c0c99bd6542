// Arithmetic of the matrix and vector commands on operands already located
// in memory: the one definition of what a matmul or vector command computes,
// shared by the reference executor and the SystemC NPU core's functional
// mode. No bounds checks here: callers pass spans of at least extent_of().
#pragma once

#include <cstdint>

#include "kernels/command.h"

namespace npuvp::kernels {

// Bytes of A and B (in m.type) and fp32 elements of C a matmul touches
// (all 0 when it computes nothing).
struct matmul_extent {
  uint64_t a_bytes = 0, b_bytes = 0, c = 0;
};
matmul_extent extent_of(const matmul_cmd& m);

// fp32 elements each vector operand spans: src0 rows*cols; dst rows*cols (or
// rows for row_max/row_sum); src1 rows*cols (two-operand ops), cols
// (rmsnorm), rows (*_row ops) or 0.
struct vector_extent {
  uint64_t src0 = 0, src1 = 0, dst = 0;
};
vector_extent extent_of(const vector_cmd& v);

// C (+)= A B; A and B hold fp32 or bf16 (widened to fp32), little-endian,
// B transposed when m.transpose_b. Throws npuvp::error for other types.
// c must not overlap a or b.
void compute_matmul(const matmul_cmd& m, const uint8_t* a, const uint8_t* b, float* c);
// dst = op(src0, src1) in fp32; dst may be src0 (in place); src1 may be null when unused.
void compute_vector(const vector_cmd& v, const float* src0, const float* src1, float* dst);

}  // namespace npuvp::kernels
