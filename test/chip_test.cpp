// The assembled chip: command streams lowered by kernels/ run on 16 cores,
// real HBM channels and the fabric. Each simulation runs in its own process
// (run_isolated), so one test case can compare several runs.
#include "platform/chip.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kernels/collectives.h"
#include "kernels/partition/partition.h"
#include "platform/base/error.h"
#include "platform/base/file_io.h"
#include "platform/base/trace.h"
#include "platform/chip_run.h"
#include "platform/sim/isolated_run.h"

using namespace npuvp;
using namespace npuvp::kernels;

namespace {

// 4x4 mesh of 128x128 arrays with 2 MiB SRAM each, 8 HBM2E channels (AT).
hw_config test_hw(bool functional) {
  hw_config hw = parse_hw_config(R"(
name: npu4x4
mesh: {width: 4, height: 4}
core:
  clock_ghz: 1.0
  sram: {capacity_kib: 2048}
hbm: {mode: at, preset: hbm2e, channels: 8, interleave_bytes: 256}
)",
                                 "chip_test");
  hw.functional = functional;
  return hw;
}

std::vector<program> lowered(const hw_config& hw, const std::string& strategy, const group_map& map,
                             const std::vector<gemm_job>& jobs) {
  lowering_context ctx(hw);
  lower_gemm(ctx, *make_partition(strategy), map, jobs);
  return ctx.finish();
}

// Lowers `groups` GEMMs of M x K x N onto groups of `n` cores with
// `strategy` on `placement`, runs them on the chip and returns the
// simulated time, the MACs done and (functional) the worst error against a
// plain fp32 matmul.
nlohmann::json run_gemm(const std::string& strategy, const std::string& placement, bool functional, int groups, int n,
                        uint32_t M, uint32_t K, uint32_t N) {
  const hw_config hw = test_hw(functional);
  chip npu(hw);
  const group_map map = make_placement(placement)->place(groups, n, hw.mesh.width, hw.mesh.height);
  const auto jobs = stacked_gemm_jobs(groups, M, K, N);
  npu.load_programs(lowered(hw, strategy, map, jobs));
  std::vector<std::vector<float>> a(groups), b(groups);
  if (functional) {
    std::mt19937 rng(1234);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (int g = 0; g < groups; ++g) {
      a[g].resize(uint64_t(M) * K);
      b[g].resize(uint64_t(K) * N);
      for (auto& x : a[g]) x = dist(rng);
      for (auto& x : b[g]) x = dist(rng);
      npu.write_hbm_floats(jobs[g].a, a[g]);
      npu.write_hbm_floats(jobs[g].b, b[g]);
      npu.write_hbm_floats(jobs[g].c, std::vector<float>(uint64_t(M) * N, NAN));
    }
  }
  const double elapsed_ns = npu.run().to_seconds() * 1e9;
  stats_writer st;
  npu.report_stats(st);
  double macs = 0;
  for (int c = 0; c < npu.cores(); ++c)
    macs += st.value(hw.name + ".core_" + std::to_string(c % 4) + "_" + std::to_string(c / 4) + ".matrix", "macs");
  double worst = 0;
  if (functional)
    for (int g = 0; g < groups; ++g) {
      const auto c = npu.read_hbm_floats(jobs[g].c, uint64_t(M) * N);
      for (uint32_t i = 0; i < M; ++i)
        for (uint32_t j = 0; j < N; ++j) {
          double ref = 0;
          for (uint32_t k = 0; k < K; ++k) ref += double(a[g][uint64_t(i) * K + k]) * b[g][uint64_t(k) * N + j];
          const double err = std::abs(ref - c[uint64_t(i) * N + j]);
          if (!(err <= worst)) worst = err;  // NaN (an element never stored) sticks
        }
    }
  return {{"elapsed_ns", elapsed_ns}, {"macs", macs}, {"worst", worst}};
}

const std::vector<std::string> placements = {"linear_sequential", "linear_interleaved", "mesh_block", "ring_block"};

}  // namespace

namespace {
// One strategy on every placement, 2 groups of 8 cores, 192 x 260 x 320.
void check_strategy(const std::string& strategy) {
  std::vector<isolated_job> jobs;
  for (const auto& p : placements)
    jobs.push_back([strategy, p] { return run_gemm(strategy, p, true, 2, 8, 192, 260, 320); });
  const auto results = run_isolated(jobs, 2);
  for (size_t i = 0; i < results.size(); ++i) {
    INFO(strategy << " on " << placements[i] << ": " << results[i].dump());
    CHECK(results[i]["worst"].get<double>() < 1e-3);
    CHECK(results[i]["macs"].get<double>() >= 2.0 * 192 * 260 * 320);
    CHECK(results[i]["elapsed_ns"].get<double>() > 0);
  }
}
}  // namespace

