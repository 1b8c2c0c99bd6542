// `npuvp perf` on streams written by `npuvp lower gemm`.
#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "platform/base/file_io.h"
#include "test/shell.h"

TEST_CASE("npuvp perf evaluates lowered streams, warns without calibration, writes JSON", "[perfmodel][cli]") {
  const std::string hw = std::string(NPUVP_SOURCE_DIR) + "/scenarios/hw/npu_4x4.yaml";
  const std::string bin = NPUVP_BINARY, dir = "perf_cli_test";
  REQUIRE(shell("mkdir -p " + dir).first == 0);
  auto [code, out] =
      shell(bin + " lower gemm --hw " + hw + " --m 128 --k 256 --n 128 --groups 4 --strategy mnk_2d --out " + dir);
  REQUIRE(code == 0);
  std::tie(code, out) = shell(bin + " perf --hw " + hw + " --json " + dir + "/perf.json " + dir + "/core_*.bin");
  INFO(out);
  CHECK(code == 0);
  CHECK(out.find("npuvp: warning: perfmodel: no calibration file given") != std::string::npos);
  CHECK(out.find("16 streams") != std::string::npos);
  CHECK(out.find("bounded by") != std::string::npos);
  const auto j = nlohmann::json::parse(npuvp::read_file(dir + "/perf.json"));
  CHECK(j["time_ns"].get<double>() > 0);
  CHECK(j["flops"].get<double>() == Approx(4 * 2.0 * 128 * 256 * 128));
  CHECK(j["calibration"] == "first principles");
  // A calibration file with an unknown key is an error naming file and line.
  npuvp::write_file_atomically(dir + "/cal.yaml", "hw: npu4x4\nparams:\n  bogus: 1\n");
  std::tie(code, out) =
      shell(bin + " perf --hw " + hw + " --calibration " + dir + "/cal.yaml " + dir + "/core_0.bin");
  CHECK(code == 1);
  CHECK(out.find("cal.yaml:3") != std::string::npos);
  CHECK(out.find("unknown key") != std::string::npos);
  // Streams that do not fit the chip's SRAM are an error naming file, command and range (before: a result, exit 0).
  npuvp::write_file_atomically(dir + "/small.yaml",
                               "name: npu4x4\nmesh: {width: 4, height: 4}\ncore: {sram: {capacity_kib: 4}}\n");
  std::tie(code, out) = shell(bin + " perf --hw " + dir + "/small.yaml " + dir + "/core_*.bin");
  INFO(out);
  CHECK(code == 1);
  CHECK_THAT(out, Catch::Contains("npuvp: error: " + dir + "/core_") && Catch::Contains(".bin: command ") &&
                      Catch::Contains("SRAM range [") &&
                      Catch::Contains("), beyond its 4096 bytes (" + dir + "/small.yaml)"));
  shell("rm -rf " + dir);
}

TEST_CASE("npuvp calibrate runs the micro-benchmarks on the TLM chip and writes a usable file", "[perfmodel][cli]") {
  const std::string dir = "calibrate_cli_test";
  REQUIRE(shell("mkdir -p " + dir).first == 0);
  // A 2x2 chip with 2 HBM channels keeps the 20-odd simulations short.
  npuvp::write_file_atomically(dir + "/hw.yaml",
                               "name: tiny\nmesh: {width: 2, height: 2}\ncore: {sram: {capacity_kib: 1024}}\n"
                               "hbm: {channels: 2, placement: west}\n");
  const std::string bin = NPUVP_BINARY;
  auto [code, out] = shell(bin + " calibrate --hw " + dir + "/hw.yaml --out " + dir +
                               "/cal.yaml --params dma_setup_ns,hbm_read_latency_ns,dma_request_ns");
  INFO(out);
  REQUIRE(code == 0);
  CHECK(out.find("read_latency_d0") != std::string::npos);
  CHECK(out.find("fit: MAPE") != std::string::npos);
  CHECK(out.find("row-locality probes") != std::string::npos);
  const std::string cal = npuvp::read_file(dir + "/cal.yaml");
  CHECK(cal.find("hw: tiny") != std::string::npos);
  CHECK(cal.find("hbm_stride_locality:  #") != std::string::npos);  // a list follows
  CHECK(cal.find("    - {stride_bytes: 256, locality: 1}") != std::string::npos);
  CHECK(cal.find("mape_percent") != std::string::npos);
  // The file is accepted by npuvp perf without the no-calibration warning.
  REQUIRE(shell(bin + " lower gemm --hw " + dir + "/hw.yaml --m 64 --k 64 --n 64 --out " + dir).first == 0);
  std::tie(code, out) =
      shell(bin + " perf --hw " + dir + "/hw.yaml --calibration " + dir + "/cal.yaml " + dir + "/core_*.bin");
  CHECK(code == 0);
  CHECK(out.find("warning") == std::string::npos);
  shell("rm -rf " + dir);
}

