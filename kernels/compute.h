// fp32 arithmetic of the matrix and vector commands, on operands already
// located in memory: the one definition of what a matmul or vector command
// computes, shared by the reference executor and the SystemC NPU core's
// functional mode. No bounds checks here: callers pass spans of at least
// matmul_extent / vector_extent elements.
#pragma once

#include <cstdint>

#include "kernels/command.h"

namespace npuvp::kernels {

// Elements each operand spans (0 when the command reads or writes nothing).
struct matmul_extent {
  uint64_t a = 0, b = 0, c = 0;
};
matmul_extent extent_of(const matmul_cmd& m);
// src0 and dst span rows*cols; src1 spans rows*cols (add, mul), cols (rmsnorm) or 0.
struct vector_extent {
  uint64_t src0 = 0, src1 = 0, dst = 0;
};
vector_extent extent_of(const vector_cmd& v);

// C (+)= A B in fp32 (m->type must be fp32). c must not overlap a or b.
void compute_matmul(const matmul_cmd& m, const float* a, const float* b, float* c);
// dst = op(src0, src1); dst may be src0 (in place). src1 may be null when unused.
void compute_vector(const vector_cmd& v, const float* src0, const float* src1, float* dst);

}  // namespace npuvp::kernels