TEST_CASE("chip: mn_split on every placement computes the GEMM (functional)", "[chip]") { check_strategy("mn_split"); }
TEST_CASE("chip: k_split on every placement computes the GEMM (functional)", "[chip]") { check_strategy("k_split"); }
TEST_CASE("chip: mnk_2d on every placement computes the GEMM (functional)", "[chip]") { check_strategy("mnk_2d"); }
TEST_CASE("chip: megatron on every placement computes the GEMM (functional)", "[chip]") { check_strategy("megatron"); }
TEST_CASE("chip: the partition strategies are the four the chip tests cover", "[chip]") {
  CHECK(partition_names() == std::vector<std::string>{"mn_split", "k_split", "mnk_2d", "megatron"});
}

TEST_CASE("chip: timing-only and functional runs of the same program take the same time", "[chip]") {
  std::vector<isolated_job> jobs;
  for (bool functional : {false, true}) {
    jobs.push_back([functional] { return run_gemm("k_split", "ring_block", functional, 2, 8, 192, 260, 320); });
    jobs.push_back([functional] { return run_gemm("mnk_2d", "mesh_block", functional, 1, 16, 256, 256, 256); });
  }
  const auto r = run_isolated(jobs, 2);
  INFO(r[0].dump() << "\n" << r[1].dump() << "\n" << r[2].dump() << "\n" << r[3].dump());
  CHECK(r[0]["elapsed_ns"].get<double>() == r[2]["elapsed_ns"].get<double>());
  CHECK(r[1]["elapsed_ns"].get<double>() == r[3]["elapsed_ns"].get<double>());
  CHECK(r[3]["worst"].get<double>() < 1e-3);
  // Both much longer than the compute alone: 16 cores x 128x128 at 1 GHz
  // would need 256^3 / (16 * 16384) = 64 ns of MACs for the second GEMM.
  CHECK(r[1]["elapsed_ns"].get<double>() > 64);
}

TEST_CASE("chip: a deadlocked program is reported with every blocked command", "[chip]") {
  chip npu(test_hw(false));
  // Core 0 waits for core 1 and core 1 for core 0 before either signals.
  npu.load_programs({{wait_cmd{engine::sync, 16, 1}, signal_cmd{engine::sync, 17, 1, 1}, end_cmd{}},
                     {wait_cmd{engine::sync, 17, 1}, signal_cmd{engine::sync, 16, 0, 1}, end_cmd{}},
                     {matmul_cmd{engine::matrix, dtype::fp32, false, false, 4, 4, 4, 0, 64, 128, 4, 4, 4}, end_cmd{}}});
  try {
    npu.run();
    FAIL("no deadlock reported");
  } catch (const simulation_error& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("deadlock"));
    CHECK_THAT(what, Catch::Contains("npu4x4.core_0_0 (core 0) command 0 (wait     sync   sem=16 count=1)"));
    CHECK_THAT(what, Catch::Contains("npu4x4.core_1_0 (core 1) command 0 (wait     sync   sem=17 count=1)"));
    CHECK_THAT(what, !Catch::Contains("core_2_0"));  // finished
  }
  CHECK(npu.core(2).done());
}

TEST_CASE("chip: stats and trace cover every engine of every core", "[chip]") {
  trace_writer trace;
  hw_config hw = test_hw(false);
  chip npu(hw, &trace);
  const group_map map = make_placement("mesh_block")->place(1, 16, 4, 4);
  npu.load_programs(lowered(hw, "megatron", map, {gemm_job{128, 256, 512, 0, 1 << 20, 2 << 20}}));
  const double elapsed = npu.run().to_seconds() * 1e9;
  stats_writer st;
  npu.report_stats(st);
  CHECK(st.value("npu4x4", "elapsed_ns") == Approx(elapsed));
  double macs = 0, commands = 0, end = 0;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      const std::string core = "npu4x4.core_" + std::to_string(x) + "_" + std::to_string(y);
      macs += st.value(core + ".matrix", "macs");
      commands += st.value(core, "commands");
      end = std::max(end, st.value(core, "end_ns"));
      CHECK(st.value(core + ".dma", "descriptors") > 0);  // the dma_engine's own group
      CHECK(st.value(core + ".sram", "writes") > 0);
    }
  CHECK(macs == 128.0 * 256 * 512);
  CHECK(end == Approx(elapsed));
  CHECK(st.value("npu4x4.hbm_0", "reads") > 0);
  // One trace event per command except `end` (16 of them), plus HBM accesses.
  CHECK(trace.event_count() >= commands - 16);
}

