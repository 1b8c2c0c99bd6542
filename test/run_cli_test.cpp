// `npuvp run SCENARIO` from the command line: breakdown, stats and trace files, errors (also from the simulation).
#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "test/shell.h"

using nlohmann::json;

namespace {


json load(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  return json::parse(in);  // throws on invalid JSON
}

const std::string npuvp = std::string(NPUVP_BINARY) + " run --zoo " + NPUVP_SOURCE_DIR + "/scenarios/models ";

}  // namespace

TEST_CASE("npuvp run on a tiny functional scenario prints the breakdown and writes stats and trace", "[run][cli]") {
  const std::string dir = "run_cli_tiny";
  std::filesystem::remove_all(dir);
  const auto [rc, out] =
      shell(npuvp + NPUVP_SOURCE_DIR + "/scenarios/run/tiny_functional_4x4.yaml --functional --out " + dir);
  INFO(out);
  REQUIRE(rc == 0);
  // The step's last layer reduce-scatters instead of all-reducing (docs/lowering.md).
  for (const char* s : {"per operator", "layer0.qkv_proj", "layer2.down_allreduce", "layer3.down_reduce_scatter",
                        "totals", "tokens/s", "compute (matrix)", "NoC links", "HBM", "wall-clock"})
    CHECK(out.find(s) != std::string::npos);

  // Per-operator engine time, summed over the ops, is each engine's whole busy time.
  const json st = load(dir + "/stats.json");
  const auto& groups = st["groups"];
  double ops_matrix = 0, cores_matrix = 0, ops_flops = 0, cores_flops = 0, ops_dma = 0, cores_dma = 0;
  for (const auto& [g, v] : groups.items()) {
    if (g.rfind("run.ops.", 0) == 0) {
      ops_matrix += v["matrix_busy_ns"]["value"].get<double>();
      ops_dma += v["dma_busy_ns"]["value"].get<double>();
      if (v.contains("flops")) ops_flops += v["flops"]["value"].get<double>();
    }
    if (g.size() > 7 && g.compare(g.size() - 7, 7, ".matrix") == 0 && g.find(".core_") != std::string::npos) {
      cores_matrix += v["active_ns"]["value"].get<double>();
      cores_flops += v["flops"]["value"].get<double>();
    }
    if (g.size() > 4 && g.compare(g.size() - 4, 4, ".dma") == 0 && g.find(".core_") != std::string::npos)
      cores_dma += v["active_ns"]["value"].get<double>();
  }
  CHECK(groups.contains("run.ops.layer0.qkv_proj"));
  CHECK(groups["run.ops.layer_barrier"]["bound"]["value"] == "sync");
  CHECK(cores_matrix > 0);
  CHECK(ops_matrix == Approx(cores_matrix).epsilon(1e-9));
  CHECK(ops_dma == Approx(cores_dma).epsilon(1e-9));  // overlapped DMA time split over the ops, not double-counted
  CHECK(ops_flops == Approx(cores_flops).epsilon(1e-9));  // lowering's figures = what the cores executed
  CHECK(st["meta"]["tokens"] == 10);                       // 5 + 3 prefill + 2 decode

  // Perfetto trace-event JSON: a track per core engine, router and HBM channel.
  const json tr = load(dir + "/trace.json");
  const auto& events = tr.is_object() ? tr["traceEvents"] : tr;
  std::map<int64_t, std::string> tracks;  // tid -> name
  for (const auto& e : events)
    if (e["ph"] == "M" && e["name"] == "thread_name") tracks[e["tid"].get<int64_t>()] = e["args"]["name"];
  std::set<std::string> names;
  for (const auto& [tid, n] : tracks) names.insert(n);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      const std::string xy = std::to_string(x) + "_" + std::to_string(y);
      CHECK(names.count("npu4x4.noc.router_" + xy));
      for (const char* e : {"dma", "matrix", "vector", "sync"}) CHECK(names.count("npu4x4.core_" + xy + "." + e));
    }
  for (int k = 0; k < 8; ++k) CHECK(names.count("npu4x4.hbm_" + std::to_string(k)));
  std::set<std::string> busy;  // tracks with at least one complete event
  for (const auto& e : events)
    if (e["ph"] == "X") {
      CHECK(e["dur"].get<double>() >= 0);
      busy.insert(tracks[e["tid"].get<int64_t>()]);
    }
  int routers_busy = 0, hbm_busy = 0;
  for (const auto& n : busy) {
    routers_busy += n.find(".noc.router_") != std::string::npos ? 1 : 0;
    hbm_busy += n.find(".hbm_") != std::string::npos ? 1 : 0;
  }
  CHECK(routers_busy > 1);
  CHECK(hbm_busy == 8);  // the weights interleave over every channel
  CHECK(busy.count("npu4x4.core_0_0.matrix"));
}