TEST_CASE("npuvp crosscheck runs both engines on a scenario and writes the table as JSON", "[perfmodel][cli]") {
  const std::string dir = "crosscheck_cli_test";
  REQUIRE(shell("mkdir -p " + dir).first == 0);
  // Of several calibrations, each case takes the one fitted on its chip (npu4x4 here).
  const std::string src = NPUVP_SOURCE_DIR, cal = src + "/scenarios/calibration/";
  const auto [code, out] = shell(
      std::string(NPUVP_BINARY) + " crosscheck " + src + "/scenarios/run/tiny_functional_4x4.yaml --calibration " +
      cal + "npu_8x8.yaml --calibration " + cal + "npu_4x4.yaml --parallel 1 --json " + dir + "/x.json");
  INFO(out);
  REQUIRE(code == 0);
  CHECK(out.find("MAPE") != std::string::npos);
  CHECK(out.find("warning") == std::string::npos);
  const auto j = nlohmann::json::parse(npuvp::read_file(dir + "/x.json"));
  CHECK(j["calibration"]["npu4x4"] == cal + "npu_4x4.yaml");
  REQUIRE(j["cases"].size() == 1);
  const auto& c = j["cases"][0];
  CHECK(c["tlm_ns"].get<double>() > 0);
  CHECK(c["model_ns"].get<double>() > 0);
  CHECK(c["error_percent"].get<double>() ==
        Approx(100 * (c["model_ns"].get<double>() - c["tlm_ns"].get<double>()) / c["tlm_ns"].get<double>()));
  CHECK(c["speedup"].get<double>() ==
        Approx(c["tlm_wall_s"].get<double>() / c["model_wall_s"].get<double>()));
  // Every operator row carries both engines' time; some operator took time on both.
  REQUIRE(!c["ops"].empty());
  bool both = false;
  for (const auto& op : c["ops"]) {
    CHECK(op.contains("op"));
    both |= op["tlm_engine_ns"].get<double>() > 0 && op["model_engine_ns"].get<double>() > 0;
  }
  CHECK(both);
  CHECK(j["summary"]["cases"] == 1);
  CHECK(c["tlm"]["elapsed_ns"] == c["tlm_ns"]);
  // Again, with the TLM results of that run, on a grid over the partition: the
  // megatron case has the scenario's chip and streams (its TLM result is
  // taken, under another name), the k_split case runs.
  npuvp::write_file_atomically(dir + "/g.yaml", "base: " + src +
                                                    "/scenarios/run/tiny_functional_4x4.yaml\n"
                                                    "vary:\n  parallelism.partition: [megatron, k_split]\n");
  const auto [again, again_out] =
      shell(std::string(NPUVP_BINARY) + " crosscheck --grid " + dir + "/g.yaml --calibration " + cal +
            "npu_4x4.yaml --parallel 1 --tlm-from " + dir + "/x.json --json " + dir + "/y.json");
  INFO(again_out);
  REQUIRE(again == 0);
  CHECK(again_out.find("TLM results of 1 of 2 cases from " + dir + "/x.json") != std::string::npos);
  CHECK(again_out.find("running 1 cases on the TLM chip") != std::string::npos);
  const auto y = nlohmann::json::parse(npuvp::read_file(dir + "/y.json"));
  REQUIRE(y["cases"].size() == 2);
  CHECK(y["cases"][0]["tlm_key"] == c["tlm_key"]);
  CHECK(y["cases"][0]["tlm_ns"] == c["tlm_ns"]);
  CHECK(y["cases"][0]["tlm_wall_s"] == c["tlm_wall_s"]);
  CHECK(y["cases"][1]["tlm_key"] != c["tlm_key"]);
  CHECK(y["cases"][1]["tlm_ns"].get<double>() > 0);
  // A file with no TLM result to take: an error naming it, before any TLM run.
  npuvp::write_file_atomically(dir + "/old.json", R"({"cases": [{"name": "a", "tlm_ns": 1}]})");
  const auto [old, old_out] =
      shell(std::string(NPUVP_BINARY) + " crosscheck --grid " + dir + "/g.yaml --tlm-from " + dir + "/old.json");
  CHECK(old != 0);
  CHECK(old_out.find("old.json: no case with a TLM result to reuse") != std::string::npos);
  CHECK(old_out.find("running") == std::string::npos);
  // None fitted on the case's chip: an error naming it, before any TLM run.
  const auto [bad, message] = shell(std::string(NPUVP_BINARY) + " crosscheck " + src +
                                    "/scenarios/run/tiny_functional_4x4.yaml --calibration " + cal +
                                    "npu_8x8.yaml --calibration " + cal + "npu_8x8.yaml");
  CHECK(bad != 0);
  CHECK(message.find("was fitted on 'npu4x4'") != std::string::npos);
  CHECK(message.find("running") == std::string::npos);
  shell("rm -rf " + dir);
}

