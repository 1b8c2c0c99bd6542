#include "kernels/command.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "platform/base/error.h"

namespace npuvp::kernels {

engine engine_of(const command& c) {
  return std::visit([](const auto& x) { return x.unit; }, c);
}

const char* engine_name(engine e) {
  switch (e) {
    case engine::dma:
      return "dma";
    case engine::matrix:
      return "matrix";
    case engine::vector:
      return "vector";
    case engine::sync:
      return "sync";
  }
  return "?";
}

const char* vector_op_name(vector_op op) {
  switch (op) {
    case vector_op::add:
      return "add";
    case vector_op::mul:
      return "mul";
    case vector_op::scale:
      return "scale";
    case vector_op::copy:
      return "copy";
    case vector_op::silu:
      return "silu";
    case vector_op::gelu:
      return "gelu";
    case vector_op::softmax:
      return "softmax";
    case vector_op::rmsnorm:
      return "rmsnorm";
    case vector_op::rope:
      return "rope";
    case vector_op::topk:
      return "topk";
    case vector_op::sub:
      return "sub";
    case vector_op::exp:
      return "exp";
    case vector_op::max:
      return "max";
    case vector_op::row_max:
      return "row_max";
    case vector_op::row_sum:
      return "row_sum";
    case vector_op::sub_row:
      return "sub_row";
    case vector_op::mul_row:
      return "mul_row";
    case vector_op::div_row:
      return "div_row";
    case vector_op::causal_mask:
      return "causal_mask";
    case vector_op::to_bf16:
      return "to_bf16";
  }
  return "?";
}

const char* dtype_name(dtype t) {
  switch (t) {
    case dtype::fp32:
      return "fp32";
    case dtype::bf16:
      return "bf16";
    case dtype::fp8:
      return "fp8";
    case dtype::int8:
      return "int8";
  }
  return "?";
}

int dtype_bytes(dtype t) {
  switch (t) {
    case dtype::fp32:
      return 4;
    case dtype::bf16:
      return 2;
    case dtype::fp8:
      return 1;
    case dtype::int8:
      return 1;
  }
  return 0;
}

uint16_t to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu)) return uint16_t((bits >> 16) | 0x40);  // NaN
  return uint16_t((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

float from_bf16(uint16_t b) {
  const uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

dtype activation_type(dtype t) { return t == dtype::fp8 || t == dtype::int8 ? dtype::bf16 : t; }

uint8_t to_fp8(float f) {
  if (std::isnan(f)) return 0x7F;
  const uint8_t sign = std::signbit(f) ? 0x80 : 0;
  const float a = std::fabs(f);
  if (a >= 448.0f) return sign | 0x7E;  // saturate to the largest finite value
  // Spacing of the representable values around a: 2^(E-3) in binade [2^E, 2^(E+1)), E >= -6
  // (3 mantissa bits); 2^-9 below 2^-6 (subnormals).
  int e = 0;
  std::frexp(a, &e);  // a = x 2^e, x in [0.5, 1)
  const int quantum = std::max(e - 1, -6) - 3;
  const float v = std::ldexp(std::nearbyint(std::ldexp(a, -quantum)), quantum);  // ties to even
  if (v < std::ldexp(1.0f, -6)) return sign | static_cast<uint8_t>(std::ldexp(v, 9));
  std::frexp(v, &e);
  const auto mantissa = static_cast<uint8_t>(std::ldexp(v, 4 - e) - 8.0f);  // v = (8 + m) 2^(e-4)
  return sign | static_cast<uint8_t>((e - 1 + 7) << 3) | mantissa;
}

float from_fp8(uint8_t b) {
  const int exponent = (b >> 3) & 0xF, mantissa = b & 7;
  float v;
  if (exponent == 0xF && mantissa == 7)
    v = NAN;
  else if (exponent == 0)
    v = std::ldexp(float(mantissa), -9);
  else
    v = std::ldexp(float(8 + mantissa), exponent - 10);
  return b & 0x80 ? -v : v;
}

uint8_t to_int8(float f) {
  if (std::isnan(f)) return 0;
  const float q = std::min(127.0f, std::max(-128.0f, std::nearbyint(f * 128.0f)));
  return static_cast<uint8_t>(static_cast<int8_t>(q));
}

float from_int8(uint8_t b) { return float(static_cast<int8_t>(b)) / 128.0f; }

float stored_value(float f, dtype t) {
  switch (t) {
    case dtype::fp32:
      return f;
    case dtype::bf16:
      return from_bf16(to_bf16(f));
    case dtype::fp8:
      return from_fp8(to_fp8(f));
    case dtype::int8:
      return from_int8(to_int8(f));
  }
  return f;
}

std::vector<uint8_t> encode_floats(const std::vector<float>& values, dtype t) {
  std::vector<uint8_t> out(values.size() * dtype_bytes(t));
  for (size_t e = 0; e < values.size(); ++e) switch (t) {
      case dtype::fp32:
        std::memcpy(&out[4 * e], &values[e], 4);
        break;
      case dtype::bf16: {
        const uint16_t b = to_bf16(values[e]);
        out[2 * e] = uint8_t(b);
        out[2 * e + 1] = uint8_t(b >> 8);
        break;
      }
      case dtype::fp8:
        out[e] = to_fp8(values[e]);
        break;
      case dtype::int8:
        out[e] = to_int8(values[e]);
        break;
    }
  return out;
}

namespace {

// `what` is a C string: a std::string parameter would build one per check of every command.
void require(bool ok, const std::string& where, const char* what) {
  if (!ok) throw error(where + ": " + what);
}

void check_engine(engine actual, engine expected, const char* op, const std::string& where) {
  if (actual != expected)  // the message is built only on failure (this runs for every command)
    require(
        false, where,
        (std::string(op) + " runs on the " + engine_name(expected) + " engine, not " + engine_name(actual)).c_str());
}

}  // namespace

void check_command(const command& c, const std::string& where) {
  require(static_cast<int>(engine_of(c)) < engine_count, where, "engine field out of range");
  if (auto* d = std::get_if<dma_cmd>(&c)) {
    check_engine(d->unit, engine::dma, "dma", where);
    require(d->rows >= 1, where, "dma with 0 rows");
    require(d->src_space == mem_space::sram || d->src_core == self_core, where, "an HBM source names no core");
    require(d->dst_space == mem_space::sram || d->dst_core == self_core, where, "an HBM destination names no core");
  } else if (auto* m = std::get_if<matmul_cmd>(&c)) {
    check_engine(m->unit, engine::matrix, "matmul", where);
    require(m->lda >= m->k && m->ldb >= (m->transpose_b ? m->k : m->n) && m->ldc >= m->n, where,
            "matmul leading dimensions smaller than the rows they hold");
  } else if (auto* v = std::get_if<vector_cmd>(&c)) {
    check_engine(v->unit, engine::vector, "vector op", where);
    if (v->op == vector_op::rope)
      require(v->cols % 2 == 0 && v->param1 >= 1, where, "rope needs even cols and param1 >= 1");
    if (v->op == vector_op::topk) require(v->param0 >= 1 && v->param0 <= v->cols, where, "topk needs 1 <= k <= cols");
  } else if (auto* s = std::get_if<send_cmd>(&c)) {
    check_engine(s->unit, engine::dma, "send", where);
  } else if (auto* r = std::get_if<recv_cmd>(&c)) {
    check_engine(r->unit, engine::dma, "recv", where);
  } else if (auto* b = std::get_if<barrier_cmd>(&c)) {
    check_engine(b->unit, engine::sync, "barrier", where);
    require(b->participants >= 1, where, "barrier with 0 participants");
  } else if (auto* e = std::get_if<end_cmd>(&c)) {
    check_engine(e->unit, engine::sync, "end", where);
  }
}

namespace {

std::string core_text(uint16_t core) { return core == self_core ? std::string("self") : std::to_string(core); }

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

std::string place(mem_space s, uint16_t core, uint64_t addr) {
  if (s == mem_space::hbm) return fmt("hbm:0x%" PRIx64, addr);
  return fmt("sram[%s]:0x%" PRIx64, core_text(core).c_str(), addr);
}

}  // namespace

namespace {

std::string command_text(const command& c) {
  const std::string unit = engine_name(engine_of(c));
  if (auto* d = std::get_if<dma_cmd>(&c))
    return fmt("dma      %-6s %s -> %s row_bytes=%u rows=%u src_stride=%" PRIu64 " dst_stride=%" PRIu64, unit.c_str(),
               place(d->src_space, d->src_core, d->src).c_str(), place(d->dst_space, d->dst_core, d->dst).c_str(),
               d->row_bytes, d->rows, d->src_stride, d->dst_stride);
  if (auto* m = std::get_if<matmul_cmd>(&c))
    return fmt("matmul   %-6s %s m=%u k=%u n=%u a=0x%x b=0x%x c=0x%x lda=%u ldb=%u ldc=%u%s%s", unit.c_str(),
               dtype_name(m->type), m->m, m->k, m->n, m->a, m->b, m->c, m->lda, m->ldb, m->ldc,
               m->accumulate ? " acc" : "", m->transpose_b ? " bt" : "");
  if (auto* v = std::get_if<vector_cmd>(&c))
    return fmt("vector   %-6s %s rows=%u cols=%u src0=0x%x src1=0x%x dst=0x%x scalar=%g p0=%u p1=%u%s", unit.c_str(),
               vector_op_name(v->op), v->rows, v->cols, v->src0, v->src1, v->dst, static_cast<double>(v->scalar),
               v->param0, v->param1, v->normalize ? " norm" : "");
  if (auto* s = std::get_if<send_cmd>(&c))
    return fmt("send     %-6s peer=%u src=0x%x dst=0x%x bytes=%u tag=%u", unit.c_str(), s->peer, s->src, s->dst,
               s->bytes, s->tag);
  if (auto* r = std::get_if<recv_cmd>(&c))
    return fmt("recv     %-6s peer=%u dst=0x%x bytes=%u tag=%u", unit.c_str(), r->peer, r->dst, r->bytes, r->tag);
  if (auto* w = std::get_if<wait_cmd>(&c)) return fmt("wait     %-6s sem=%u count=%u", unit.c_str(), w->sem, w->count);
  if (auto* s = std::get_if<signal_cmd>(&c))
    return fmt("signal   %-6s sem=%u core=%s count=%u", unit.c_str(), s->sem, core_text(s->core).c_str(), s->count);
  if (auto* b = std::get_if<barrier_cmd>(&c))
    return fmt("barrier  %-6s group=%u participants=%u", unit.c_str(), b->group, b->participants);
  return fmt("end      %-6s", unit.c_str());
}

}  // namespace

std::string to_text(const command& c) {
  const uint16_t op = op_of(c);
  return op == 0 ? command_text(c) : command_text(c) + fmt(" op=%u", op);
}

std::string to_text(const program& p) {
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) out += fmt("%6zu  ", i) + to_text(p[i]) + "\n";
  return out;
}

uint16_t op_of(const command& c) {
  return std::visit([](const auto& x) { return x.op_id; }, c);
}
void set_op(command& c, uint16_t op) {
  std::visit([op](auto& x) { x.op_id = op; }, c);
}

}  // namespace npuvp::kernels