namespace {

// Ring all-reduce of `elems` fp32 per rank over the `n` cores of a
// ring_block placement (SRAM in lt mode: no bank conflicts, so every rank
// and step is alike). Returns the time and whether every rank holds the sum.
nlohmann::json run_all_reduce(int n, uint64_t elems, const std::string& noc_mode) {
  hw_config hw = test_hw(true);
  hw.core.sram.mode = "lt";
  hw.noc.mode = noc_mode;
  chip npu(hw);
  const std::vector<int> ring = core_ids(make_placement("ring_block")->place(1, n, 4, 4)[0], 4);
  lowering_context ctx(hw);
  const uint32_t data = ctx.alloc_symmetric(ring, elems * 4, "all-reduce data");
  ring_all_reduce(ctx, ring, data, elems, engine::dma);
  npu.load_programs(ctx.finish());
  for (int r = 0; r < n; ++r) {
    std::vector<float> v(elems);
    for (uint64_t e = 0; e < elems; ++e) v[e] = float(r + 1) + float(e % 3);
    npu.core(ring[r]).write_sram(data, v.data(), elems * 4);
  }
  const double t = npu.run().to_seconds() * 1e9;
  bool sums = true;
  for (int r = 0; r < n; ++r) {
    std::vector<float> v(elems);
    npu.core(ring[r]).read_sram(data, v.data(), elems * 4);
    for (uint64_t e = 0; e < elems; ++e) sums &= v[e] == float(n * (n + 1) / 2) + float(n) * float(e % 3);
  }
  return {{"elapsed_ns", t}, {"sums", sums}, {"message_ns", npu.message_latency(0, 1).to_seconds() * 1e9}};
}

// One send of `bytes` between two neighbours on an idle chip: when the recv completes.
nlohmann::json run_send(uint32_t bytes, const std::string& noc_mode) {
  hw_config hw = test_hw(false);
  hw.core.sram.mode = "lt";
  hw.noc.mode = noc_mode;
  chip npu(hw);
  npu.load_programs(
      {{send_cmd{engine::dma, 1, 0, 0, bytes, 0}, end_cmd{}}, {recv_cmd{engine::dma, 0, 0, bytes, 0}, end_cmd{}}});
  return {{"elapsed_ns", npu.run().to_seconds() * 1e9}};
}

}  // namespace

TEST_CASE("chip: ring all-reduce takes the 2(n-1) steps the ring algorithm implies", "[chip]") {
  const int n = 8;
  const uint64_t elems = 8 * 1024;  // 4 KiB chunks
  const auto r = run_isolated({[] { return run_all_reduce(n, elems, "lt"); }, [] { return run_send(4096, "lt"); },
                               [] { return run_all_reduce(n, elems, "at"); }, [] { return run_send(4096, "at"); }},
                              2);
  INFO(r[0].dump() << "\n" << r[1].dump() << "\n" << r[2].dump() << "\n" << r[3].dump());
  CHECK(r[0]["sums"].get<bool>());
  CHECK(r[2]["sums"].get<bool>());
  // Reduce-scatter step: send, arrival notice, add of 1024 elements
  // (8 + 1024/64 = 24 cycles at 1 GHz); all-gather step: send, notice; and
  // one notice between the phases ("go" to the previous rank):
  //   T = 2(n-1) (t_send + L) + (n-1) t_add + L,
  // with t_send + L measured by one send between neighbours on an idle chip.
  auto expected = [&](const nlohmann::json& send, const nlohmann::json& ar) {
    return 2 * (n - 1) * send["elapsed_ns"].get<double>() + (n - 1) * 24.0 + ar["message_ns"].get<double>();
  };
  // NoC lt ignores contention: every step is exactly the idle send.
  CHECK(r[0]["elapsed_ns"].get<double>() == Approx(expected(r[1], r[0])).epsilon(1e-9));
  // NoC at: each core's router port carries its own send's read responses and
  // the previous rank's writes at once, so steps take a little longer.
  CHECK(r[2]["elapsed_ns"].get<double>() >= expected(r[3], r[2]));
  CHECK(r[2]["elapsed_ns"].get<double>() <= 1.1 * expected(r[3], r[2]));
}