TEST_CASE("npuvp crosscheck: an invalid grid case stops it, one that does not fit is skipped, none fitting is an error",
          "[perfmodel][cli]") {
  const std::string dir = "crosscheck_grid_errors_test";
  REQUIRE(shell("mkdir -p " + dir).first == 0);
  const std::string base = std::string(NPUVP_SOURCE_DIR) + "/scenarios/crosscheck/base_4x4.yaml";
  const auto run = [&](const std::string& name, const std::string& grid) {
    npuvp::write_file_atomically(dir + "/" + name, "base: " + base + "\n" + grid);
    return shell(std::string(NPUVP_BINARY) + " crosscheck --grid " + dir + "/" + name);
  };
  // A misspelt key: the grid file and the line of the key, and the case.
  const auto [typo, typo_out] = run("typo.yaml", "vary:\n  model: [qwen3-1.7b]\n  residency.weigths: [hbm]\n");
  INFO(typo_out);
  CHECK(typo != 0);
  CHECK(typo_out.find("typo.yaml:4: residency.weigths: unknown key (case typo.yaml") != std::string::npos);
  CHECK(typo_out.find("running") == std::string::npos);
  // A value the scenario rejects, from a key of the grid.
  const auto [cores, cores_out] = run("cores.yaml", "vary:\n  parallelism.tp: [4, 32]\n");
  INFO(cores_out);
  CHECK(cores != 0);
  CHECK(cores_out.find("cores.yaml:3: parallelism: tp x pp x dp = 32 cores, the mesh has 16") != std::string::npos);
  // Every case too large for its chip: each skipped, then an error (no empty table).
  const auto [big, big_out] = run("big.yaml", "vary:\n  model: [qwen3-8b]\n  residency.weights: [sram]\n");
  INFO(big_out);
  CHECK(big != 0);
  CHECK(big_out.find("skipped big.yaml model=qwen3-8b weights=sram:") != std::string::npos);
  CHECK(big_out.find("SRAM has") != std::string::npos);
  CHECK(big_out.find("none of the 1 cases fits its chip") != std::string::npos);
  // Malformed YAML in the grid: its file and line.
  npuvp::write_file_atomically(dir + "/broken.yaml", "base: " + base + "\nvary: [\n");
  const auto [broken, broken_out] = shell(std::string(NPUVP_BINARY) + " crosscheck --grid " + dir + "/broken.yaml");
  CHECK(broken == 1);
  CHECK(broken_out.find("broken.yaml:3: malformed YAML") != std::string::npos);
  // crosscheck gemm with a GEMM no partition fits: an error, not an empty table.
  const auto [gemm, gemm_out] = shell(std::string(NPUVP_BINARY) + " crosscheck gemm --hw " + NPUVP_SOURCE_DIR +
                                      "/scenarios/hw/npu_4x4.yaml --m 60000 --k 60000 --n 60000");
  CHECK(gemm == 1);
  CHECK(gemm_out.find("fits no partition and placement") != std::string::npos);
  // A GEMM with nothing to compute: one error, not a "skipped" line per case first.
  const auto [zero, zero_out] = shell(std::string(NPUVP_BINARY) + " crosscheck gemm --hw " + NPUVP_SOURCE_DIR +
                                      "/scenarios/hw/npu_4x4.yaml --m 0");
  CHECK(zero == 1);
  CHECK(zero_out.find("0 x 512 x 512 GEMM (m x k x n) has nothing to compute") != std::string::npos);
  CHECK(zero_out.find("skipped") == std::string::npos);
  shell("rm -rf " + dir);
}

TEST_CASE("npuvp calibrate and crosscheck reject an unwritable output or an unknown parameter before running",
          "[perfmodel][cli]") {
  const std::string src = NPUVP_SOURCE_DIR, bin = NPUVP_BINARY, hw = src + "/scenarios/hw/npu_4x4.yaml";
  const auto check = [](const std::pair<int, std::string>& r, const std::string& message) {
    INFO(r.second);
    CHECK(r.first == 1);
    CHECK(r.second.find(message) != std::string::npos);
    CHECK(r.second.find("running") == std::string::npos);  // no TLM run started
  };
  check(shell(bin + " calibrate --hw " + hw + " -o no_such_folder/c.yaml"),
        "cannot write 'no_such_folder/c.yaml': no folder 'no_such_folder'");
  check(shell(bin + " calibrate --hw " + hw + " -o c.yaml --params noc_hop_ns,no_such_param"),
        "no parameter 'no_such_param'");
  check(shell(bin + " calibrate --hw " + hw + " -o ."), "cannot write '.': it is a folder");
  check(shell(bin + " crosscheck " + src + "/scenarios/run/tiny_functional_4x4.yaml --json no_such_folder/x.json"),
        "cannot write 'no_such_folder/x.json'");
}
