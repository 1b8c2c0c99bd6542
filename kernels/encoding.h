// Fixed-size little-endian binary encoding of the command stream: 64-byte
// records, and a stream file = 16-byte header + records. The layout of every
// field is documented in docs/command_stream.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/command.h"

namespace npuvp::kernels {

constexpr size_t record_bytes = 64;
constexpr size_t stream_header_bytes = 16;
constexpr uint16_t stream_version = 1;
extern const char stream_magic[8];  // "NPUVPCMD"

enum class opcode : uint8_t {
  dma = 1,
  matmul = 2,
  vector = 3,
  send = 4,
  recv = 5,
  wait = 6,
  signal = 7,
  barrier = 8,
  end = 9
};

opcode opcode_of(const command& c);

// Appends one 64-byte record.
void encode(const command& c, std::vector<uint8_t>& out);
std::vector<uint8_t> encode(const program& p);

// Decodes the record at `offset`. Throws npuvp::error naming `origin` and the
// byte offset for a bad opcode, engine or enum value, a non-zero reserved
// byte, an engine that cannot run the opcode, or a truncated record.
command decode_record(const uint8_t* data, size_t size, size_t offset, const std::string& origin);
// Decodes a whole sequence of records (size must be a multiple of 64).
program decode(const std::vector<uint8_t>& bytes, const std::string& origin = "command stream");

struct stream_file {
  uint16_t core_id = 0;
  program commands;
};

std::vector<uint8_t> encode_stream(const stream_file& s);
stream_file decode_stream(const std::vector<uint8_t>& bytes, const std::string& origin);

}  // namespace npuvp::kernels