TEST_CASE("chip: a DMA outside the memory map stops the run naming the command", "[chip]") {
  const hw_config hw = test_hw(false);
  chip npu(hw);
  dma_cmd d;
  d.src_space = mem_space::hbm;
  d.src = npu.map().hbm_bytes();  // one past the last HBM byte
  d.row_bytes = 256;
  npu.load_programs({{d, end_cmd{}}});
  CHECK_THROWS_WITH(npu.run(), Catch::Contains("npu4x4.core_0_0 (core 0) command 0 (dma") &&
                                   Catch::Contains("error response"));
}

TEST_CASE("chip: a compute operand beyond the SRAM stops the run, also in timing-only mode", "[chip]") {
  // 256 bytes written, the last one past the end of core 1's SRAM.
  auto beyond = [](bool functional) -> isolated_job {
    return [functional] {
      chip npu(test_hw(functional));
      vector_cmd v;
      v.op = vector_op::copy;
      v.cols = 64;
      v.dst = uint32_t(npu.map().sram_bytes() - 255);
      npu.load_programs({{end_cmd{}}, {v, end_cmd{}}});
      try {
        npu.run();
      } catch (const std::exception& e) {
        return nlohmann::json{{"error", e.what()}, {"sram", npu.map().sram_bytes()}};
      }
      return nlohmann::json{{"error", ""}};
    };
  };
  for (const nlohmann::json& r : run_isolated({beyond(false), beyond(true)}, 2)) {
    INFO(r.dump());
    const uint64_t sram = r.value("sram", uint64_t(0));
    CHECK_THAT(r["error"].get<std::string>(),
               Catch::Contains("npu4x4.core_1_0 (core 1) command 0 (vector") &&
                   Catch::Contains("writes SRAM range [" + std::to_string(sram - 255) + ", " +
                                   std::to_string(sram + 1) + "), beyond its " + std::to_string(sram) + " bytes"));
  }
}

namespace {
// Every core of the shipped 4x4 preset streams 256 KiB of HBM into its SRAM
// in dma commands of 8 KiB, tiles interleaved over the cores (tile j of core
// c at (16 j + c) x 8 KiB); returns the aggregate GB/s.
isolated_job stream_job(int in_flight, int max_outstanding, int flit_bytes) {
  return [=] {
    hw_config hw = load_hw_config(std::string(NPUVP_SOURCE_DIR) + "/scenarios/hw/npu_4x4.yaml");
    hw.core.dma.descriptors_in_flight = in_flight;
    hw.core.dma.max_outstanding = max_outstanding;
    hw.noc.flit_bytes = flit_bytes;
    const uint64_t per_core = 256 << 10, tile = 8 << 10;
    lowering_context ctx(hw);
    for (int c = 0; c < ctx.cores(); ++c) {
      const uint32_t buf = ctx.alloc(c, per_core, "stream");
      for (uint64_t off = 0; off < per_core; off += tile) {
        dma_cmd d;
        d.src = (off / tile * uint64_t(ctx.cores()) + uint64_t(c)) * tile;
        d.dst = buf + off;
        d.row_bytes = static_cast<uint32_t>(tile);
        ctx.emit(c, d);
      }
    }
    chip npu(hw);
    npu.load_programs(ctx.finish());
    const double ns = npu.run().to_seconds() * 1e9;
    return nlohmann::json{{"gbps", double(per_core) * hw.mesh.width * hw.mesh.height / ns},
                          {"peak", hw.hbm.peak_gbps() * hw.hbm.channels}};
  };
}
}  // namespace

TEST_CASE("chip: an HBM stream over all 16 cores of the 4x4 preset reaches 70 % of the HBM peak", "[chip]") {
  const auto r = run_isolated({stream_job(4, 32, 64), stream_job(1, 16, 32)}, 2);
  const double peak = r[0]["peak"];
  CHECK(peak == Approx(8 * 51.2));
  // The shipped preset: 4 descriptors and 32 bursts in flight per core, 64 B flits.
  CHECK(double(r[0]["gbps"]) >= 0.7 * peak);
  // The previous sizing (one command at a time, 16 bursts, 32 B flits: a
  // channel's NoC port carries at most 32 x 8/9 GB/s) stays below 55 %.
  CHECK(double(r[1]["gbps"]) < 0.55 * peak);
}

