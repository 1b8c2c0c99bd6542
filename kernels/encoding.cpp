#include "kernels/encoding.h"

#include <cstring>

#include "platform/base/error.h"

namespace npuvp::kernels {

const char stream_magic[8] = {'N', 'P', 'U', 'V', 'P', 'C', 'M', 'D'};

namespace {

// Little-endian field writer/reader on one record, independent of host order.
struct record_writer {
  uint8_t* r;
  void u8(size_t at, uint8_t v) { r[at] = v; }
  void u16(size_t at, uint16_t v) {
    for (int i = 0; i < 2; ++i) r[at + i] = uint8_t(v >> (8 * i));
  }
  void u32(size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) r[at + i] = uint8_t(v >> (8 * i));
  }
  void u64(size_t at, uint64_t v) {
    for (int i = 0; i < 8; ++i) r[at + i] = uint8_t(v >> (8 * i));
  }
  void f32(size_t at, float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    u32(at, bits);
  }
};

struct record_reader {
  const uint8_t* r;
  uint8_t u8(size_t at) const { return r[at]; }
  uint16_t u16(size_t at) const { return uint16_t(r[at] | (r[at + 1] << 8)); }
  uint32_t u32(size_t at) const {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | r[at + i];
    return v;
  }
  uint64_t u64(size_t at) const { return uint64_t(u32(at)) | (uint64_t(u32(at + 4)) << 32); }
  float f32(size_t at) const {
    const uint32_t bits = u32(at);
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
};

constexpr uint8_t flag_bit0 = 1;
constexpr size_t op_offset = 62;  // u16 operator label, every opcode
constexpr uint8_t flag_bit1 = 2;

}  // namespace

opcode opcode_of(const command& c) {
  static const opcode by_index[] = {opcode::dma,  opcode::matmul, opcode::vector,  opcode::send, opcode::recv,
                                    opcode::wait, opcode::signal, opcode::barrier, opcode::end};
  return by_index[c.index()];
}

void encode(const command& c, std::vector<uint8_t>& out) {
  const size_t base = out.size();
  out.resize(base + record_bytes, 0);
  record_writer w{out.data() + base};
  w.u8(0, static_cast<uint8_t>(opcode_of(c)));
  w.u8(1, static_cast<uint8_t>(engine_of(c)));
  w.u16(op_offset, op_of(c));
  if (auto* d = std::get_if<dma_cmd>(&c)) {
    w.u8(3, uint8_t(uint8_t(d->src_space) | (uint8_t(d->dst_space) << 4)));
    w.u16(4, d->src_core);
    w.u16(6, d->dst_core);
    w.u64(8, d->src);
    w.u64(16, d->dst);
    w.u32(24, d->row_bytes);
    w.u32(28, d->rows);
    w.u64(32, d->src_stride);
    w.u64(40, d->dst_stride);
  } else if (auto* m = std::get_if<matmul_cmd>(&c)) {
    w.u8(2, uint8_t((m->accumulate ? flag_bit0 : 0) | (m->transpose_b ? flag_bit1 : 0)));
    w.u8(3, uint8_t(m->type));
    w.u32(4, m->m);
    w.u32(8, m->k);
    w.u32(12, m->n);
    w.u32(16, m->a);
    w.u32(20, m->b);
    w.u32(24, m->c);
    w.u32(28, m->lda);
    w.u32(32, m->ldb);
    w.u32(36, m->ldc);
  } else if (auto* v = std::get_if<vector_cmd>(&c)) {
    w.u8(2, v->normalize ? flag_bit0 : 0);
    w.u8(3, uint8_t(v->op));
    w.u32(4, v->rows);
    w.u32(8, v->cols);
    w.u32(12, v->src0);
    w.u32(16, v->src1);
    w.u32(20, v->dst);
    w.f32(24, v->scalar);
    w.u32(28, v->param0);
    w.u32(32, v->param1);
  } else if (auto* s = std::get_if<send_cmd>(&c)) {
    w.u16(4, s->peer);
    w.u32(8, s->src);
    w.u32(12, s->dst);
    w.u32(16, s->bytes);
    w.u32(20, s->tag);
  } else if (auto* r = std::get_if<recv_cmd>(&c)) {
    w.u16(4, r->peer);
    w.u32(12, r->dst);
    w.u32(16, r->bytes);
    w.u32(20, r->tag);
  } else if (auto* wt = std::get_if<wait_cmd>(&c)) {
    w.u16(4, wt->sem);
    w.u32(8, wt->count);
  } else if (auto* sg = std::get_if<signal_cmd>(&c)) {
    w.u16(4, sg->sem);
    w.u16(6, sg->core);
    w.u32(8, sg->count);
  } else if (auto* b = std::get_if<barrier_cmd>(&c)) {
    w.u16(4, b->group);
    w.u32(8, b->participants);
  }
}

std::vector<uint8_t> encode(const program& p) {
  std::vector<uint8_t> out;
  out.reserve(p.size() * record_bytes);
  for (const auto& c : p) encode(c, out);
  return out;
}

command decode_record(const uint8_t* data, size_t size, size_t offset, const std::string& origin) {
  const std::string where = origin + ": record at byte offset " + std::to_string(offset);
  if (offset + record_bytes > size)
    throw error(where + ": truncated (" + std::to_string(size - offset) + " of " + std::to_string(record_bytes) +
                " bytes)");
  const record_reader r{data + offset};
  const uint8_t op = r.u8(0);
  const uint8_t unit_byte = r.u8(1);
  if (unit_byte >= engine_count) throw error(where + ": bad engine " + std::to_string(unit_byte));
  const auto unit = static_cast<engine>(unit_byte);
  const uint8_t sub = r.u8(3);
  const bool flag = r.u8(2) & flag_bit0;
  auto bad_enum = [&](const char* what, unsigned v) {
    return error(where + ": bad " + what + " " + std::to_string(v));
  };
  command c;
  switch (static_cast<opcode>(op)) {
    case opcode::dma: {
      dma_cmd d;
      d.unit = unit;
      if ((sub & 0xF) > 1 || (sub >> 4) > 1) throw bad_enum("memory space byte", sub);
      d.src_space = mem_space(sub & 0xF);
      d.dst_space = mem_space(sub >> 4);
      d.src_core = r.u16(4);
      d.dst_core = r.u16(6);
      d.src = r.u64(8);
      d.dst = r.u64(16);
      d.row_bytes = r.u32(24);
      d.rows = r.u32(28);
      d.src_stride = r.u64(32);
      d.dst_stride = r.u64(40);
      c = d;
      break;
    }
    case opcode::matmul: {
      matmul_cmd m;
      m.unit = unit;
      if (sub > uint8_t(dtype::int8)) throw bad_enum("dtype", sub);
      m.type = dtype(sub);
      m.accumulate = flag;
      m.transpose_b = r.u8(2) & flag_bit1;
      m.m = r.u32(4);
      m.k = r.u32(8);
      m.n = r.u32(12);
      m.a = r.u32(16);
      m.b = r.u32(20);
      m.c = r.u32(24);
      m.lda = r.u32(28);
      m.ldb = r.u32(32);
      m.ldc = r.u32(36);
      c = m;
      break;
    }
    case opcode::vector: {
      vector_cmd v;
      v.unit = unit;
      if (sub > uint8_t(vector_op::to_bf16)) throw bad_enum("vector op", sub);
      v.op = vector_op(sub);
      v.normalize = flag;
      v.rows = r.u32(4);
      v.cols = r.u32(8);
      v.src0 = r.u32(12);
      v.src1 = r.u32(16);
      v.dst = r.u32(20);
      v.scalar = r.f32(24);
      v.param0 = r.u32(28);
      v.param1 = r.u32(32);
      c = v;
      break;
    }
    case opcode::send: {
      send_cmd s;
      s.unit = unit;
      s.peer = r.u16(4);
      s.src = r.u32(8);
      s.dst = r.u32(12);
      s.bytes = r.u32(16);
      s.tag = r.u32(20);
      c = s;
      break;
    }
    case opcode::recv: {
      recv_cmd v;
      v.unit = unit;
      v.peer = r.u16(4);
      v.dst = r.u32(12);
      v.bytes = r.u32(16);
      v.tag = r.u32(20);
      c = v;
      break;
    }
    case opcode::wait:
      c = wait_cmd{unit, r.u16(4), r.u32(8)};
      break;
    case opcode::signal:
      c = signal_cmd{unit, r.u16(4), r.u16(6), r.u32(8)};
      break;
    case opcode::barrier:
      c = barrier_cmd{unit, r.u16(4), r.u32(8)};
      break;
    case opcode::end:
      c = end_cmd{unit};
      break;
    default:
      throw error(where + ": bad opcode " + std::to_string(op));
  }
  set_op(c, r.u16(op_offset));
  // Every byte the opcode does not use must be zero: re-encode and compare.
  std::vector<uint8_t> canonical;
  encode(c, canonical);
  for (size_t i = 0; i < record_bytes; ++i)
    if (canonical[i] != data[offset + i])
      throw error(where + ": byte " + std::to_string(i) + " is reserved or out of range for opcode " +
                  std::to_string(op) + " (value " + std::to_string(data[offset + i]) + ")");
  check_command(c, where);
  return c;
}

program decode(const std::vector<uint8_t>& bytes, const std::string& origin) {
  program p;
  p.reserve(bytes.size() / record_bytes);
  for (size_t off = 0; off < bytes.size(); off += record_bytes)
    p.push_back(decode_record(bytes.data(), bytes.size(), off, origin));
  return p;
}

std::vector<uint8_t> encode_stream(const stream_file& s) {
  std::vector<uint8_t> out(stream_header_bytes, 0);
  std::memcpy(out.data(), stream_magic, 8);
  record_writer w{out.data()};
  w.u16(8, stream_version);
  w.u16(10, s.core_id);
  w.u32(12, static_cast<uint32_t>(s.commands.size()));
  for (const auto& c : s.commands) encode(c, out);
  return out;
}

stream_file decode_stream(const std::vector<uint8_t>& bytes, const std::string& origin) {
  if (bytes.size() < stream_header_bytes)
    throw error(origin + ": truncated header (" + std::to_string(bytes.size()) + " of " +
                std::to_string(stream_header_bytes) + " bytes)");
  if (std::memcmp(bytes.data(), stream_magic, 8) != 0) throw error(origin + ": not a command stream (bad magic)");
  const record_reader r{bytes.data()};
  if (r.u16(8) != stream_version)
    throw error(origin + ": unsupported version " + std::to_string(r.u16(8)) + " (this build reads " +
                std::to_string(stream_version) + ")");
  stream_file s;
  s.core_id = r.u16(10);
  const uint64_t count = r.u32(12);
  const uint64_t expected = stream_header_bytes + count * record_bytes;
  if (bytes.size() != expected)
    throw error(origin + ": header announces " + std::to_string(count) + " records (" + std::to_string(expected) +
                " bytes) but the file has " + std::to_string(bytes.size()) + " bytes" +
                (bytes.size() < expected ? " (truncated at byte offset " + std::to_string(bytes.size()) + ")" : ""));
  s.commands.reserve(count);
  for (uint64_t i = 0; i < count; ++i)
    s.commands.push_back(decode_record(bytes.data(), bytes.size(), stream_header_bytes + i * record_bytes, origin));
  return s;
}

}  // namespace npuvp::kernels
