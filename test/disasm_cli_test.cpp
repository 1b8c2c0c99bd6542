// `npuvp disasm`: the CLI prints a stream file as text and names the offset
// of a broken record.
#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>

#include "kernels/encoding.h"
#include "platform/base/file_io.h"

using namespace npuvp;
using namespace npuvp::kernels;

namespace {

// Runs a shell command; returns its exit code and stdout+stderr.
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p);
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WEXITSTATUS(status), out};
}

}  // namespace

TEST_CASE("npuvp disasm prints a stream file and rejects a corrupt one", "[kernels][cli]") {
  const program p = {dma_cmd{}, wait_cmd{engine::matrix, 3, 1}, end_cmd{}};
  const auto bytes = encode_stream({12, p});
  const std::string file = "disasm_test.bin";
  write_file_atomically(file, std::string(bytes.begin(), bytes.end()));
  auto [code, out] = run(std::string(NPUVP_BINARY) + " disasm " + file);
  CHECK(code == 0);
  CHECK(out == "# disasm_test.bin: core 12, 3 commands, stream version 1\n" + to_text(p));
  std::string corrupt(bytes.begin(), bytes.end());
  corrupt[16 + 64] = 77;  // opcode of the second record
  write_file_atomically(file, corrupt);
  std::tie(code, out) = run(std::string(NPUVP_BINARY) + " disasm " + file);
  CHECK(code == 1);
  CHECK(out == "npuvp: error: disasm_test.bin: record at byte offset 80: bad opcode 77\n");
  std::remove(file.c_str());
}