namespace {
enum class fault { bad_dma, thrown };

// All 16 cores stream 16 x 8 KiB of HBM into their SRAM (tile j of core c at
// (16 j + c) x 8 KiB), so NoC buffers, HBM queues and DMA engines are full
// when `f` stops the run: bad_dma: core 5's third command reads one past the
// last HBM byte; thrown: a process throws simulation_error at 300 ns (a
// module's protocol check). `busy` gets the number of DMA engines with
// descriptors in flight when it stopped. The chip is destroyed with their
// payloads in flight; the error propagates.
void run_faulty_stream(fault f, int& busy) {
  const hw_config hw = test_hw(false);
  const uint64_t tile = 8 << 10;
  std::vector<program> programs(16);
  for (int c = 0; c < 16; ++c) {
    for (uint64_t j = 0; j < 16; ++j) {
      dma_cmd d;
      d.src = (j * 16 + uint64_t(c)) * tile;
      d.dst = j * tile;
      d.row_bytes = static_cast<uint32_t>(tile);
      programs[c].push_back(d);
    }
    programs[c].push_back(end_cmd{});
  }
  chip npu(hw);
  if (f == fault::bad_dma) {
    dma_cmd bad;
    bad.src = npu.map().hbm_bytes();
    bad.dst = 256 << 10;
    bad.row_bytes = 256;
    programs[5].insert(programs[5].begin() + 2, bad);
  } else {
    sc_core::sc_spawn([] {
      sc_core::wait(300, sc_core::SC_NS);
      throw simulation_error("test.fault: protocol error at 300 ns");
    });
  }
  npu.load_programs(programs);
  try {
    npu.run();
  } catch (...) {
    for (int c = 0; c < npu.cores(); ++c) busy += npu.core(c).dma().idle() ? 0 : 1;
    throw;
  }
}

// The error text and busy DMA engines, or what run_isolated reports for a crash.
nlohmann::json faulty_stream_error(fault f) {
  int busy = 0;
  try {
    run_faulty_stream(f, busy);
  } catch (const std::exception& e) {
    return {{"error", e.what()}, {"busy", busy}};
  }
  return {{"error", ""}, {"busy", busy}};
}
}  // namespace

TEST_CASE("chip: a simulation error with traffic in flight is reported, not a crash", "[chip]") {
  const auto r = run_isolated(
      {[] { return faulty_stream_error(fault::bad_dma); }, [] { return faulty_stream_error(fault::thrown); }}, 2);
  INFO(r[0].dump() << "\n" << r[1].dump());
  CHECK_THAT(r[0]["error"].get<std::string>(),
             Catch::Contains("npu4x4.core_1_1 (core 5) command 2 (dma") && Catch::Contains("error response"));
  CHECK_THAT(r[1]["error"].get<std::string>(), Catch::Contains("test.fault: protocol error at 300 ns"));
  // Most engines were still streaming: the chip was torn down mid-traffic.
  CHECK(r[0]["busy"].get<int>() >= 12);
  CHECK(r[1]["busy"].get<int>() >= 12);
  // Propagated out of the child, the error names the simulation.
  int busy = 0;
  CHECK_THROWS_WITH(run_isolated({[&] {
                                   run_faulty_stream(fault::bad_dma, busy);
                                   return nlohmann::json();
                                 }},
                                 1),
                    Catch::StartsWith("simulation 1 of 1: npu4x4.core_1_1 (core 5) command 2 (dma"));
}

TEST_CASE("run_chip: the progress line shows the simulated time and the finished cores, then is cleared", "[chip]") {
  const std::string path = "chip_test_progress.txt";
  const auto r = run_isolated(
      {[&] {
        const hw_config hw = test_hw(false);
        const group_map map = make_placement("mesh_block")->place(1, 16, 4, 4);
        chip_run_options options;
        options.progress = true;
        options.progress_every_s = 0;  // a line at every 10 us of simulated time
        // stderr into a file for the run (the child's own descriptor 2)
        std::fflush(stderr);
        if (!std::freopen(path.c_str(), "w", stderr)) throw error("cannot write " + path);
        const double ns = run_chip(hw, lowered(hw, "mn_split", map, stacked_gemm_jobs(1, 256, 512, 256)), options)
                              .value(hw.name, "elapsed_ns");
        std::fflush(stderr);
        return nlohmann::json{{"ns", ns}, {"stderr", read_file(path)}};
      }},
      1);
  std::remove(path.c_str());
  const std::string err = r[0]["stderr"];
  INFO(err);
  CHECK(r[0]["ns"].get<double>() > 20e3);  // long enough for two lines
  CHECK_THAT(err, Catch::Contains("\r  simulated 10.000 us, 0/16 cores finished") &&
                      Catch::Contains("\r  simulated 20.000 us, 0/16 cores finished"));
  // Cleared at the end: the last thing written is a blank line and a return.
  const size_t last = err.find_last_of('\r', err.size() - 2);
  REQUIRE(last != std::string::npos);
  CHECK(err.back() == '\r');
  CHECK(err.find_first_not_of(' ', last + 1) == err.size() - 1);
}
