// Arithmetic of the matrix and vector commands on operands already located
// in memory: the one definition of what a matmul or vector command computes,
// shared by the reference executor and the SystemC NPU core's functional
// mode. No bounds checks here: callers pass spans of at least extent_of().
#pragma once

#include <cstdint>

#include "kernels/command.h"

namespace npuvp::kernels {

// Bytes of A (in activation_type(m.type)) and B (in m.type) and fp32 elements of C a matmul touches
// (all 0 when it computes nothing).
struct matmul_extent {
  uint64_t a_bytes = 0, b_bytes = 0, c = 0;
};
matmul_extent extent_of(const matmul_cmd& m);

// What a vector command touches: fp32 elements of src0 (rows*cols) and src1
// (rows*cols for two-operand ops, cols for rmsnorm, rows for the *_row ops,
// else 0); elements and bytes of dst (rows for row_max/row_sum, else
// rows*cols; 2 bytes each for to_bf16, else 4).
struct vector_extent {
  uint64_t src0 = 0, src1 = 0, dst_elements = 0, dst_bytes = 0;
};
vector_extent extent_of(const vector_cmd& v);

// C (+)= A B; A holds activation_type(m.type) and B m.type (fp32, bf16, fp8 E4M3 or
// int8, widened to fp32), little-endian, B transposed when m.transpose_b.
// c must not overlap a or b.
void compute_matmul(const matmul_cmd& m, const uint8_t* a, const uint8_t* b, float* c);
// dst = op(src0, src1) in fp32 (bf16 for to_bf16, little-endian); dst may be
// src0 (in place); src1 may be null when unused.
void compute_vector(const vector_cmd& v, const float* src0, const float* src1, uint8_t* dst);

}  // namespace npuvp::kernels
