// `npuvp disasm` and `npuvp lower gemm` from the command line.
#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>

#include "kernels/encoding.h"
#include "platform/base/file_io.h"
#include "test/shell.h"

using namespace npuvp;
using namespace npuvp::kernels;

TEST_CASE("npuvp disasm prints a stream file and rejects a corrupt one", "[kernels][cli]") {
  const program p = {dma_cmd{}, wait_cmd{engine::matrix, 3, 1}, end_cmd{}};
  const auto bytes = encode_stream({12, p});
  const std::string file = "disasm_test.bin";
  write_file_atomically(file, std::string(bytes.begin(), bytes.end()));
  auto [code, out] = shell(std::string(NPUVP_BINARY) + " disasm " + file);
  CHECK(code == 0);
  CHECK(out == "# disasm_test.bin: core 12, 3 commands, stream version 1\n" + to_text(p));
  std::string corrupt(bytes.begin(), bytes.end());
  corrupt[16 + 64] = 77;  // opcode of the second record
  write_file_atomically(file, corrupt);
  std::tie(code, out) = shell(std::string(NPUVP_BINARY) + " disasm " + file);
  CHECK(code == 1);
  CHECK(out == "npuvp: error: disasm_test.bin: record at byte offset 80: bad opcode 77\n");
  std::remove(file.c_str());
  // A folder is not read as an empty file (before: "truncated header (0 of 16 bytes)").
  std::tie(code, out) = shell(std::string(NPUVP_BINARY) + " disasm .");
  CHECK(code == 1);
  CHECK(out == "npuvp: error: .: is a folder, not a file\n");
}

TEST_CASE("npuvp lower gemm writes streams that disassemble and pass the reference check", "[kernels][cli]") {
  const std::string hw = std::string(NPUVP_SOURCE_DIR) + "/scenarios/hw/npu_4x4.yaml";
  const std::string dir = "lower_cli_test";
  REQUIRE(shell("mkdir -p " + dir).first == 0);
  auto [code, out] = shell(std::string(NPUVP_BINARY) + " lower gemm --hw " + hw +
                         " --m 64 --k 200 --n 96 --groups 4 --strategy k_split --placement ring_block --check --out " +
                         dir + " --stats " + dir + "/stats.json");
  INFO(out);
  CHECK(code == 0);
  CHECK(out.find("k_split on ring_block: 4 x 4 cores") != std::string::npos);
  // Ring all-reduce of 64x96 fp32 per group: 2(n-1) = 6 steps of a quarter each, one hop each.
  CHECK(out.find("NoC payload 589824 B, 589824 B*hops (mean 1.00 hops)") != std::string::npos);
  CHECK(out.find("wrote 16 stream files") != std::string::npos);
  CHECK(out.find("max |C - A*B| =") != std::string::npos);
  std::tie(code, out) = shell(std::string(NPUVP_BINARY) + " disasm " + dir + "/core_5.bin");
  CHECK(code == 0);
  CHECK(out.find("core 5,") != std::string::npos);
  CHECK(out.find("send     dma") != std::string::npos);
  std::tie(code, out) = shell(std::string(NPUVP_BINARY) + " lower gemm --hw " + hw +
                            " --m 64 --k 64 --n 64 --groups 3 --group-size 6 --placement mesh_block");
  CHECK(code == 1);
  CHECK(out.find("cannot tile 3 blocks of 6 cores on a 4x4 mesh") != std::string::npos);
  // A GEMM with nothing to compute (before: lowered, exit 0).
  std::tie(code, out) = shell(std::string(NPUVP_BINARY) + " lower gemm --hw " + hw + " --m 0 --k 64 --n 64");
  CHECK(code == 1);
  CHECK(out.find("0 x 64 x 64 GEMM (m x k x n) has nothing to compute") != std::string::npos);
  // Streams beyond the chip's HBM (256 KiB here) are not written (before: written, exit 0).
  write_file_atomically(dir + "/tiny_hbm.yaml", "name: t\nmesh: {width: 4, height: 4}\nhbm: {org: {rows: 1}}\n");
  std::tie(code, out) = shell(std::string(NPUVP_BINARY) + " lower gemm --hw " + dir +
                              "/tiny_hbm.yaml --m 128 --k 256 --n 128 --out " + dir + "/beyond");
  CHECK(code == 1);
  CHECK(out.find("writes HBM range [262144, ") != std::string::npos);
  CHECK(out.find("beyond its 262144 bytes: the lowering does not fit t") != std::string::npos);
  CHECK(!std::filesystem::exists(dir + "/beyond"));
  shell("rm -rf " + dir);
}