TEST_CASE("npuvp run rejects a bad scenario and one that does not fit, writing nothing", "[run][cli]") {
  const std::string dir = "run_cli_bad";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string tiny = std::string(NPUVP_SOURCE_DIR) + "/scenarios/run/tiny_functional_4x4.yaml";
  {
    std::ofstream(dir + "/bad.yaml") << "hw: " << NPUVP_SOURCE_DIR << "/scenarios/hw/npu_4x4.yaml\nmodel: qwen3-0.6b\n"
                                     << "parallelism: {tp: 2, colour: red}\n";
    const auto [rc, out] = shell(npuvp + dir + "/bad.yaml --out " + dir);
    INFO(out);
    CHECK(rc != 0);
    CHECK(out.find("bad.yaml:3") != std::string::npos);
    CHECK(out.find("colour") != std::string::npos);
  }
  {
    // 32 cores of tensor parallelism on a 16-core chip.
    std::ofstream(dir + "/big.yaml") << "hw: " << NPUVP_SOURCE_DIR << "/scenarios/hw/npu_4x4.yaml\nmodel: qwen3-0.6b\n"
                                     << "parallelism: {tp: 32}\nstep: {decode: {batch: 1, context: 16}}\n";
    const auto [rc, out] = shell(npuvp + dir + "/big.yaml --out " + dir);
    INFO(out);
    CHECK(rc != 0);
    CHECK(out.find("error") != std::string::npos);
  }
  CHECK(!std::filesystem::exists(dir + "/stats.json"));
  CHECK(!std::filesystem::exists(dir + "/trace.json"));
}

TEST_CASE("npuvp run and bench roofline check their overrides and outputs before running", "[run][cli]") {
  const std::string dir = "run_cli_override";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string tiny = std::string(NPUVP_SOURCE_DIR) + "/scenarios/run/tiny_functional_4x4.yaml --out " + dir;
  struct bad {
    std::string command, message;
    int rc;
  };
  // Before: --layers -3 was an internal error (exit 3), --layers 40 on
  // a 4-layer model and bench roofline --mode xx were not checked.
  for (const bad& b : {
           bad{npuvp + tiny + " --layers -3", "--layers must be 0 (all) or more, not -3", 2},
           bad{npuvp + tiny + " --layers 40", "with --layers 40: step.layers: 40 layers, tiny has 4", 1},
           bad{npuvp + tiny + " --mode xx", "--mode must be at or lt, not xx", 2},
           bad{std::string(NPUVP_BINARY) + " bench roofline --mode xx", "--mode must be at or lt, not xx", 2},
           bad{std::string(NPUVP_BINARY) + " bench roofline --layers 0", "--layers must be 1 or more, not 0", 2},
           // Checked before the simulation (before: written after it, failing at the end of the run).
           bad{npuvp + tiny + " --stats no_such_folder/stats.json",
               "cannot write 'no_such_folder/stats.json': no folder 'no_such_folder'", 1},
       }) {
    const auto [rc, out] = shell(b.command);
    INFO(b.command << "\n" << out);
    CHECK(rc == b.rc);
    CHECK_THAT(out, Catch::Contains("npuvp: error: ") && Catch::Contains(b.message));
  }
  CHECK(!std::filesystem::exists(dir + "/stats.json"));
}

// npuvp run and bench dma share run_chip; the scenario lowering rejects an
// HBM that is too small, bench dma does not, so it reaches the simulation.
TEST_CASE("a simulation error while the cores stream exits 1 with the error, no crash and no stats file",
          "[run][cli]") {
  const std::string dir = "run_cli_sim_error";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // 8 channels x 2 pseudo-channels x 16 banks x 1 row x 1 KiB = 256 KiB of
  // HBM: cores 0-3 stream their 64 KiB while cores 4-15 read past the end.
  std::ofstream(dir + "/hw.yaml")
      << "name: npu4x4\nmesh: {width: 4, height: 4}\n"
      << "hbm: {mode: at, preset: hbm2e, channels: 8, interleave_bytes: 256, org: {rows: 1}}\n";
  const auto [rc, out] = shell(std::string(NPUVP_BINARY) + " bench dma --hw " + dir +
                               "/hw.yaml --bytes-per-core 65536 " + "--tile 8192 --stats " + dir + "/stats.json");
  INFO(out);
  CHECK(rc == 1);
  // The setup and the run's size come first, before the simulation.
  CHECK_THAT(out, Catch::StartsWith("bench dma on npu4x4: 16 cores x 65536 B (blocked) in 8 dma commands of 8192 B "
                                    "per core") &&
                      Catch::Contains("\nnpuvp: error: npu4x4.core_") && Catch::Contains(") command 0 (dma") &&
                      Catch::Contains("error response"));
  CHECK_THAT(out, !Catch::Contains("Warning"));  // one sc_stop, no SystemC W545 noise
  CHECK(!std::filesystem::exists(dir + "/stats.json"));
}
