// The per-core command stream: the contract between software (kernels/) and
// hardware (the SystemC NPU core, the analytical perfmodel). Each command names
// the engine that runs it; engines run their commands in program order and run
// concurrently with each other, ordered only by semaphores (docs/command_stream.md).
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

namespace npuvp::kernels {

// The unit of a core that executes a command. `sync` is the dispatcher itself:
// a command on it blocks the dispatch of every later command of the core.
enum class engine : uint8_t { dma = 0, matrix = 1, vector = 2, sync = 3 };
constexpr int engine_count = 4;

// Marks "this core" in a core-id field.
constexpr uint16_t self_core = 0xFFFF;

enum class mem_space : uint8_t { hbm = 0, sram = 1 };

enum class dtype : uint8_t { fp32 = 0, bf16 = 1, fp8 = 2, int8 = 3 };

// 2-D strided copy: `rows` rows of `row_bytes`, row i read at src + i*src_stride
// and written at dst + i*dst_stride. A 1-D copy is rows = 1. HBM addresses are
// offsets in the chip's global HBM space (memory_map.hbm_base + address); SRAM
// addresses are byte offsets in the scratchpad of `src_core`/`dst_core`
// (self_core = this core; another id = remote SRAM, reached over the NoC).
struct dma_cmd {
  engine unit = engine::dma;
  mem_space src_space = mem_space::hbm;
  mem_space dst_space = mem_space::sram;
  uint16_t src_core = self_core;
  uint16_t dst_core = self_core;
  uint64_t src = 0;
  uint64_t dst = 0;
  uint32_t row_bytes = 0;
  uint32_t rows = 1;
  uint64_t src_stride = 0;
  uint64_t dst_stride = 0;
  uint16_t op_id = 0;  // operator label (index into the lowering's op name table; 0 = none)
};

// C[m x n] (+)= A[m x k] * B[k x n] on SRAM operands, row-major with leading
// dimensions lda/ldb/ldc in elements. A and B hold `type`; C is always fp32
// (the accumulators). accumulate = false overwrites C. transpose_b: B is held
// as its transpose, [n x k] row-major with leading dimension ldb (>= k).
struct matmul_cmd {
  engine unit = engine::matrix;
  dtype type = dtype::fp32;
  bool accumulate = false;
  bool transpose_b = false;
  uint32_t m = 0, k = 0, n = 0;
  uint32_t a = 0, b = 0, c = 0;
  uint32_t lda = 0, ldb = 0, ldc = 0;
  uint16_t op_id = 0;  // operator label (index into the lowering's op name table; 0 = none)
};

enum class vector_op : uint8_t {
  add = 0,           // dst = src0 + src1                      (rows*cols elements)
  mul = 1,           // dst = src0 * src1
  scale = 2,         // dst = src0 * scalar
  copy = 3,          // dst = src0
  silu = 4,          // dst = x * sigmoid(x)
  gelu = 5,          // dst = GELU(x), tanh approximation
  softmax = 6,       // per row: dst = softmax(scalar * x)
  rmsnorm = 7,       // per row: dst = x / sqrt(mean(x^2) + scalar) * src1[col]
  rope = 8,          // per row (one head vector of `cols`): rotate pairs (i, i+cols/2)
                     // by angle pos * theta^(-2i/cols); pos = param0 + row / param1, theta = scalar
  topk = 9,          // per row: keep the param0 largest (ties: lower index) at their softmax
                     // probability over the whole row (flag normalize: renormalised to sum 1), zeros elsewhere
  sub = 10,          // dst = src0 - src1
  exp = 11,          // dst = exp(x)
  max = 12,          // dst = max(src0, src1)
  row_max = 13,      // dst[row] = max over the row          (dst has `rows` elements)
  row_sum = 14,      // dst[row] = sum over the row
  sub_row = 15,      // dst[row][col] = src0[row][col] - src1[row]
  mul_row = 16,      // dst[row][col] = src0[row][col] * src1[row]
  div_row = 17,      // dst[row][col] = src0[row][col] / src1[row]
  causal_mask = 18,  // dst = src0, or -inf where col + param0 > row + param1 (key after query)
  to_bf16 = 19,      // dst (bf16, 2 bytes per element) = src0 rounded to nearest even: a matmul operand
};

// Element-wise or row-wise fp32 operation on SRAM data, rows x cols elements,
// contiguous rows (stride = cols). src1 is used by the two-operand ops, rmsnorm
// (weights, cols elements) and the *_row ops (one value per row).
struct vector_cmd {
  engine unit = engine::vector;
  vector_op op = vector_op::copy;
  bool normalize = false;
  uint32_t rows = 1, cols = 0;
  uint32_t src0 = 0, src1 = 0, dst = 0;
  float scalar = 0.0f;
  uint32_t param0 = 0, param1 = 0;
  uint16_t op_id = 0;  // operator label (index into the lowering's op name table; 0 = none)
};

// Writes `bytes` from this core's SRAM at `src` into core `peer`'s SRAM at
// `dst`, then marks the transfer arrived on channel (this core -> peer, tag).
struct send_cmd {
  engine unit = engine::dma;
  uint16_t peer = 0;
  uint32_t src = 0, dst = 0, bytes = 0;
  uint32_t tag = 0;
  uint16_t op_id = 0;  // operator label (index into the lowering's op name table; 0 = none)
};

// Blocks its engine until the next transfer on channel (peer -> this core, tag)
// has arrived; its dst and bytes must match those of the send.
struct recv_cmd {
  engine unit = engine::dma;
  uint16_t peer = 0;
  uint32_t dst = 0, bytes = 0;
  uint32_t tag = 0;
  uint16_t op_id = 0;  // operator label (index into the lowering's op name table; 0 = none)
};

// Blocks its engine until counting semaphore `sem` of this core is >= count,
// then subtracts count.
struct wait_cmd {
  engine unit = engine::sync;
  uint16_t sem = 0;
  uint32_t count = 1;
  uint16_t op_id = 0;  // operator label (index into the lowering's op name table; 0 = none)
};

// Adds count to semaphore `sem` of `core` (self_core = this core) once every
// earlier command of its engine has completed.
struct signal_cmd {
  engine unit = engine::sync;
  uint16_t sem = 0;
  uint16_t core = self_core;
  uint32_t count = 1;
  uint16_t op_id = 0;  // operator label (index into the lowering's op name table; 0 = none)
};

// Waits until every engine of this core is idle, then until `participants`
// cores have reached a barrier with the same group id (each use of a group id is
// a new generation).
struct barrier_cmd {
  engine unit = engine::sync;
  uint16_t group = 0;
  uint32_t participants = 0;
  uint16_t op_id = 0;  // operator label (index into the lowering's op name table; 0 = none)
};

// End of the program: the core is done when its engines drain.
struct end_cmd {
  engine unit = engine::sync;
  uint16_t op_id = 0;  // operator label (index into the lowering's op name table; 0 = none)
};

using command =
    std::variant<dma_cmd, matmul_cmd, vector_cmd, send_cmd, recv_cmd, wait_cmd, signal_cmd, barrier_cmd, end_cmd>;
using program = std::vector<command>;

// The operator label of a command (set by lowering_context::begin_op).
uint16_t op_of(const command& c);
void set_op(command& c, uint16_t op);

engine engine_of(const command& c);
const char* engine_name(engine e);
const char* vector_op_name(vector_op op);
const char* dtype_name(dtype t);
// Bytes per element of A/B operands.
int dtype_bytes(dtype t);
// Element type of a matmul's A operand (the activations): its type, except bf16 for
// fp8/int8 matmuls, which are weight-only quantised (W8A16: A bf16, B 8-bit, both
// widened to fp32 in the array). docs/command_stream.md.
dtype activation_type(dtype t);
// bfloat16 <-> fp32 (round to nearest even; bf16 is the top half of an fp32).
uint16_t to_bf16(float f);
float from_bf16(uint16_t b);
// fp8 E4M3 (OCP 8-bit floating point, "FN": bias 7, subnormals, no infinities, 0x7F NaN,
// max 448) <-> fp32: round to nearest even, saturating to +-448. Per-tensor scale 1.
uint8_t to_fp8(float f);
float from_fp8(uint8_t b);
// int8 weights: value = q / 128 (symmetric, a per-tensor scale of 2^-7 fixed for every
// tensor: range [-1, 127/128]); round to nearest even, saturating.
uint8_t to_int8(float f);
float from_int8(uint8_t b);
// The value f holds once stored as t (fp32: f itself).
float stored_value(float f, dtype t);
// Values as stored in memory with element type t (little-endian).
std::vector<uint8_t> encode_floats(const std::vector<float>& values, dtype t);

// Checks that the command names an engine that can run it (dma/send/recv: dma;
// matmul: matrix; vector ops: vector; barrier/end: sync; wait/signal: any) and
// that its shape fields are consistent. Throws npuvp::error naming `where`.
void check_command(const command& c, const std::string& where);

// One line of text per command, stable (tests compare it verbatim).
std::string to_text(const command& c);
std::string to_text(const program& p);

// Field by field (inline: the perfmodel's repeat test compares every command of a step).
inline bool operator==(const dma_cmd& a, const dma_cmd& b) {
  return std::tie(a.op_id, a.unit, a.src_space, a.dst_space, a.src_core, a.dst_core, a.src, a.dst, a.row_bytes, a.rows,
                  a.src_stride, a.dst_stride) == std::tie(b.op_id, b.unit, b.src_space, b.dst_space, b.src_core,
                                                          b.dst_core, b.src, b.dst, b.row_bytes, b.rows, b.src_stride,
                                                          b.dst_stride);
}
inline bool operator==(const matmul_cmd& a, const matmul_cmd& b) {
  return std::tie(a.op_id, a.unit, a.type, a.accumulate, a.transpose_b, a.m, a.k, a.n, a.a, a.b, a.c, a.lda, a.ldb,
                  a.ldc) == std::tie(b.op_id, b.unit, b.type, b.accumulate, b.transpose_b, b.m, b.k, b.n, b.a, b.b, b.c,
                                     b.lda, b.ldb, b.ldc);
}
inline bool operator==(const vector_cmd& a, const vector_cmd& b) {
  return std::tie(a.op_id, a.unit, a.op, a.normalize, a.rows, a.cols, a.src0, a.src1, a.dst, a.scalar, a.param0,
                  a.param1) == std::tie(b.op_id, b.unit, b.op, b.normalize, b.rows, b.cols, b.src0, b.src1, b.dst,
                                        b.scalar, b.param0, b.param1);
}
inline bool operator==(const send_cmd& a, const send_cmd& b) {
  return std::tie(a.op_id, a.unit, a.peer, a.src, a.dst, a.bytes, a.tag) ==
         std::tie(b.op_id, b.unit, b.peer, b.src, b.dst, b.bytes, b.tag);
}
inline bool operator==(const recv_cmd& a, const recv_cmd& b) {
  return std::tie(a.op_id, a.unit, a.peer, a.dst, a.bytes, a.tag) ==
         std::tie(b.op_id, b.unit, b.peer, b.dst, b.bytes, b.tag);
}
inline bool operator==(const wait_cmd& a, const wait_cmd& b) {
  return std::tie(a.op_id, a.unit, a.sem, a.count) == std::tie(b.op_id, b.unit, b.sem, b.count);
}
inline bool operator==(const signal_cmd& a, const signal_cmd& b) {
  return std::tie(a.op_id, a.unit, a.sem, a.core, a.count) == std::tie(b.op_id, b.unit, b.sem, b.core, b.count);
}
inline bool operator==(const barrier_cmd& a, const barrier_cmd& b) {
  return std::tie(a.op_id, a.unit, a.group, a.participants) == std::tie(b.op_id, b.unit, b.group, b.participants);
}
inline bool operator==(const end_cmd& a, const end_cmd& b) { return a.unit == b.unit && a.op_id == b.op_id; }

}  // namespace npuvp::kernels