TEST_CASE("npuvp lower layer lowers a zoo model's layer and reports its work", "[kernels][cli]") {
  const std::string hw = std::string(NPUVP_SOURCE_DIR) + "/scenarios/hw/npu_4x4.yaml";
  const std::string zoo = std::string(NPUVP_SOURCE_DIR) + "/scenarios/models";
  auto [code, out] =
      shell(std::string(NPUVP_BINARY) + " lower layer --hw " + hw + " --zoo " + zoo + " --model qwen3-0.6b --cores 4");
  INFO(out);
  CHECK(code == 0);
  // One token: q 1024x2048 + k, v 2 x 1024x1024 + o 2048x1024 + MLP 3 x 1024x3072 = 15728640 MACs,
  // plus attention over one key: 16 heads x (128 + 128).
  CHECK(out.find("MACs 15732736,") != std::string::npos);
  std::tie(code, out) =
      shell(std::string(NPUVP_BINARY) + " lower layer --hw " + hw + " --zoo " + zoo + " --model qwen3-30b-a3b --cores 4");
  CHECK(code == 1);
  CHECK(out.find("MoE layers need a static token->expert assignment") != std::string::npos);
  // No tokens, or a KV cache larger than the HBM (before: lowered, exit 0).
  const std::string layer =
      std::string(NPUVP_BINARY) + " lower layer --hw " + hw + " --zoo " + zoo + " --model qwen3-0.6b --cores 8";
  std::tie(code, out) = shell(layer + " --sequences 0");
  CHECK(code == 2);
  CHECK(out.find("--sequences and --new must be >= 1") != std::string::npos);
  std::tie(code, out) = shell(layer + " --past 100000000");
  CHECK(code == 1);
  CHECK(out.find("qwen3-0.6b layer: its HBM footprint (weights, KV cache of 100000001 positions, activations)") !=
        std::string::npos);
}

TEST_CASE("npuvp scenario check/describe and lower step", "[kernels][cli]") {
  const std::string bin = std::string(NPUVP_BINARY), src = std::string(NPUVP_SOURCE_DIR);
  const std::string zoo = " --zoo " + src + "/scenarios/models";
  auto [code, out] = shell(bin + " scenario check " + src + "/scenarios/run/tiny_functional_4x4.yaml" + zoo);
  INFO(out);
  CHECK(code == 0);
  CHECK(out.find("ok: tiny on npu4x4 4x4, tp 2 pp 2 dp 2, megatron, ring_block, 2 prefill sequences, decode batch 2; "
                 "lowers to 4624 commands") != std::string::npos);
  // Valid keys, but tp 3 does not divide the model's 8 KV heads: not "ok" (before: ok, exit 0).
  write_file_atomically("tp3.yaml", "hw: " + src + "/scenarios/hw/npu_4x4.yaml\nmodel: qwen3-0.6b\n" +
                                        "parallelism: {tp: 3}\nstep: {decode: {batch: 1, context: 16}}\n");
  std::tie(code, out) = shell(bin + " scenario check tp3.yaml" + zoo);
  CHECK(code == 1);
  CHECK(out.find("tp3.yaml: parallelism.tp (3) must divide qwen3-0.6b's num_key_value_heads (8)") != std::string::npos);
  std::remove("tp3.yaml");
  std::tie(code, out) = shell(bin + " scenario describe");
  CHECK(code == 0);
  CHECK(out.find("step.prefill[].context") != std::string::npos);
  const std::string dir = "lower_step_cli_test";
  REQUIRE(shell("mkdir -p " + dir).first == 0);
  std::tie(code, out) = shell(bin + " lower step " + src + "/scenarios/run/tiny_functional_4x4.yaml" + zoo + " --out " +
                            dir + " --stats " + dir + "/stats.json");
  CHECK(code == 0);
  // Stage 0 -> stage 1 of each replica: tp 2 ranks each send the replica's [T x 64] fp32 activations (T = 8, 2).
  CHECK(out.find("pipeline_send                    8                 0               0            5120") !=
        std::string::npos);
  CHECK(out.find("wrote 8 stream files") != std::string::npos);
  CHECK(read_file(dir + "/stats.json").find("lowering.op.layer3.down_reduce_scatter") != std::string::npos);
  // Labelled commands disassemble with their op id.
  std::tie(code, out) = shell(bin + " disasm " + dir + "/core_0.bin");
  CHECK(code == 0);
  CHECK(out.find(" op=") != std::string::npos);
  shell("rm -rf " + dir);
  // A scenario error names the file and line.
  write_file_atomically("bad_scenario.yaml", "hw: " + src + "/scenarios/hw/npu_4x4.yaml\nstep: {decode: {batch: x}}\n");
  std::tie(code, out) = shell(bin + " lower step bad_scenario.yaml" + zoo);
  CHECK(code != 0);
  CHECK(out.find("bad_scenario.yaml:2: step.decode.batch: expected an integer") != std::string::npos);
  std::remove("bad_scenario.yaml");
  // Keys valid one by one, an address map that cannot be built: not "ok" (before: ok, exit 0).
  write_file_atomically("bad_map.yaml", "name: x\nmesh: {width: 4, height: 4}\nmemory_map: {sram_stride: 1024}\n");
  std::tie(code, out) = shell(bin + " config check bad_map.yaml");
  CHECK(code == 1);
  CHECK(out ==
        "npuvp: error: bad_map.yaml: memory_map: SRAM capacity 33554432 B exceeds memory_map.sram_stride 1024 B, "
        "so core windows overlap\n");
  std::remove("bad_map.yaml");
}
