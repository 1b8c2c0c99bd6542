// `npuvp disasm` and `npuvp lower gemm` from the command line.
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

TEST_CASE("npuvp lower gemm writes streams that disassemble and pass the reference check", "[kernels][cli]") {
  const std::string hw = std::string(NPUVP_SOURCE_DIR) + "/scenarios/hw/npu_4x4.yaml";
  const std::string dir = "lower_cli_test";
  REQUIRE(run("mkdir -p " + dir).first == 0);
  auto [code, out] = run(std::string(NPUVP_BINARY) + " lower gemm --hw " + hw +
                         " --m 64 --k 200 --n 96 --groups 4 --strategy k_split --placement ring_block --check --out " +
                         dir + " --stats " + dir + "/stats.json");
  INFO(out);
  CHECK(code == 0);
  CHECK(out.find("k_split on ring_block: 4 x 4 cores") != std::string::npos);
  // Ring all-reduce of 64x96 fp32 per group: 2(n-1) = 6 steps of a quarter each, one hop each.
  CHECK(out.find("NoC payload 589824 B, 589824 B*hops (mean 1.00 hops)") != std::string::npos);
  CHECK(out.find("wrote 16 stream files") != std::string::npos);
  CHECK(out.find("max |C - A*B| =") != std::string::npos);
  std::tie(code, out) = run(std::string(NPUVP_BINARY) + " disasm " + dir + "/core_5.bin");
  CHECK(code == 0);
  CHECK(out.find("core 5,") != std::string::npos);
  CHECK(out.find("send     dma") != std::string::npos);
  std::tie(code, out) = run(std::string(NPUVP_BINARY) + " lower gemm --hw " + hw +
                            " --m 64 --k 64 --n 64 --groups 3 --group-size 6 --placement mesh_block");
  CHECK(code == 1);
  CHECK(out.find("cannot tile 3 blocks of 6 cores on a 4x4 mesh") != std::string::npos);
  run("rm -rf " + dir);
}
