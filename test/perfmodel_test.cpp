// Analytical performance model: hand-computed timings of single commands,
// transfers, sharing, synchronisation and collectives; lowered GEMMs against
// their FLOP and HBM bounds; calibration file and fit.
#include "perfmodel/perfmodel.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <iostream>
#include <optional>
#include <tuple>

#include "kernels/collectives.h"
#include "kernels/partition/partition.h"
#include "kernels/step_lowering.h"
#include "kernels/transformer_layer.h"
#include "models/npu_core/core_timing.h"
#include "perfmodel/calibration.h"
#include "perfmodel/hbm_rows.h"
#include "platform/base/stopwatch.h"
#include "platform/memory_map.h"

using namespace npuvp;
using namespace npuvp::kernels;
using namespace npuvp::perf;

namespace {

// The 4x4 preset with the NoC width and DMA depth the hand-computed figures
// below were written for (32 B flits: 8/9 payload efficiency; 16 bursts).
hw_config hw4x4() {
  hw_config hw = load_hw_config(std::string(NPUVP_SOURCE_DIR) + "/scenarios/hw/npu_4x4.yaml");
  hw.noc.flit_bytes = 32;
  hw.core.dma.max_outstanding = 16;
  return hw;
}

std::vector<program> idle(const hw_config& hw) {
  return std::vector<program>(static_cast<size_t>(hw.mesh.width * hw.mesh.height), program{end_cmd{}});
}

// A dense [m x k] x [k x n] matmul with packed operands at SRAM offset 0 (A), b and c.
matmul_cmd dense_matmul(uint32_t m, uint32_t k, uint32_t n, uint32_t b = 0, uint32_t c = 0) {
  matmul_cmd mm;
  mm.m = m;
  mm.k = k;
  mm.n = n;
  mm.lda = k;
  mm.ldb = mm.ldc = n;
  mm.b = b;
  mm.c = c;
  return mm;
}

// Payload bandwidth of one NoC link or port, bytes/ns.
double link_bw(const hw_config& hw, const perf_params& p) {
  return hw.noc.link_bytes_per_ns() * p.noc_payload_efficiency;
}

std::vector<program> lowered(const hw_config& hw, const std::string& strategy, const group_map& map,
                             const std::vector<gemm_job>& jobs) {
  lowering_context ctx(hw);
  lower_gemm(ctx, *make_partition(strategy), map, jobs);
  return ctx.finish();
}

// The share of its rate a DMA that no HBM channel bounds keeps through the
// refreshes (flow_network::set_refresh): `window` bytes in flight at `rate`.
double refresh_kept(const perf_params& p, double window, double rate) {
  return 1.0 - std::max(0.0, p.hbm_refresh_blocked_ns - window / rate) / p.hbm_refresh_interval_ns;
}

const breakdown_row& kind_row(const perf_result& r, const std::string& name) {
  for (const auto& row : r.by_kind)
    if (row.name == name) return row;
  FAIL("no breakdown row " << name);
  return r.by_kind.front();
}

}  // namespace

TEST_CASE("perfmodel: first-principles parameters come from the hardware config", "[perfmodel]") {
  const hw_config hw = hw4x4();
  const perf_params p = first_principles_params(hw);
  const hbm_timing& t = hw.hbm.timing;
  CHECK(p.hbm_read_latency_ns == Approx((t.tRCD + t.tCL + t.tBURST) * t.tck_ns));
  CHECK(p.hbm_efficiency_sequential == Approx(1.0 - double(t.tRFC) / t.tREFI));
  CHECK(p.hbm_refresh_interval_ns == Approx(t.tREFI * t.tck_ns));
  CHECK(p.hbm_refresh_blocked_ns == Approx((t.tRP + t.tRFC) * t.tck_ns));
  CHECK(p.hbm_efficiency_random < p.hbm_efficiency_strided + 1e-12);
  // Router 2 + link 1 NoC cycles at 1 GHz; a 256 B burst is a header plus 8 data flits of 32 B.
  CHECK(p.noc_hop_ns == Approx(3.0));
  CHECK(p.noc_payload_efficiency == Approx(8.0 / 9.0));
  CHECK(p.dma_setup_ns == Approx(16.0));
  CHECK(p.sram_access_ns == Approx(2.0));
  CHECK(p.barrier_release_ns == Approx(2 * (3.0 + 1.0)));
  // A full controller queue of 32 bursts of 256 B drained at 51.2 GB/s.
  CHECK(p.share_queue_ns == Approx(32 * 256 / 51.2));
}

TEST_CASE("perfmodel: a single matmul takes the core_timing cycles", "[perfmodel]") {
  const hw_config hw = hw4x4();
  auto programs = idle(hw);
  const matmul_cmd m = dense_matmul(64, 128, 96, 64 * 128 * 4, 64 * 128 * 4 + 128 * 96 * 4);
  programs[3] = {m, end_cmd{}};
  const perf_result r = evaluate(hw, programs, first_principles_params(hw));
  // 2k + n + m - 2 = 256 + 96 + 64 - 2 = 414 cycles at 1 GHz.
  CHECK(r.time_ns == Approx(414.0));
  CHECK(r.time_ns == Approx(double(core_timing::matmul_cycles(64, 128, 96, hw.core.matrix))));
  CHECK(r.core_end_ns[3] == Approx(414.0));
  CHECK(r.core_end_ns[0] == 0.0);
  CHECK(r.flops == Approx(2.0 * 64 * 128 * 96));
  const auto& row = kind_row(r, "matmul");
  CHECK(row.commands == 1);
  CHECK(row.busy_ns == Approx(414.0));
  CHECK(row.bounded_by() == bound::compute);
  CHECK(r.bounded_by == bound::compute);
}

TEST_CASE("perfmodel: a matmul larger than the array runs as folds", "[perfmodel]") {
  const hw_config hw = hw4x4();
  auto programs = idle(hw);
  const matmul_cmd m = dense_matmul(50, 300, 200);  // folds of 128, 128, 44 rows and 128, 72 columns
  programs[0] = {m, end_cmd{}};
  // Folds back to back with double-buffered weights (as test/npu_core_test.cpp's
  // same command): load 128, 3 x max(50, 128), 3 x 50, drain 44 + 72 - 2:
  // 776 cycles at 1 GHz (each fold alone by 2k + n + m - 2: 1292).
  CHECK(evaluate(hw, programs, first_principles_params(hw)).time_ns == Approx(776.0));
}

TEST_CASE("perfmodel: a matmul right behind another overlaps it as in the TLM core", "[perfmodel]") {
  const hw_config hw = hw4x4();
  auto programs = idle(hw);
  const matmul_cmd m = dense_matmul(64, 128, 96);
  programs[0] = {m, m, end_cmd{}};
  // 414 cycles, then the second hides the first's drain 128 + 96 - 2 = 222 and
  // min(128, 64) = 64 cycles of its weight load: 414 - 286 = 128. 542 ns at 1 GHz.
  CHECK(evaluate(hw, programs, first_principles_params(hw)).time_ns == Approx(542.0));
}

TEST_CASE("perfmodel: a vector command takes the core_timing cycles", "[perfmodel]") {
  const hw_config hw = hw4x4();
  auto programs = idle(hw);
  vector_cmd v;
  v.op = vector_op::softmax;
  v.rows = 16;
  v.cols = 1000;
  v.dst = 64000;
  programs[0] = {v, end_cmd{}};
  const perf_result r = evaluate(hw, programs, first_principles_params(hw));
  // 8 + ceil(16000 x 3 passes / 64 lanes) = 758 cycles.
  CHECK(r.time_ns == Approx(758.0));
  CHECK(kind_row(r, "vector softmax").vector_elements == 16000);
}

TEST_CASE("perfmodel: an HBM load on an idle chip = setup + round trip + bytes / narrowest bandwidth", "[perfmodel]") {
  const hw_config hw = hw4x4();
  perf_params p = first_principles_params(hw);
  // 64 rows of 256 B, one every 8 x 256 B: all in HBM channel 0, at router (0,0).
  REQUIRE(hbm_channel_routers(hw)[0] == (std::array<int, 2>{0, 0}));
  dma_cmd d;
  d.src = 0;
  d.row_bytes = 256;
  d.rows = 64;
  d.src_stride = 8 * 256;
  d.dst_stride = 256;
  const double bytes = 64 * 256;
  auto programs = idle(hw);
  programs[5] = {d, end_cmd{}};  // core 5 at (1,1): 2 links, 3 routers from (0,0)
  // Read: request and response across 3 routers plus the HBM latency; write: local SRAM.
  const double tail = 2 * 3 * p.noc_hop_ns + p.hbm_read_latency_ns + p.sram_access_ns;
  const double dma_cap = std::min(256 * hw.core.clock_ghz / 2, hw.core.dma.max_outstanding * 256 / tail);

  const double window = hw.core.dma.max_outstanding * 256;

  SECTION("NoC bound") {
    const double bw = std::min({link_bw(hw, p), hw.hbm.peak_gbps() * p.hbm_efficiency_strided, dma_cap});
    REQUIRE(bw == Approx(link_bw(hw, p)));
    // The refreshes stall it: its window holds less than a refresh's worth of data.
    REQUIRE(refresh_kept(p, window, bw) < 1);
    const perf_result r = evaluate(hw, programs, p);
    CHECK(r.time_ns == Approx(p.dma_setup_ns + tail + bytes / (bw * refresh_kept(p, window, bw))));
    CHECK(r.hbm_read_bytes == bytes);
    CHECK(r.noc_link_bytes == Approx(2 * bytes));
    CHECK(kind_row(r, "dma load").bounded_by() == bound::noc);
    CHECK(r.hbm_channel_utilisation[0] > 0);
    CHECK(r.hbm_channel_utilisation[1] == 0);
  }
  SECTION("HBM bound when the strided efficiency is low") {
    p.hbm_efficiency_strided = 0.25;
    const double bw = hw.hbm.peak_gbps() * 0.25;
    REQUIRE(bw < link_bw(hw, p));
    const perf_result r = evaluate(hw, programs, p);
    CHECK(r.time_ns == Approx(p.dma_setup_ns + tail + bytes / bw));
    CHECK(kind_row(r, "dma load").bounded_by() == bound::hbm);
  }
  SECTION("through the local port when the local SRAM is reached over the NoC") {
    p.local_sram_via_noc = true;
    // The write crosses core 5's router too: its ejection port carries the
    // read data, the write data and the write responses (one header-only flit
    // per 256 B burst, at payload efficiency: 2 + 0.8 x 64 / 256 = 2.2 units
    // per byte; the read requests leave through the injection port).
    const double tail2 = tail + 2 * 1 * p.noc_hop_ns;
    const double control = p.noc_payload_efficiency * hw.noc.flit_bytes / hw.core.dma.burst_bytes;
    const perf_result r = evaluate(hw, programs, p);
    CHECK(r.time_ns == Approx(p.dma_setup_ns + tail2 + bytes / (link_bw(hw, p) / (2 + control))));
    CHECK(r.noc_link_bytes == Approx(2 * bytes));
  }
  SECTION("DMA issue bound with few outstanding bursts") {
    hw_config slow = hw;
    slow.core.dma.max_outstanding = 2;
    const double cap = 2 * 256 / tail;
    REQUIRE(cap < link_bw(hw, p));
    const perf_result r = evaluate(slow, programs, p);
    CHECK(r.time_ns == Approx(p.dma_setup_ns + tail + bytes / (cap * refresh_kept(p, 2 * 256, cap))));
    CHECK(kind_row(r, "dma load").bounded_by() == bound::dma_issue);
  }
}

TEST_CASE("perfmodel: the DMA request rate counts the bursts of every row, as the engine cuts them", "[perfmodel]") {
  const hw_config hw = hw4x4();
  const perf_params p = first_principles_params(hw);
  // A local copy of 640 B rows: the source rows start half a burst in (128
  // mod 256), the destination rows alternately at 0 and 128 mod 256. The
  // engine cuts a burst at every 256 B boundary of either side: 5 bursts for
  // the even rows (128 | 128 | 128 | 128 | 128), 3 for the odd ones (128 |
  // 256 | 256), i.e. 160 B per burst and two requests (read, write) of one
  // core cycle each per burst. The first row alone would say 128 B per burst.
  dma_cmd d;
  d.src_space = mem_space::sram;
  d.dst_space = mem_space::sram;
  d.src = 128;
  d.dst = 64 * 1024;
  d.row_bytes = 640;
  d.rows = 64;
  d.src_stride = 20 * 256;
  d.dst_stride = 640;
  auto programs = idle(hw);
  programs[5] = {d, end_cmd{}};
  const double rate = 160 * hw.core.clock_ghz / 2;
  const double tail = 2 * p.sram_access_ns;
  REQUIRE(hw.core.dma.max_outstanding * 160 / tail > rate);
  const perf_result r = evaluate(hw, programs, p);
  CHECK(r.time_ns == Approx(p.dma_setup_ns + tail + 64 * 640 / rate));
  CHECK(kind_row(r, "dma copy").bounded_by() == bound::dma_issue);
}

TEST_CASE("perfmodel: measured row locality holds a strided stream back, shared as hbm_row_overlap says",
          "[perfmodel]") {
  const hw_config hw = hw4x4();
  perf_params p = first_principles_params(hw);
  // Low enough for the channel, not its NoC port (28.4 GB/s), to bound four streams.
  p.hbm_efficiency_strided = 0.4;
  // Locality 0.5 at a channel-local stride of 12 blocks (3072 B), interpolated
  // linearly between the points around it.
  p.hbm_stride_locality = {{256, 1.0}, {2048, 0.75}, {4096, 0.25}};
  REQUIRE(hbm_channel_routers(hw)[0] == (std::array<int, 2>{0, 0}));
  const uint64_t rows = 64, stride = 12 * 8 * 256;  // every row in channel 0, 3072 B apart there
  auto tile = [&](uint64_t src) {
    dma_cmd d;
    d.src = src;
    d.row_bytes = 256;
    d.rows = static_cast<uint32_t>(rows);
    d.src_stride = stride;
    d.dst_stride = 256;
    return d;
  };
  const double peak = hw.hbm.peak_gbps(), bytes = double(rows) * 256;
  const double window = hw.core.dma.max_outstanding * 256.0;
  // Core 0 sits at channel 0's router: tail = request and response through one router.
  const double tail = 2 * p.noc_hop_ns + p.hbm_read_latency_ns + p.sram_access_ns;
  SECTION("one stream runs at its locality") {
    // At most peak x l (the locality is measured against consecutive blocks, at the peak), or what
    // the channel leaves it: peak x efficiency x l^(1 - overlap).
    auto programs = idle(hw);
    programs[0] = {tile(0), end_cmd{}};
    p.hbm_row_overlap = 0.5;
    // Bound by its rows (not by the channel), it stalls for the refreshes (refresh_kept).
    for (double efficiency : {0.9, 0.4}) {
      p.hbm_efficiency_strided = efficiency;
      const perf_result r = evaluate(hw, programs, p);
      const double row_rate = peak * 0.5, channel_rate = peak * efficiency * std::sqrt(0.5);
      const double rate = row_rate < channel_rate ? row_rate * refresh_kept(p, window, row_rate) : channel_rate;
      INFO("efficiency " << efficiency);
      CHECK(r.time_ns == Approx(p.dma_setup_ns + tail + bytes / rate));
    }
    // The table's reference, consecutive blocks, measured at 0.7 of the peak: 0.7 x peak x l.
    p.hbm_stride_base_fraction = 0.7;
    p.hbm_efficiency_strided = 0.9;
    const double rate = peak * 0.7 * 0.5;
    CHECK(evaluate(hw, programs, p).time_ns ==
          Approx(p.dma_setup_ns + tail + bytes / (rate * refresh_kept(p, window, rate))));
  }
  SECTION("the reference rate caps a lone stream of one block per row even at locality 1") {
    auto programs = idle(hw);
    dma_cmd d = tile(0);
    d.src_stride = 8 * 256;  // consecutive blocks of channel 0
    programs[0] = {d, end_cmd{}};
    p.hbm_efficiency_strided = 0.9;
    p.hbm_stride_base_fraction = 0.5;  // below the channel's 0.9 and the NoC port's 28.4 GB/s
    const double rate = peak * 0.5 * refresh_kept(p, window, peak * 0.5);
    CHECK(evaluate(hw, programs, p).time_ns == Approx(p.dma_setup_ns + tail + bytes / rate));
    p.hbm_stride_base_fraction = 1.0;  // the port or the channel bounds it instead
    CHECK(evaluate(hw, programs, p).time_ns < p.dma_setup_ns + tail + bytes / (peak * 0.5) - 1);
  }
  SECTION("four streams fill the channel up to locality^(1 - overlap)") {
    auto programs = idle(hw);
    for (int c : {0, 1, 4, 5}) programs[static_cast<size_t>(c)] = {tile(uint64_t(c) * rows * stride), end_cmd{}};
    for (double overlap : {0.0, 0.5, 1.0}) {
      p.hbm_row_overlap = overlap;
      const double channel = peak * 0.4 * std::pow(0.5, 1 - overlap);  // the four share it
      const perf_result r = evaluate(hw, programs, p);
      INFO("overlap " << overlap);
      CHECK(kind_row(r, "dma load").bounded_by() == bound::hbm);
      // Bandwidth-bound: within the cores' different setup and round trips of 4 x bytes / channel.
      CHECK(r.time_ns == Approx(4 * bytes / channel).epsilon(0.06));
    }
  }
  SECTION("four streams reading their own blocks of the same rows share them") {
    // Tiles 2 KiB apart in one row window (the same DRAM rows, as cores read
    // their columns of the same weight rows): an activation serves all four,
    // so each has the locality 4 l / (4 l + 1 - l) = 0.8, not 0.5.
    auto programs = idle(hw);
    for (int c : {0, 1, 4, 5}) programs[static_cast<size_t>(c)] = {tile(uint64_t(c) * 2048), end_cmd{}};
    for (double overlap : {0.0, 0.5}) {
      p.hbm_row_overlap = overlap;
      const double channel = peak * 0.4 * std::pow(0.8, 1 - overlap);
      const perf_result r = evaluate(hw, programs, p);
      INFO("overlap " << overlap);
      CHECK(kind_row(r, "dma load").bounded_by() == bound::hbm);
      CHECK(r.time_ns == Approx(4 * bytes / channel).epsilon(0.06));
    }
  }
  SECTION("shapes the table does not cover fall back to the row walk") {
    auto programs = idle(hw);
    dma_cmd d = tile(0);
    d.row_bytes = 512;  // two blocks per row
    programs[0] = {d, end_cmd{}};
    const perf_result with = evaluate(hw, programs, p);
    p.hbm_stride_locality.clear();
    CHECK(evaluate(hw, programs, p).time_ns == with.time_ns);
  }
}

TEST_CASE("perfmodel: DMA descriptors in flight overlap the previous tail", "[perfmodel]") {
  const hw_config hw = hw4x4();
  perf_params p = first_principles_params(hw);
  dma_cmd d;
  d.row_bytes = 256;
  d.rows = 64;
  d.src_stride = 8 * 256;
  d.dst_stride = 256;
  const double bytes = 64 * 256;
  dma_cmd d2 = d;
  d2.dst = 1 << 20;
  auto programs = idle(hw);
  programs[0] = {d, d2, signal_cmd{engine::dma, 2}, wait_cmd{engine::sync, 2}, end_cmd{}};
  const double tail = 2 * p.noc_hop_ns + p.hbm_read_latency_ns + p.sram_access_ns;  // channel 0 at core 0's router
  const double bw = link_bw(hw, p);
  const double flow = bytes / (bw * refresh_kept(p, hw.core.dma.max_outstanding * 256, bw));
  CHECK(p.dma_descriptors_in_flight == hw.core.dma.descriptors_in_flight);  // follows the hw key
  p.dma_descriptors_in_flight = 1;
  const perf_result serial = evaluate(hw, programs, p);
  CHECK(serial.time_ns == Approx(2 * (p.dma_setup_ns + flow + tail)));
  p.dma_descriptors_in_flight = 2;
  const perf_result overlapped = evaluate(hw, programs, p);
  // The second starts its setup when the first's last burst is issued; the signal waits for both.
  CHECK(overlapped.time_ns == Approx(2 * (p.dma_setup_ns + flow) + tail));
  double critical = 0;
  for (double t : overlapped.critical_path_ns) critical += t;
  CHECK(critical == Approx(overlapped.time_ns));
  CHECK(overlapped.dma_busy * 16 == Approx(overlapped.time_ns / overlapped.time_ns));
}

TEST_CASE("perfmodel: a contiguous load spreads over the interleaved channels", "[perfmodel]") {
  const hw_config hw = hw4x4();
  const perf_params p = first_principles_params(hw);
  dma_cmd d;
  d.row_bytes = 8 * 256 * 16;  // 16 interleave rounds: 4 KiB per channel
  auto programs = idle(hw);
  programs[0] = {d, end_cmd{}};
  const perf_result r = evaluate(hw, programs, p);
  for (double u : r.hbm_channel_utilisation) CHECK(u == Approx(r.hbm_channel_utilisation[0]));
  // The core's ejection port carries everything: it is the bottleneck. The
  // farthest channel (router (3,3)) is 7 routers away.
  const double tail = 2 * 7 * p.noc_hop_ns + p.hbm_read_latency_ns + p.sram_access_ns;
  const double bw = link_bw(hw, p) * refresh_kept(p, hw.core.dma.max_outstanding * 256, link_bw(hw, p));
  CHECK(r.time_ns == Approx(p.dma_setup_ns + tail + d.row_bytes / bw));
}

TEST_CASE("perfmodel: two transfers sharing one NoC link get half of it each", "[perfmodel]") {
  const hw_config hw = hw4x4();
  // Without the share queue both sends are weighted by their issue limit (the
  // same); with it by window / (round trip + queue), 48 : 52 here.
  perf_params p = first_principles_params(hw);
  p.share_queue_ns = 0;
  const uint32_t bytes = 1 << 16;
  auto programs = idle(hw);
  // Core 0 -> core 3 and core 1 -> core 2 along row 0: both cross link (1,0)->(2,0).
  programs[0] = {send_cmd{engine::dma, 3, 0, 0, bytes, 7}, end_cmd{}};
  programs[3] = {recv_cmd{engine::dma, 0, 0, bytes, 7}, end_cmd{}};
  const double tail03 = p.sram_access_ns + 2 * 4 * p.noc_hop_ns + p.sram_access_ns;
  // The receiver ends when the arrival notice (a one-flit message over 4 routers) lands.
  const double notice03 = 4 * p.noc_hop_ns + p.signal_overhead_ns, notice12 = 2 * p.noc_hop_ns + p.signal_overhead_ns;
  const perf_result alone = evaluate(hw, programs, p);
  CHECK(alone.core_end_ns[0] == Approx(p.dma_setup_ns + tail03 + bytes / link_bw(hw, p)));
  CHECK(alone.time_ns == Approx(p.dma_setup_ns + tail03 + bytes / link_bw(hw, p) + notice03));
  CHECK(alone.noc_link_bytes == Approx(3.0 * bytes));

  programs[1] = {send_cmd{engine::dma, 2, 0, 0, bytes, 7}, end_cmd{}};
  programs[2] = {recv_cmd{engine::dma, 1, 0, bytes, 7}, end_cmd{}};
  const perf_result shared = evaluate(hw, programs, p);
  const double half = link_bw(hw, p) / 2;
  const double tail12 = p.sram_access_ns + 2 * 2 * p.noc_hop_ns + p.sram_access_ns;
  CHECK(shared.core_end_ns[3] == Approx(p.dma_setup_ns + tail03 + bytes / half + notice03));
  CHECK(shared.core_end_ns[2] == Approx(p.dma_setup_ns + tail12 + bytes / half + notice12));
  CHECK(shared.noc_link_utilisation_max == Approx(bytes * 2 / (shared.time_ns * link_bw(hw, p))));
  CHECK(shared.busiest_links.front().x == 1);
  CHECK(shared.busiest_links.front().dir == 'E');
}

TEST_CASE("perfmodel: max-min fairness gives a flow limited elsewhere its share and the rest to the other",
          "[perfmodel]") {
  flow_network net;
  const int link = net.add_resource(10.0, bound::noc);
  const int slow = net.add_resource(2.0, bound::hbm);
  const int a = net.start(net.add_path({{link, 1, 1}, {slow, 1, 1}}), 20.0, 1e9, 0.0);  // limited to 2 by `slow`
  const int b = net.start(net.add_path({{link, 1, 1}}), 80.0, 1e9, 0.0);                // gets the remaining 8
  CHECK(net.next_finish() == Approx(10.0));
  auto done = net.finish_drained(10.0);
  REQUIRE(done == std::vector<int>{a, b});
  CHECK(net.flow_bound_times(a)[static_cast<int>(bound::hbm)] == Approx(10.0));
  CHECK(net.flow_bound_times(b)[static_cast<int>(bound::noc)] == Approx(10.0));
  CHECK(net.resource_bytes(link) == Approx(100.0));
}

TEST_CASE("perfmodel: flows share a saturated resource in proportion to their caps", "[perfmodel]") {
  // Window-limited DMAs (cap = window / round trip) through one queue: a
  // channel of 20 B/ns shared by caps 10 and 30 gives 5 and 15 (equal shares
  // would give 10 and 10).
  flow_network net;
  const int channel = net.add_resource(20.0, bound::hbm);
  const int a = net.start(net.add_path({{channel, 1, 1}}), 50.0, 10.0, 0.0);
  const int b = net.start(net.add_path({{channel, 1, 1}}), 150.0, 30.0, 0.0);
  CHECK(net.next_finish() == Approx(10.0));  // both drain together: 50 / 5 = 150 / 15
  REQUIRE(net.finish_drained(10.0) == std::vector<int>{a, b});
  // Below saturation every flow runs at its cap.
  flow_network idle_net;
  const int wide = idle_net.add_resource(100.0, bound::hbm);
  idle_net.start(idle_net.add_path({{wide, 1, 1}}), 50.0, 10.0, 0.0);
  idle_net.start(idle_net.add_path({{wide, 1, 1}}), 150.0, 30.0, 0.0);
  CHECK(idle_net.next_finish() == Approx(5.0));
}

TEST_CASE("perfmodel: a share queue evens out the shares of window-limited flows", "[perfmodel]") {
  // Windows of 1000 B, zero-load round trips 50 and 150 ns: caps 20 and
  // 6.67 B/ns. Through a channel of 8 B/ns they share by weight: without a
  // queue in proportion to the caps (3 : 1), with a queue of 350 ns in
  // proportion to 1000 / 400 and 1000 / 500 (5 : 4), below both caps.
  for (double queue : {0.0, 350.0}) {
    flow_network net;
    net.set_share_queue_ns(queue);
    const int channel = net.add_resource(8.0, bound::hbm);
    const int near = net.start(net.add_path({{channel, 1, 1}}), 1e6, 1e9, 0.0, 1, 1000.0, 50.0);
    net.start(net.add_path({{channel, 1, 1}}), 1e6, 1e9, 0.0, 2, 1000.0, 150.0);
    const double near_rate = queue > 0 ? 8.0 * 5 / 9 : 8.0 * 3 / 4;
    CHECK(net.next_finish() == Approx(1e6 / near_rate));
    REQUIRE(net.finish_drained(1e6 / near_rate) == std::vector<int>{near});
  }
  // A flow reaches its cap before the others: it freezes there and the rest
  // share what is left. Windows of 1000 B, round trips 500 and 100 ns: caps
  // 2 and 10, near-equal weights with a long queue; channel 8: the first
  // runs at 2, the second at 6.
  flow_network net;
  net.set_share_queue_ns(1e5);
  const int channel = net.add_resource(8.0, bound::hbm);
  const int slow = net.start(net.add_path({{channel, 1, 1}}), 20.0, 1e9, 0.0, 1, 1000.0, 500.0);
  const int fast = net.start(net.add_path({{channel, 1, 1}}), 60.0, 1e9, 0.0, 2, 1000.0, 100.0);
  CHECK(net.next_finish() == Approx(10.0));
  REQUIRE(net.finish_drained(10.0) == std::vector<int>{slow, fast});
  CHECK(net.flow_bound_times(slow)[static_cast<int>(bound::dma_issue)] == Approx(10.0));
  CHECK(net.flow_bound_times(fast)[static_cast<int>(bound::hbm)] == Approx(10.0));
}

TEST_CASE("perfmodel: the stream penalty counts distinct streams", "[perfmodel]") {
  flow_network net;
  const int channel = net.add_resource(12.0, bound::hbm, 0.5);
  // Two flows of different streams: capacity 12 / (1 + 0.5) = 8, 4 each.
  net.start(net.add_path({{channel, 1, 1}}), 40.0, 1e9, 0.0, 1);
  net.start(net.add_path({{channel, 1, 1}}), 40.0, 1e9, 0.0, 2);
  CHECK(net.next_finish() == Approx(10.0));
  // Two flows of the same stream (same HBM range): no penalty, 6 each.
  flow_network same;
  const int ch = same.add_resource(12.0, bound::hbm, 0.5);
  same.start(same.add_path({{ch, 1, 1}}), 60.0, 1e9, 0.0, 7);
  same.start(same.add_path({{ch, 1, 1}}), 60.0, 1e9, 0.0, 7);
  CHECK(same.next_finish() == Approx(10.0));
}

TEST_CASE("perfmodel: flows of one row group share their DRAM rows while they run together", "[perfmodel]") {
  // Lone-stream locality 0.25 (coef 4 per byte) on a channel of 10 B/ns.
  // Two flows of one row group: l_2 = 2 x 0.25 / (2 x 0.25 + 0.75) = 0.4,
  // coef 4 x (0.25 + 0.75 / 2) = 2.5 each, 2 B/ns each. Of two groups: coef 4,
  // 1.25 B/ns each.
  const usage strided{0, 4.0, 1.0, 0.25};
  flow_network shared;
  shared.add_resource(10.0, bound::hbm);
  const int path = shared.add_path({strided});
  const int first = shared.start(path, 50.0, 1e9, 0.0, 1, 0, 0, 7);
  const int second = shared.start(path, 100.0, 1e9, 0.0, 2, 0, 0, 7);
  CHECK(shared.next_finish() == Approx(25.0));
  REQUIRE(shared.finish_drained(25.0) == std::vector<int>{first});
  // Alone again, the second reads at its lone locality: 50 B left at 10 / 4.
  CHECK(shared.next_finish() == Approx(45.0));
  REQUIRE(shared.finish_drained(45.0) == std::vector<int>{second});
  flow_network apart;
  apart.add_resource(10.0, bound::hbm);
  const int p2 = apart.add_path({strided});
  apart.start(p2, 50.0, 1e9, 0.0, 1, 0, 0, 7);
  apart.start(p2, 100.0, 1e9, 0.0, 2, 0, 0, 9);
  CHECK(apart.next_finish() == Approx(40.0));
  // The exponent (1 - hbm_row_overlap) applies to the shared locality as to the lone one.
  flow_network half;
  half.set_row_sharing(0.5);
  half.add_resource(10.0, bound::hbm);
  const int p3 = half.add_path({strided});
  half.start(p3, 50.0, 1e9, 0.0, 1, 0, 0, 7);
  half.start(p3, 50.0, 1e9, 0.0, 2, 0, 0, 7);
  CHECK(half.next_finish() == Approx(50.0 / (10.0 / (2 * 4.0 * std::sqrt(0.625)))));
}

TEST_CASE("perfmodel: the flow penalty counts every flow, whatever its stream", "[perfmodel]") {
  // A NoC link of 12 B/ns with flow penalty 0.5 crossed by three flows (two
  // of the same HBM stream): 12 / (1 + 0.5 x 2) = 6, 2 each.
  flow_network net;
  const int link = net.add_resource(12.0, bound::noc, 0.0, 0.5);
  net.start(net.add_path({{link, 1, 1}}), 20.0, 1e9, 0.0, 7);
  net.start(net.add_path({{link, 1, 1}}), 20.0, 1e9, 0.0, 7);
  net.start(net.add_path({{link, 1, 1}}), 20.0, 1e9, 0.0, 8);
  CHECK(net.next_finish() == Approx(10.0));
  // Alone on it a flow gets the whole link.
  flow_network alone;
  const int l = alone.add_resource(12.0, bound::noc, 0.0, 0.5);
  alone.start(alone.add_path({{l, 1, 1}}), 120.0, 1e9, 0.0);
  CHECK(alone.next_finish() == Approx(10.0));
}

TEST_CASE("perfmodel: a flow crossing saturated links in series loses its series share", "[perfmodel]") {
  // Links L1 and L2 of 1 B/ns. A (id 0) crosses both, B (1) only L1, C (2)
  // only L2: the filling gives everyone 0.5. A's data meets different
  // traffic on each link (k = 2): with loss 0.4 it keeps 1 / (1 + 0.4 / 2) of
  // 0.5; B and C cross one saturated link each and keep 0.5 (A's leftover is
  // lost). Returns the first drain time and who drained then.
  struct setup {
    double loss = 0.4;
    bool links = true;      // L1, L2 added as links between routers (else as ports)
    double a_share = 1;     // 0: A's usages are header-only
    bool b_on_both = false; // B crosses L2 too, instead of C: both links carry A and B
  };
  auto first_drain = [](const setup& s) {
    flow_network net;
    net.set_series_loss(s.loss);
    const int l1 = net.add_resource(1.0, bound::noc, 0.0, 0.0, s.links);
    const int l2 = net.add_resource(1.0, bound::noc, 0.0, 0.0, s.links);
    net.start(net.add_path({{l1, 1, s.a_share}, {l2, 1, s.a_share}}), 100.0, 1e9, 0.0);
    if (s.b_on_both) {
      net.start(net.add_path({{l1, 1, 1}, {l2, 1, 1}}), 100.0, 1e9, 0.0);
    } else {
      net.start(net.add_path({{l1, 1, 1}}), 100.0, 1e9, 0.0);
      net.start(net.add_path({{l2, 1, 1}}), 100.0, 1e9, 0.0);
    }
    const double t = net.next_finish();
    return std::make_pair(t, net.finish_drained(t));
  };
  const auto lossy = first_drain({});
  CHECK(lossy.first == Approx(200.0));
  CHECK(lossy.second == std::vector<int>{1, 2});
  // Without the loss all three drain together; ports (resources not added as
  // links) do not count, nor do header-only usages (share 0), nor two links
  // carrying the same flows (one bottleneck).
  for (const setup& s : {setup{0.0}, setup{0.4, false}, setup{0.4, true, 0}}) {
    const auto r = first_drain(s);
    CHECK(r.first == Approx(200.0));
    CHECK(r.second == std::vector<int>{0, 1, 2});
  }
  const auto same = first_drain(setup{0.4, true, 1, true});
  CHECK(same.first == Approx(200.0));
  CHECK(same.second == std::vector<int>{0, 1});
  // A's rate with the loss, while B and C keep the links loaded: 0.5 / 1.2.
  flow_network net;
  net.set_series_loss(0.4);
  const int l1 = net.add_resource(1.0, bound::noc, 0.0, 0.0, true);
  const int l2 = net.add_resource(1.0, bound::noc, 0.0, 0.0, true);
  const int a = net.start(net.add_path({{l1, 1, 1}, {l2, 1, 1}}), 100.0, 1e9, 0.0);
  net.start(net.add_path({{l1, 1, 1}}), 1e6, 1e9, 0.0);
  net.start(net.add_path({{l2, 1, 1}}), 1e6, 1e9, 0.0);
  CHECK(net.next_finish() == Approx(100.0 / (0.5 / 1.2)));
  REQUIRE(net.finish_drained(net.next_finish()) == std::vector<int>{a});
  CHECK(net.flow_bound_times(a)[static_cast<int>(bound::noc)] == Approx(240.0));
}

TEST_CASE("perfmodel: an HBM refresh stalls a flow its channel does not bound; a flow sharing its bottleneck gains",
          "[perfmodel]") {
  // A port of 10 B/ns; a channel of 40 B/ns. Every 1000 ns a refresh blocks
  // the channel for 300 ns. The load reads the channel through the port with
  // 1000 B in flight (a cap of 100 B/ns at its 10 ns round trip); a send of
  // the same weight crosses the port only.
  struct setup {
    bool refresh = true, send = false;
    double channel = 40.0;
  };
  // Alone: filled at the port's 10 B/ns, its window keeps the port busy for
  // 1000 / 10 = 100 ns of the 300: it keeps 1 - 200 / 1000 = 0.8 of its rate.
  auto drain_time = [](const setup& s) {
    flow_network net;
    if (s.refresh) net.set_refresh(1000.0, 300.0);
    const int port = net.add_resource(10.0, bound::noc);
    const int ch = net.add_resource(s.channel, bound::hbm);
    net.start(net.add_path({{port, 1, 1}, {ch, 1, 1}}), 8000.0, 1e9, 0.0, 1, 1000.0, 10.0);
    if (s.send) net.start(net.add_path({{port, 1, 1}}), 1e6, 100.0, 0.0, 2);
    const double t = net.next_finish();
    REQUIRE(net.finish_drained(t) == std::vector<int>{0});
    return std::make_pair(t, net.flow_bound_times(0));
  };
  const auto alone = drain_time({});
  CHECK(alone.first == Approx(8000.0 / (10.0 * 0.8)));
  CHECK(alone.second[static_cast<int>(bound::noc)] == Approx(alone.first));  // still bounded by the port
  CHECK(drain_time({false}).first == Approx(800.0));
  // Bound by the channel (refresh is in its efficiency): no stall.
  CHECK(drain_time({true, false, 8.0}).first == Approx(1000.0));
  // Sharing the port with a send: filled at 5 B/ns each, the window covers
  // 1000 / 5 = 200 ns of the 300: the load keeps 0.9 of 5, and the send takes
  // the 0.5 B/ns it leaves.
  const auto shared = drain_time({true, true});
  CHECK(shared.first == Approx(8000.0 / 4.5));
  flow_network net;
  net.set_refresh(1000.0, 300.0);
  const int port = net.add_resource(10.0, bound::noc);
  const int ch = net.add_resource(40.0, bound::hbm);
  net.start(net.add_path({{port, 1, 1}, {ch, 1, 1}}), 1e6, 1e9, 0.0, 1, 1000.0, 10.0);
  const int send = net.start(net.add_path({{port, 1, 1}}), 550.0, 100.0, 0.0, 2);
  CHECK(net.next_finish() == Approx(100.0));
  REQUIRE(net.finish_drained(100.0) == std::vector<int>{send});
}

TEST_CASE("perfmodel: rates follow flows coming and going on a slack, then shared resource", "[perfmodel]") {
  // Link of 100 B/ns. A (cap 10) alone leaves it slack whatever the caps: A
  // runs at its cap. B, C and D (cap 40 each) ask for 130: the link is shared
  // by weight (the caps), level 100 / 130. Once D has drained, 90 fit: caps
  // again, and the bytes counted on the link are every flow's.
  flow_network net;
  const int link = net.add_resource(100.0, bound::noc);
  const int path = net.add_path({{link, 1, 1}});
  const int a = net.start(path, 1000.0, 10.0, 0.0);
  CHECK(net.next_finish() == Approx(100.0));
  net.start(path, 1e6, 40.0, 0.0);  // b
  net.start(path, 1e6, 40.0, 0.0);  // c
  const int d = net.start(path, 40.0 * 100 / 130, 40.0, 0.0);
  CHECK(net.next_finish() == Approx(1.0));  // d at 40 x 100 / 130
  REQUIRE(net.finish_drained(1.0) == std::vector<int>{d});
  // a has moved 10 x 100 / 130 and runs at 10 again.
  CHECK(net.next_finish() == Approx(1.0 + (1000.0 - 1000.0 / 130) / 10.0));
  REQUIRE(net.finish_drained(net.next_finish()) == std::vector<int>{a});
  CHECK(net.resource_bytes(link) == Approx(1000.0 + 40.0 * 100 / 130));
}

TEST_CASE("perfmodel: a flow network refuses stream latencies after its paths, and unknown paths", "[perfmodel]") {
  // A path notes its queueing resources when it is added: a later stream
  // latency would be ignored by the flows on it, so it is an error.
  flow_network net;
  const int channel = net.add_resource(100.0, bound::hbm);
  const int path = net.add_path({{channel, 1, 1}});
  CHECK_THROWS_WITH(net.set_stream_latency(channel, 50.0), Catch::Contains("before any path"));
  CHECK_THROWS_WITH(net.start(path + 1, 10.0, 1.0, 0.0), Catch::Contains("no path"));
  CHECK_THROWS_WITH(net.add_path({{channel + 1, 1, 1}}), Catch::Contains("resource 1 of 1"));
}

TEST_CASE("perfmodel: a sealed flow network leaves out what its owners cannot fill, with the same rates",
          "[perfmodel]") {
  // Two owners (cores), one flow each at a time, at most 40 B/ns: together
  // they load `wide` (100 B/ns) to 80 at most, never tight, and `narrow`
  // (50 B/ns) to 80, shared. A path without owner keeps what it crosses.
  auto build = [](flow_network& net, bool seal, bool ownerless) {
    const int wide = net.add_resource(100.0, bound::noc), narrow = net.add_resource(50.0, bound::hbm);
    std::vector<int> paths = {net.add_path({{wide, 1, 1}, {narrow, 1, 1}}, 0, 40.0),
                              net.add_path({{wide, 1, 1}, {narrow, 1, 1}}, 1, 40.0)};
    if (ownerless) net.add_path({{wide, 1, 1}});
    if (seal) net.seal();
    return paths;
  };
  flow_network plain, sealed, shared;
  const auto p = build(plain, false, false), q = build(sealed, true, false);
  CHECK(plain.resources_in_play(p[0]) == 2);
  CHECK(sealed.resources_in_play(q[0]) == 1);
  CHECK(shared.resources_in_play(build(shared, true, true)[0]) == 2);
  for (flow_network* net : {&plain, &sealed}) {
    net->start(p[0], 300.0, 40.0, 0.0);
    net->start(p[1], 100.0, 30.0, 0.0);
  }
  // narrow shared 50 by the caps 40 : 30; the second drains first.
  CHECK(sealed.next_finish() == plain.next_finish());
  CHECK(sealed.next_finish() == Approx(100.0 / (50.0 * 3 / 7)));
  const double t = sealed.next_finish();
  CHECK(sealed.finish_drained(t) == plain.finish_drained(t));
  CHECK(sealed.next_finish() == plain.next_finish());
  CHECK(sealed.flow_bound_times(1) == plain.flow_bound_times(1));
  const double end = sealed.next_finish();
  sealed.finish_drained(end);
  plain.finish_drained(end);
  for (int r = 0; r < 2; ++r) CHECK(sealed.resource_bytes(r) == plain.resource_bytes(r));  // bytes still counted
  // The promises the pruning rests on are checked.
  sealed.start(q[0], 10.0, 40.0, end);
  CHECK_THROWS_WITH(sealed.start(q[0], 10.0, 1.0, end), Catch::Contains("two flows of owner 0"));
  CHECK_THROWS_WITH(sealed.start(q[1], 10.0, 41.0, end), Catch::Contains("max_rate"));
  CHECK_THROWS_WITH(sealed.add_path({{0, 1, 1}}), Catch::Contains("after seal"));
}

TEST_CASE("perfmodel: a sealed link lists its flows only once they may fill it, with the same rates", "[perfmodel]") {
  // Three owners, each through its own port into one shared link (100 B/ns,
  // flow penalty 0.1), at most 60 B/ns each: the link stays in play. Sealed,
  // it keeps only a count and a load while its flows' caps leave it slack
  // (50 + 40 B/ns: 99 of the 100 its penalty leaves), lists them when a third
  // flow may fill it, and again after it emptied. The rates are those of the
  // unsealed twin, which lists every flow all along.
  auto build = [](flow_network& net, bool seal) {
    const int link = net.add_resource(100.0, bound::noc, 0.0, 0.1);
    std::vector<int> paths;
    for (int owner = 0; owner < 3; ++owner) {
      const int port = net.add_resource(80.0, bound::noc);
      paths.push_back(net.add_path({{port, 1, 1}, {link, 1, 1}}, owner, 60.0));
    }
    if (seal) net.seal();
    return paths;
  };
  flow_network plain, sealed;
  const auto p = build(plain, false);
  build(sealed, true);
  CHECK(sealed.resources_in_play(p[0]) == 1);  // the link (a port, 80 B/ns, never fills)
  auto both = [&](auto&& step) {
    const auto a = step(plain), b = step(sealed);
    CHECK(a == b);
    CHECK(plain.next_finish() == sealed.next_finish());
    return a;
  };
  both([&](flow_network& n) { return n.start(p[0], 1000.0, 50.0, 0.0); });
  both([&](flow_network& n) { return n.start(p[1], 400.0, 40.0, 0.0); });
  CHECK(sealed.next_finish() == Approx(10.0));  // 400 B at 40: slack, both at their caps
  both([&](flow_network& n) { return n.start(p[2], 300.0, 30.0, 1.0); });
  // 100 / 1.2 shared by the caps 50 : 40 : 30; the second (360 B left) drains first.
  const double level = 100.0 / 1.2 / 120.0;
  CHECK(sealed.next_finish() == Approx(1.0 + 360.0 / (40.0 * level)));
  double t = sealed.next_finish();
  both([&](flow_network& n) { return n.finish_drained(t); });
  while (!sealed.idle()) {
    t = sealed.next_finish();
    both([&](flow_network& n) { return n.finish_drained(t); });
  }
  // Empty, then filled again by three flows at once.
  for (int k = 0; k < 3; ++k) both([&](flow_network& n) { return n.start(p[size_t(k)], 500.0, 60.0, t); });
  while (!sealed.idle()) {
    t = sealed.next_finish();
    both([&](flow_network& n) { return n.finish_drained(t); });
  }
  for (int id = 0; id < 6; ++id) CHECK(plain.flow_bound_times(id) == sealed.flow_bound_times(id));
}

TEST_CASE("perfmodel: flows that ended no longer count on the resources they crossed", "[perfmodel]") {
  // The flow network keeps users, streams and loads between events: after a
  // flow ends, its flow penalty, its stream and its load must be gone.
  // Link 12 B/ns with flow penalty 0.5; channel 100 B/ns adding 50 ns per extra stream.
  flow_network net;
  const int link = net.add_resource(12.0, bound::noc, 0.0, 0.5);
  const int channel = net.add_resource(100.0, bound::hbm);
  net.set_stream_latency(channel, 50.0);
  const int a = net.start(net.add_path({{link, 1, 1}}), 20.0, 10.0, 0.0, 7);
  const int b = net.start(net.add_path({{link, 1, 1}}), 20.0, 10.0, 0.0, 8);
  net.start(net.add_path({{link, 1, 1}, {channel, 1, 1}}), 1e6, 1e9, 0.0, 9, 1000.0, 100.0);  // c
  const int d = net.start(net.add_path({{channel, 1, 1}}), 20.0, 10.0, 0.0, 11);
  // Link: 12 / (1 + 0.5 x 2) = 6 shared by caps 10, 10 and 1000 / 150 (two
  // streams on the channel): level 0.225, rates 2.25, 2.25, 1.5. d runs at its cap 10.
  CHECK(net.next_finish() == Approx(2.0));
  REQUIRE(net.finish_drained(2.0) == std::vector<int>{d});
  // c alone on the channel: round trip 100 ns, cap 10; the link's 6 at 2 each.
  CHECK(net.next_finish() == Approx(2.0 + (20.0 - 2 * 2.25) / 2.0));
  REQUIRE(net.finish_drained(9.75) == std::vector<int>{a, b});
  // c alone on the link: no flow penalty left, runs at its cap 10.
  CHECK(net.next_finish() == Approx(9.75 + (1e6 - 2 * 1.5 - 7.75 * 2.0) / 10.0));
  CHECK(net.flow_bound_times(d)[static_cast<int>(bound::dma_issue)] == Approx(2.0));
  CHECK(net.flow_bound_times(a)[static_cast<int>(bound::noc)] == Approx(9.75));
}

TEST_CASE("perfmodel: a window-limited flow slows down with the streams queued on its channel", "[perfmodel]") {
  // Window 1000 B, zero-load round trip 100 ns: 10 B/ns alone. A channel of
  // 100 B/ns adding 50 ns per extra stream; three streams on it: round trip
  // 100 + 2 x 50 = 200 ns, 5 B/ns each (not channel-bound: 15 of 100).
  flow_network net;
  const int channel = net.add_resource(100.0, bound::hbm);
  net.set_stream_latency(channel, 50.0);
  const int a = net.start(net.add_path({{channel, 1, 1}}), 500.0, 1e9, 0.0, 1, 1000.0, 100.0);
  CHECK(net.next_finish() == Approx(50.0));  // alone: 500 B at 10 B/ns
  net.start(net.add_path({{channel, 1, 1}}), 1e6, 1e9, 0.0, 2, 1000.0, 100.0);
  net.start(net.add_path({{channel, 1, 1}}), 1e6, 1e9, 0.0, 3, 1000.0, 100.0);
  CHECK(net.next_finish() == Approx(100.0));  // 500 B at 5 B/ns
  REQUIRE(net.finish_drained(100.0) == std::vector<int>{a});
  // A flow spread half over that channel pays half the extra latency.
  flow_network half;
  const int ch = half.add_resource(100.0, bound::hbm);
  const int other = half.add_resource(100.0, bound::hbm);
  half.set_stream_latency(ch, 50.0);
  half.start(half.add_path({{ch, 1, 1}}), 1e6, 1e9, 0.0, 2, 1000.0, 100.0);
  half.start(half.add_path({{ch, 0.5, 0.5}, {other, 0.5, 0.5}}), 500.0, 1e9, 0.0, 1, 1000.0, 100.0);
  CHECK(half.next_finish() == Approx(500.0 / (1000.0 / 125.0)));
}

TEST_CASE("perfmodel: semaphores order engines and cores", "[perfmodel]") {
  const hw_config hw = hw4x4();
  const perf_params p = first_principles_params(hw);
  const matmul_cmd m = dense_matmul(128, 128, 128);
  const double mm = 2 * 128 + 128 + 128 - 2;  // 510 cycles
  auto programs = idle(hw);
  SECTION("within a core: vector after matrix") {
    vector_cmd v;
    v.op = vector_op::add;
    v.cols = 6400;
    programs[0] = {m, signal_cmd{engine::matrix, 3}, wait_cmd{engine::vector, 3}, v, end_cmd{}};
    const perf_result r = evaluate(hw, programs, p);
    CHECK(r.time_ns == Approx(mm + 8 + 100));
    const auto& waits = kind_row(r, "wait");
    CHECK(waits.blocked_ns == Approx(mm));
    CHECK(waits.bounded_by() == bound::sync);
  }
  SECTION("without the semaphore the engines overlap") {
    vector_cmd v;
    v.op = vector_op::add;
    v.cols = 6400;
    programs[0] = {m, v, end_cmd{}};
    CHECK(evaluate(hw, programs, p).time_ns == Approx(mm));
  }
  SECTION("between cores: the signal crosses the NoC") {
    // Core 0 (0,0) signals core 1 (1,0): 2 routers + the one-flit message.
    programs[0] = {m, signal_cmd{engine::matrix, 20, 1}, end_cmd{}};
    programs[1] = {wait_cmd{engine::sync, 20}, m, end_cmd{}};
    const perf_result r = evaluate(hw, programs, p);
    CHECK(r.core_end_ns[0] == Approx(mm));
    CHECK(r.core_end_ns[1] == Approx(mm + 2 * p.noc_hop_ns + p.signal_overhead_ns + mm));
    // Critical path: core 0's matmul, the signal's flight (sync), core 1's matmul.
    CHECK(r.critical_path_ns[static_cast<int>(bound::compute)] == Approx(2 * mm));
    CHECK(r.critical_path_ns[static_cast<int>(bound::sync)] == Approx(2 * p.noc_hop_ns + p.signal_overhead_ns));
    CHECK(kind_row(r, "matmul").critical_ns[static_cast<int>(bound::compute)] == Approx(2 * mm));
  }
  SECTION("a wait that is never signalled is a deadlock naming the command") {
    programs[2] = {wait_cmd{engine::sync, 9}, end_cmd{}};
    CHECK_THROWS_AS(evaluate(hw, programs, p), simulation_error);
    CHECK_THROWS_WITH(evaluate(hw, programs, p), Catch::Contains("core 2") && Catch::Contains("dispatch blocked"));
  }
}

TEST_CASE("perfmodel: recv waits for the matching send", "[perfmodel]") {
  const hw_config hw = hw4x4();
  const perf_params p = first_principles_params(hw);
  const uint32_t bytes = 4096 * 4;
  vector_cmd v;
  v.op = vector_op::scale;
  v.cols = 4096;
  auto programs = idle(hw);
  // Core 4 (0,1) sends to core 6 (2,1): 3 routers; core 6 receives, then scales the data.
  programs[4] = {send_cmd{engine::dma, 6, 0, 0, bytes, 1}, end_cmd{}};
  programs[6] = {recv_cmd{engine::dma, 4, 0, bytes, 1}, signal_cmd{engine::dma, 0}, wait_cmd{engine::vector, 0}, v,
                 end_cmd{}};
  const perf_result r = evaluate(hw, programs, p);
  const double send = p.dma_setup_ns + 2 * p.sram_access_ns + 2 * 3 * p.noc_hop_ns + bytes / link_bw(hw, p);
  CHECK(r.core_end_ns[4] == Approx(send));
  const double notice = 3 * p.noc_hop_ns + p.signal_overhead_ns;  // arrival notice over 3 routers
  CHECK(r.core_end_ns[6] == Approx(send + notice + 8 + 64));
  CHECK(kind_row(r, "recv").blocked_ns == Approx(send + notice));
  SECTION("a recv of another size is an error") {
    programs[6][0] = recv_cmd{engine::dma, 4, 0, bytes / 2, 1};
    CHECK_THROWS_WITH(evaluate(hw, programs, p), Catch::Contains("matching send wrote 16384 bytes"));
  }
}

TEST_CASE("perfmodel: a transfer of nothing is never issued", "[perfmodel]") {
  const hw_config hw = hw4x4();
  const perf_params p = first_principles_params(hw);
  const uint32_t bytes = 4096 * 4;
  auto programs = idle(hw);
  // Core 4 sends 16 KiB to core 6, then an empty chunk: the empty send
  // retires right behind the first, without setup or round trip, and its
  // notice leaves with the first one's.
  programs[4] = {send_cmd{engine::dma, 6, 0, 0, bytes, 1}, send_cmd{engine::dma, 6, 0, 0, 0, 2}, end_cmd{}};
  programs[6] = {recv_cmd{engine::dma, 4, 0, bytes, 1}, recv_cmd{engine::dma, 4, 0, 0, 2}, end_cmd{}};
  // Core 0: an empty load completes as the engine reaches it.
  dma_cmd empty;
  programs[0] = {empty, end_cmd{}};
  const perf_result r = evaluate(hw, programs, p);
  const double send = p.dma_setup_ns + 2 * p.sram_access_ns + 2 * 3 * p.noc_hop_ns + bytes / link_bw(hw, p);
  const double notice = 3 * p.noc_hop_ns + p.signal_overhead_ns;
  CHECK(r.core_end_ns[4] == Approx(send));
  CHECK(r.core_end_ns[6] == Approx(send + notice));
  CHECK(r.core_end_ns[0] == 0);
  CHECK(kind_row(r, "send").commands == 2);
  CHECK(kind_row(r, "send").bytes == bytes);
  CHECK(kind_row(r, "dma load").commands == 1);
  CHECK(kind_row(r, "dma load").busy_ns == 0);
}

TEST_CASE("perfmodel: barriers release together", "[perfmodel]") {
  const hw_config hw = hw4x4();
  const perf_params p = first_principles_params(hw);
  const matmul_cmd m = dense_matmul(100, 128, 128);
  auto programs = idle(hw);
  programs[0] = {m, barrier_cmd{engine::sync, 1, 2}, m, end_cmd{}};
  programs[1] = {barrier_cmd{engine::sync, 1, 2}, m, end_cmd{}};
  const perf_result r = evaluate(hw, programs, p);
  const double mm = 2 * 128 + 128 + 100 - 2;
  // Both pass the barrier barrier_release_ns after core 0 arrives.
  CHECK(r.core_end_ns[0] == Approx(2 * mm + p.barrier_release_ns));
  CHECK(r.core_end_ns[1] == Approx(2 * mm + p.barrier_release_ns));
}

TEST_CASE("perfmodel: a ring all-reduce takes 2(n-1) steps of (send + notice) plus the n-1 adds", "[perfmodel]") {
  const hw_config hw = hw4x4();
  const perf_params p = first_principles_params(hw);
  // Ring of 4 on the 2x2 block (0,0) (1,0) (1,1) (0,1): every step is one link per rank.
  const std::vector<int> ring = {0, 1, 5, 4};
  const int n = 4;
  const uint64_t chunk = 4096, elems = chunk * n;
  lowering_context ctx(hw);
  const uint32_t data = ctx.alloc_symmetric(ring, elems * 4, "data");
  ring_all_reduce(ctx, ring, data, elems, engine::dma);
  const perf_result r = evaluate(hw, ctx.finish(), p);
  // A send: setup, chunk over one link, local SRAM read + round trip over 2 routers.
  // Every rank sends while it receives, so its ports carry the incoming data
  // plus the write responses of its own send: one flit per 256 B burst, 0.8 x
  // 64 / 256 = 0.2 units per byte at payload efficiency.
  const double control = p.noc_payload_efficiency * hw.noc.flit_bytes / hw.core.dma.burst_bytes;
  const double step =
      p.dma_setup_ns + chunk * 4 * (1 + control) / link_bw(hw, p) + 2 * p.sram_access_ns + 2 * 2 * p.noc_hop_ns;
  const double add = double(core_timing::vector_cycles(chunk, core_timing::vector_kind::elementwise, hw.core.vector));
  // Every receive waits for the arrival notice (2 routers + one flit). Reduce-
  // scatter: each send waits for the previous add; all-gather starts after a
  // go signal from the next rank (a message too).
  const double msg = 2 * p.noc_hop_ns + p.signal_overhead_ns;
  const double expected = (n - 1) * (step + msg + add) + msg + (n - 1) * (step + msg);
  CHECK(r.time_ns == Approx(expected));
  CHECK(kind_row(r, "send").commands == uint64_t(2 * (n - 1) * n));
  CHECK(kind_row(r, "send").bytes == Approx(2.0 * (n - 1) * n * chunk * 4));
}

TEST_CASE("perfmodel: lowered GEMMs finish for every strategy and placement, above their bounds", "[perfmodel]") {
  const hw_config hw = hw4x4();
  const perf_params p = first_principles_params(hw);
  const uint32_t M = 256, K = 256, N = 256;
  const double peak_flops = 2.0 * hw.core.matrix.rows * hw.core.matrix.cols * hw.core.clock_ghz;
  const double hbm_peak = hw.hbm.peak_gbps() * hw.hbm.channels;
  for (const auto& strategy : partition_names())
    for (const auto& placement : placement_names()) {
      if (placement == "explicit") continue;
      const int groups = 4, n = 4;
      INFO(strategy << " on " << placement);
      const group_map map = make_placement(placement)->place(groups, n, hw.mesh.width, hw.mesh.height);
      std::vector<gemm_job> jobs;
      uint64_t hbm = 0;
      for (int g = 0; g < groups; ++g) {
        gemm_job j{M, K, N, hbm, hbm + uint64_t(M) * K * 4, hbm + uint64_t(M) * K * 4 + uint64_t(K) * N * 4};
        hbm = j.c + uint64_t(M) * N * 4;
        jobs.push_back(j);
      }
      const auto programs = lowered(hw, strategy, map, jobs);
      const perf_result r = evaluate(hw, programs, p);
      const double flops = 2.0 * M * K * N * groups;
      CHECK(r.flops == Approx(flops));
      CHECK(r.time_ns >= flops / (peak_flops * hw.mesh.width * hw.mesh.height));
      // Every group reads A and B and writes C at least once.
      const double min_bytes = 4.0 * groups * (double(M) * K + double(K) * N + double(M) * N);
      CHECK(r.hbm_read_bytes + r.hbm_write_bytes >= min_bytes);
      CHECK(r.time_ns >= (r.hbm_read_bytes + r.hbm_write_bytes) / hbm_peak);
      CHECK(r.compute_utilisation <= 1.0);
      CHECK(r.hbm_utilisation <= 1.0);
      CHECK(r.noc_link_utilisation_max <= 1.0 + 1e-9);
      CHECK(!r.by_group.empty());
      double critical = 0;
      for (double t : r.critical_path_ns) critical += t;
      CHECK(critical == Approx(r.time_ns));
    }
}

TEST_CASE("perfmodel: evaluation is deterministic", "[perfmodel]") {
  const hw_config hw = hw4x4();
  const group_map map = make_placement("mesh_block")->place(2, 8, 4, 4);
  const std::vector<gemm_job> jobs = {{256, 512, 256, 0, 1 << 20, 2 << 20}, {256, 512, 256, 3 << 20, 4 << 20, 5 << 20}};
  const auto programs = lowered(hw, "mnk_2d", map, jobs);
  const auto a = to_json(evaluate(hw, programs, first_principles_params(hw))).dump();
  const auto b = to_json(evaluate(hw, programs, first_principles_params(hw))).dump();
  CHECK(a == b);
}

TEST_CASE("perfmodel: breakdown by group follows the compute runs of the programs", "[perfmodel]") {
  const hw_config hw = hw4x4();
  const group_map map = make_placement("mesh_block")->place(1, 4, 4, 4);
  const auto programs = lowered(hw, "k_split", map, {{128, 512, 256, 0, 1 << 20, 2 << 20}});
  const perf_result r = evaluate(hw, programs, first_principles_params(hw));
  // k_split: loads + matmuls, then the all-reduce's adds, then stores.
  REQUIRE(r.by_group.size() >= 2);
  CHECK(r.by_group[0].name == "group 0: matmul");
  CHECK(r.by_group[0].flops == Approx(2.0 * 128 * 512 * 256));
  CHECK(r.by_group[1].name == "group 1: vector add");
  // The adds start after the matmuls (end commands count when their core drains).
  CHECK(r.by_group[1].first_start_ns >= r.by_group[0].first_start_ns);
  CHECK(r.by_group[1].first_start_ns > 0);
  double kinds = 0, groups = 0;
  for (const auto& row : r.by_kind) kinds += row.commands;
  for (const auto& row : r.by_group) groups += row.commands;
  CHECK(kinds == groups);
  CHECK(kinds == r.commands);
  const auto j = to_json(r);
  CHECK(j["by_group"][0]["bounded_by"].is_string());
  CHECK(j["utilisation"]["hbm_channels"].size() == 8);
  std::cout << summary(r);
}

TEST_CASE("perfmodel: calibration file reading, warnings and errors", "[perfmodel]") {
  const hw_config hw = hw4x4();
  std::string warning;
  SECTION("no file: first principles and a warning") {
    const perf_params p = load_perf_params(hw, "", warning);
    CHECK(p.noc_hop_ns == first_principles_params(hw).noc_hop_ns);
    CHECK_THAT(warning, Catch::Contains("first-principles"));
  }
  SECTION("a file overrides the keys it names") {
    const perf_params p =
        parse_perf_params(hw, "hw: npu4x4\nparams:\n  hbm_efficiency_sequential: 0.8\n", "cal.yaml", warning);
    CHECK(p.hbm_efficiency_sequential == 0.8);
    CHECK(p.noc_hop_ns == first_principles_params(hw).noc_hop_ns);
    CHECK(warning.empty());
  }
  SECTION("fitted on another chip: a warning") {
    parse_perf_params(hw, "hw: npu8x8\nparams: {}\n", "cal.yaml", warning);
    CHECK_THAT(warning, Catch::Contains("npu8x8"));
  }
  SECTION("unknown keys and bad values are errors with file:line") {
    CHECK_THROWS_WITH(
        parse_perf_params(hw, "hw: npu4x4\nparams:\n  hop_ns: 3\n", "cal.yaml", warning),
        Catch::Contains("cal.yaml:3") && Catch::Contains("params.hop_ns") && Catch::Contains("unknown key"));
    CHECK_THROWS_WITH(parse_perf_params(hw, "hw: npu4x4\nparams:\n  hbm_efficiency_random: 1.5\n", "cal.yaml", warning),
                      Catch::Contains("cal.yaml:3") && Catch::Contains("out of range"));
  }
  SECTION("written files read back") {
    perf_params p = first_principles_params(hw);
    p.hbm_stream_penalty = 0.125;
    p.command_overhead_ns = 3.5;
    CHECK(calibration_yaml(hw, p, {12, 2.5, 7.0}).find("hbm_stride_locality: []") != std::string::npos);
    p.hbm_stride_locality = {{256, 1.0}, {3072, 0.538}};
    const std::string text = calibration_yaml(hw, p, {12, 2.5, 7.0});
    const perf_params q = parse_perf_params(hw, text, "written", warning);
    CHECK(q.hbm_stream_penalty == 0.125);
    CHECK(q.command_overhead_ns == 3.5);
    CHECK(q.hbm_read_latency_ns == Approx(p.hbm_read_latency_ns));
    REQUIRE(q.hbm_stride_locality.size() == 2);
    CHECK(q.hbm_stride_locality[1].stride_bytes == 3072);
    CHECK(q.hbm_stride_locality[1].locality == 0.538);
    CHECK(warning.empty());
  }
  SECTION("a locality table must be sorted by stride, each value in range") {
    CHECK_THROWS_WITH(parse_perf_params(hw,
                                        "hw: npu4x4\nparams:\n  hbm_stride_locality:\n"
                                        "    - {stride_bytes: 512, locality: 1}\n    - {stride_bytes: 256, locality: 1}\n",
                                        "cal.yaml", warning),
                      Catch::Contains("cal.yaml") && Catch::Contains("hbm_stride_locality") &&
                          Catch::Contains("increase"));
    CHECK_THROWS_WITH(parse_perf_params(hw,
                                        "hw: npu4x4\nparams:\n  hbm_stride_locality:\n"
                                        "    - {stride_bytes: 512, locality: 2}\n",
                                        "cal.yaml", warning),
                      Catch::Contains("cal.yaml:4") && Catch::Contains("locality") && Catch::Contains("out of range"));
  }
}

TEST_CASE("perfmodel: the row-locality probes cover one to 256 blocks, and give streaming time ratios and rates",
          "[perfmodel]") {
  const hw_config hw = hw4x4();
  std::vector<stride_probe> probes = stride_probes(hw);
  REQUIRE(probes.size() == 68);
  CHECK(probes.front().stride_bytes == 256);
  CHECK(probes.back().stride_bytes == 256 * 256);
  // 4096 rows of 256 B: at least 20 us at a channel's rate, several refresh intervals.
  CHECK(probes.front().row_count == 4096);
  for (size_t i = 0; i < probes.size(); ++i) {
    stride_probe& p = probes[i];
    // Each run is one descriptor reading channel 0 only, twice as many rows in the second.
    uint32_t rows[2] = {0, 0};
    for (int k = 0; k < 2; ++k)
      for (const auto& prog : (k ? p.twice : p.rows).programs)
        if (prog.size() > 1) {
          const auto& d = std::get<dma_cmd>(prog.front());
          CHECK(rows[k] == 0);  // one busy core
          rows[k] = d.rows;
          CHECK(d.src_stride == p.stride_bytes * 8);
          CHECK(d.row_bytes == 256);
        }
    CHECK(rows[0] == p.row_count);
    CHECK(rows[1] == 2 * rows[0]);
    // Synthetic times: 100 ns fixed plus streaming at 40 ns per row x (1 + i / 10)
    // (too slow for the refreshes to stall: the window covers them).
    p.rows.measured_ns = 100 + 40 * rows[0] * (1 + double(i) / 10);
    p.twice.measured_ns = 100 + 40 * rows[1] * (1 + double(i) / 10);
  }
  const std::vector<stride_locality> table = stride_localities(hw, probes);
  REQUIRE(table.size() == probes.size());
  CHECK(table[0].locality == 1.0);
  CHECK(table[10].locality == Approx(1.0 / 2.0));
  CHECK(table[10].stride_bytes == 11 * 256);
  // The reference's rate: 256 B per 40 ns of the channel's 51.2 GB/s.
  CHECK(stride_base_fraction(hw, probes) == Approx(6.4 / hw.hbm.peak_gbps()));
  // Per row: a probe with half the rows (a small SRAM or HBM) and the same rate gives the same locality.
  probes[10].row_count /= 2;
  probes[10].twice.measured_ns = probes[10].rows.measured_ns;
  probes[10].rows.measured_ns -= 40 * double(probes[10].row_count) * 2.0;
  CHECK(stride_localities(hw, probes)[10].locality == Approx(1.0 / 2.0));
  // A reference fast enough for the refreshes to stall it (its window holds
  // less than a refresh's blocked time) is taken between them: the rate r
  // whose stalled rate r (1 - (blocked - window / r) / interval) was measured.
  const perf_params fp = first_principles_params(hw);
  const double window = hw.core.dma.max_outstanding * double(hw.hbm.interleave_bytes);
  const double r = 1.2 * window / fp.hbm_refresh_blocked_ns;
  REQUIRE(r < hw.hbm.peak_gbps());
  const double m = r * (1 - (fp.hbm_refresh_blocked_ns - window / r) / fp.hbm_refresh_interval_ns);
  probes[0].twice.measured_ns = probes[0].rows.measured_ns + 256.0 * double(probes[0].row_count) / m;
  CHECK(stride_base_fraction(hw, probes) == Approx(r / hw.hbm.peak_gbps()));
  // The table is relative to that rate, and a slow stride (its window covers a refresh) is taken as measured.
  CHECK(stride_localities(hw, probes)[10].locality == Approx(6.4 / 2 / r));
  probes[0].twice.measured_ns = probes[0].rows.measured_ns + 1;  // faster than the peak: at most 1
  CHECK(stride_base_fraction(hw, probes) == 1.0);
  probes[3].twice.measured_ns = probes[3].rows.measured_ns;  // no longer than half the rows: a broken probe
  CHECK_THROWS_AS(stride_localities(hw, probes), npuvp::error);
}

TEST_CASE("perfmodel: the link probe shares one link between two sends and gives the payload fraction",
          "[perfmodel]") {
  const hw_config hw = hw4x4();
  std::optional<link_probe> probe = noc_link_probe(hw);
  REQUIRE(probe);
  // Cores 0 -> 2 and 1 -> 3 of row 0 (they share the link 1 -> 2), twice as many bytes in the second run.
  uint32_t bytes[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    const auto& programs = (k ? probe->twice : probe->once).programs;
    for (const auto& [from, to] : {std::pair{0, 2}, std::pair{1, 3}}) {
      const auto& send = std::get<send_cmd>(programs[size_t(from)].front());
      CHECK(send.peer == to);
      CHECK(std::get<recv_cmd>(programs[size_t(to)].front()).peer == from);
      bytes[k] = send.bytes;
    }
  }
  CHECK(bytes[1] == 2 * bytes[0]);
  CHECK(probe->extra_bytes == 2 * uint64_t(bytes[0]));
  // Synthetic times: 300 ns of latency, then the link at 0.75 of its raw bandwidth.
  const double raw = hw.noc.link_bytes_per_ns();
  probe->once.measured_ns = 300 + 2.0 * bytes[0] / (0.75 * raw);
  probe->twice.measured_ns = 300 + 2.0 * bytes[1] / (0.75 * raw);
  CHECK(link_payload_efficiency(hw, *probe) == Approx(0.75));
  probe->twice.measured_ns = probe->once.measured_ns;
  CHECK_THROWS_WITH(link_payload_efficiency(hw, *probe), Catch::Contains("took no longer"));
  // A 2x2 mesh has no four routers in a row: nothing to measure.
  hw_config small = hw;
  small.mesh.width = small.mesh.height = 2;
  CHECK(!noc_link_probe(small));
}

TEST_CASE("perfmodel: the all-core HBM samples keep at most one stream per bank of a channel", "[perfmodel]") {
  // 64 cores on channels of 2 x 16 banks: 32 streams, every second core; the
  // 4x4's 16 cores all stream.
  const hw_config big = load_hw_config(std::string(NPUVP_SOURCE_DIR) + "/scenarios/hw/npu_8x8.yaml");
  for (const auto& [hw, streams, step] : {std::tuple{big, 32, 2}, std::tuple{hw4x4(), 16, 1}})
    for (const auto& s : calibration_suite(hw)) {
      if (s.name.size() < 4 || s.name.compare(s.name.size() - 4, 4, "_all") != 0) continue;
      INFO(s.name);
      std::vector<int> busy;
      for (size_t c = 0; c < s.programs.size(); ++c)
        if (s.programs[c].size() > 1) busy.push_back(static_cast<int>(c));
      REQUIRE(busy.size() == size_t(streams));
      for (size_t i = 0; i < busy.size(); ++i) CHECK(busy[i] == int(i) * step);
    }
}

TEST_CASE("perfmodel: fit recovers parameters from synthetic measurements", "[perfmodel]") {
  // A chip whose HBM channel, not the NoC, limits a load: wide flits.
  hw_config hw = hw4x4();
  hw.noc.flit_bytes = 128;
  const perf_params start = first_principles_params(hw);
  perf_params truth = start;
  truth.hbm_efficiency_strided = 0.6;
  truth.hbm_read_latency_ns = 55.0;
  // Micro-benchmarks: strided loads from channel 0 of several sizes by core 0.
  std::vector<calibration_sample> samples;
  for (uint32_t rows : {4u, 16u, 64u, 256u}) {
    dma_cmd d;
    d.row_bytes = 256;
    d.rows = rows;
    d.src_stride = 8 * 256;
    d.dst_stride = 256;
    auto programs = idle(hw);
    programs[0] = {d, end_cmd{}};
    calibration_sample s{"load " + std::to_string(rows), programs, 0, {}};
    s.measured_ns = evaluate(hw, s.programs, truth).time_ns;
    samples.push_back(s);
  }
  const fit_report rep = fit(hw, samples, start, {"hbm_efficiency_strided", "hbm_read_latency_ns"});
  CHECK(rep.params.hbm_efficiency_strided == Approx(0.6).epsilon(0.01));
  CHECK(rep.params.hbm_read_latency_ns == Approx(55.0).epsilon(0.01));
  CHECK(rep.quality.mape_percent < 0.5);
  CHECK(rep.quality.samples == 4);
  CHECK(rep.params.noc_hop_ns == start.noc_hop_ns);
  CHECK_THROWS_WITH(fit(hw, samples, start, {"no_such"}), Catch::Contains("no parameter 'no_such'"));
}

TEST_CASE("perfmodel: speed on a large lowered GEMM (figures printed)", "[perfmodel][bench]") {
  const hw_config hw = load_hw_config(std::string(NPUVP_SOURCE_DIR) + "/scenarios/hw/npu_8x8.yaml");
  const group_map map = make_placement("mesh_block")->place(4, 16, hw.mesh.width, hw.mesh.height);
  std::vector<gemm_job> jobs;
  uint64_t hbm = 0;
  const uint32_t M = 2048, K = 2048, N = 2048;
  for (int g = 0; g < 4; ++g) {
    gemm_job j{M, K, N, hbm, hbm + uint64_t(M) * K * 4, hbm + uint64_t(M) * K * 4 + uint64_t(K) * N * 4};
    hbm = j.c + uint64_t(M) * N * 4;
    jobs.push_back(j);
  }
  const auto programs = lowered(hw, "mnk_2d", map, jobs);
  size_t commands = 0;
  for (const auto& p : programs) commands += p.size();
  const stopwatch clock;
  const perf_result r = evaluate(hw, programs, first_principles_params(hw));
  const double wall = clock.seconds();
  std::cout << "perfmodel speed: 4 x GEMM " << M << "^3 mnk_2d on 8x8 (" << commands << " commands, " << r.events
            << " events): simulated " << r.time_ns / 1e3 << " us in " << wall * 1e3 << " ms wall\n"
            << summary(r);
  CHECK(r.time_ns > 0);
}

TEST_CASE("perfmodel: the calibration suite runs and identifies the parameters", "[perfmodel]") {
  const hw_config hw = hw4x4();
  std::vector<calibration_sample> suite = calibration_suite(hw);
  CHECK(suite.size() >= 16);
  const perf_params start = first_principles_params(hw);
  perf_params truth = start;
  // Below the NoC port bandwidth (28.4 of the channel's 51.2 GB/s), else not observable.
  truth.hbm_efficiency_sequential = 0.5;
  // hbm_efficiency_random is left out: with 16 streams queueing on every
  // channel (hbm_stream_latency_ns), hbm_random_all's 64 B bursts are
  // window-limited, so the random efficiency does not show unless below ~0.1.
  truth.hbm_read_latency_ns = 40;
  truth.noc_hop_ns = 4;
  truth.signal_overhead_ns = 10;
  truth.command_overhead_ns = 5;
  truth.noc_stream_penalty = 0.3;
  truth.noc_series_loss = 0.2;
  truth.hbm_stream_latency_ns = 30;  // as fitted on the TLM (hbm_streams_<n>, hbm_*_all)
  for (auto& s : suite) {
    INFO(s.name);
    CHECK(!s.informs.empty());
    s.measured_ns = evaluate(hw, s.programs, truth).time_ns;
    CHECK(s.measured_ns > 0);
  }
  const stopwatch clock;
  const fit_report rep = fit(hw, suite, start,
                             {"hbm_efficiency_sequential", "hbm_read_latency_ns", "noc_hop_ns", "signal_overhead_ns",
                              "command_overhead_ns", "noc_stream_penalty", "noc_series_loss", "hbm_stream_latency_ns"});
  const double wall = clock.seconds();
  std::cout << "calibration fit: " << suite.size() << " samples, " << rep.evaluations << " suite evaluations, " << wall
            << " s, MAPE " << rep.quality.mape_percent << "%, max " << rep.quality.max_error_percent << "%\n";
  CHECK(rep.params.hbm_efficiency_sequential == Approx(0.5).epsilon(0.02));
  CHECK(rep.params.hbm_read_latency_ns == Approx(40).epsilon(0.02));
  CHECK(rep.params.noc_hop_ns == Approx(4).epsilon(0.02));
  CHECK(rep.params.signal_overhead_ns == Approx(10).epsilon(0.02));
  CHECK(rep.params.command_overhead_ns == Approx(5).epsilon(0.02));
  CHECK(rep.params.noc_stream_penalty == Approx(0.3).epsilon(0.02));
  CHECK(rep.params.noc_series_loss == Approx(0.2).epsilon(0.02));
  CHECK(rep.params.hbm_stream_latency_ns == Approx(30).epsilon(0.02));
  CHECK(rep.quality.max_error_percent < 1.0);
  // The 8x8 preset's suite runs too.
  const hw_config big = load_hw_config(std::string(NPUVP_SOURCE_DIR) + "/scenarios/hw/npu_8x8.yaml");
  for (const auto& s : calibration_suite(big))
    CHECK(evaluate(big, s.programs, first_principles_params(big)).time_ns > 0);
}

TEST_CASE("perfmodel: a lowered Qwen3-0.6B decoder layer evaluates, with a breakdown per operator", "[perfmodel]") {
  const hw_config hw = hw4x4();
  const model_config m = load_model_config("qwen3-0.6b", std::string(NPUVP_SOURCE_DIR) + "/scenarios/models");
  const uint64_t h = m.hidden_size, I = m.intermediate_size, hd = m.head_dim;
  const uint64_t H = m.num_attention_heads, KV = m.num_key_value_heads;
  layer_job job;
  job.batch = {{200, 1}, {500, 1}, {0, 64}, {1000, 1}};  // three decodes and a prefill chunk
  const uint64_t T = 67;
  job.cache.max_positions = 1024;
  uint64_t top = 0;
  auto place = [&](uint64_t floats) {
    const uint64_t at = top;
    top += (floats * 4 + 4095) / 4096 * 4096;
    return at;
  };
  job.x_in = place(T * h);
  job.weights = {place(h),          place(h * H * hd), place(h * KV * hd), place(h * KV * hd), place(hd),   place(hd),
                 place(H * hd * h), place(h),          place(h * I),       place(h * I),       place(I * h)};
  job.cache.k = place(job.batch.size() * KV * job.cache.max_positions * hd);
  job.cache.v = place(job.batch.size() * KV * job.cache.max_positions * hd);
  job.x_out = place(T * h);
  lowering_context ctx(hw);
  const auto group = core_ids(make_placement("mesh_block")->place(1, 8, 4, 4)[0], 4);
  lower_transformer_layer(ctx, m, job, group);
  const auto programs = ctx.finish();
  const stopwatch clock;
  const perf_result r = evaluate(hw, programs, first_principles_params(hw));
  const double wall = clock.seconds();
  const double peak = 2.0 * hw.core.matrix.rows * hw.core.matrix.cols * hw.core.clock_ghz * 16;
  CHECK(r.time_ns >= r.flops / peak);
  CHECK(r.time_ns >= (r.hbm_read_bytes + r.hbm_write_bytes) / (hw.hbm.peak_gbps() * hw.hbm.channels));
  // Every weight is read at least once.
  CHECK(r.hbm_read_bytes >= 4.0 * (h * (H + 2 * KV) * hd + H * hd * h + 3 * h * I));
  CHECK(r.by_group.size() >= 8);
  double critical = 0;
  for (double t : r.critical_path_ns) critical += t;
  CHECK(critical == Approx(r.time_ns));
  size_t commands = 0;
  for (const auto& p : programs) commands += p.size();
  std::cout << "perfmodel: Qwen3-0.6B layer (4 sequences, 67 tokens) on 8 cores of the 4x4: " << commands
            << " commands, " << r.events << " events, evaluated in " << wall * 1e3 << " ms\n"
            << summary(r);
}

// Regression: the per-kind table once ended at a fixed "last" vector_op, and a
// newer op (to_bf16) wrote past it (heap corruption in bench roofline
// --perfmodel). Every named vector op gets its own row.
TEST_CASE("perfmodel: every vector op has its own breakdown row", "[perfmodel]") {
  const hw_config hw = hw4x4();
  auto programs = idle(hw);
  programs[0].clear();
  int ops = 0;
  for (; std::string(vector_op_name(vector_op(ops))) != "?"; ++ops) {
    vector_cmd v;
    v.op = vector_op(ops);
    v.rows = 1;
    v.cols = 64;
    v.src0 = 0;
    v.src1 = 4096;
    v.dst = 8192;
    v.param0 = 1;  // topk: keep one; rope: position
    v.param1 = 1;  // rope: one row per position
    programs[0].push_back(v);
  }
  programs[0].push_back(end_cmd{});
  const perf_result r = evaluate(hw, programs, first_principles_params(hw));
  CHECK(ops >= 20);
  for (int o = 0; o < ops; ++o) CHECK(kind_row(r, std::string("vector ") + vector_op_name(vector_op(o))).commands == 1);
}

// Regression: the two bench roofline streams (one layer, one pipeline stage),
// lowered in-process as the bench does, evaluate to a finite time.
TEST_CASE("perfmodel: the bench roofline streams evaluate", "[perfmodel]") {
  for (const char* f : {"qwen3-8b_decode1_streamed.yaml", "qwen3-0.6b_prefill2048.yaml"}) {
    scenario s = load_scenario(std::string(NPUVP_SOURCE_DIR) + "/scenarios/run/" + f,
                               std::string(NPUVP_SOURCE_DIR) + "/scenarios/models");
    s.step.layers = 1;
    s.parallelism.pp = 1;
    const lowered_step step = lower_step(s);
    const perf_result r = evaluate(s.hw, step.programs, first_principles_params(s.hw));
    CHECK(r.time_ns > 0);
    CHECK(std::isfinite(r.time_ns));
  }
}

TEST_CASE("perfmodel: row locality of HBM access patterns follows the channel's banks", "[perfmodel]") {
  // HBM2E, 8 channels interleaved every 256 B, mapping ro_ba_co_bg_pc: a
  // pseudo-channel bank holds 1 KiB of a row, a bank's row spans 32 KiB of
  // channel-local addresses. The TLM channel (`npuvp bench hbm --pattern
  // stride --request-bytes 256`) reaches 91.8 % of peak sequentially, 91.7 %
  // at a 512 B stride, 44.9 % at 4864 B and 26.7 % at 9728 B: relative to
  // sequential 1.00, 1.00, 0.49 and 0.29.
  const hw_config hw = load_hw_config(std::string(NPUVP_SOURCE_DIR) + "/scenarios/hw/npu_4x4.yaml");
  const hbm_rows rows(hw.hbm);
  auto strided = [&](uint64_t stride) {
    std::vector<uint64_t> bursts;
    for (uint64_t k = 0; bursts.size() < hbm_rows::max_bursts; ++k)
      for (uint64_t b = 0; b < 256; b += 32) bursts.push_back(k * stride + b);
    std::vector<uint64_t> sequential(bursts.size());
    for (size_t i = 0; i < sequential.size(); ++i) sequential[i] = i * 32;
    return rows.serve_cycles(sequential) / rows.serve_cycles(bursts);
  };
  CHECK(strided(512) == Approx(1.0).margin(0.02));
  CHECK(strided(4864) == Approx(0.49).margin(0.03));
  CHECK(strided(9728) == Approx(0.29).margin(0.03));
  // Descriptors in the global space: a 128-column bf16 tile of a 2048-column
  // matrix (row stride 4 KiB: every row in one channel, 512 B apart there)
  // keeps its row locality; of a 9728-column one (19 KiB: rows alternate two
  // channels, 4864 B apart in each) it halves. Contiguous copies are sequential.
  CHECK(rows.locality(0x2000, 256, 2048, 4096) == Approx(1.0).margin(0.02));
  CHECK(rows.locality(0x2000, 256, 2048, 19456) == Approx(0.49).margin(0.03));
  CHECK(rows.locality(0, 1 << 20, 1, 1 << 20) == 1.0);
}

// Repeated segments (evaluate_options::repeat_segments): a multi-layer step
// evaluated with and without them gives the same result, up to the rounding
// of times shifted by whole segments. Qwen3-0.6B decode b4 on the 4x4, 12
// layers, with one stage of 4 cores and with two pipeline stages (each stage
// simulates its first layers until two cuts find the same state; the last
// layer of the last stage differs, it stores the output).
TEST_CASE("perfmodel: a layer repeating the one before is accounted as its repeat", "[perfmodel][repeat]") {
  const std::string root = NPUVP_SOURCE_DIR;
  // mn_split: each layer's collectives wait at barriers of their own groups,
  // so a layer holds several cuts and repeats the one three cuts before.
  for (const std::string parallel : {"{partition: megatron, placement: ring_block, tp: 4, pp: 1}",
                                     "{partition: k_split, placement: linear_sequential, tp: 4, pp: 2}",
                                     "{partition: mn_split, placement: linear_sequential, tp: 4, pp: 1}"}) {
    INFO(parallel);
    const scenario s = parse_scenario("hw: ../hw/npu_4x4.yaml\nmodel: qwen3-0.6b\nparallelism: " + parallel +
                                          "\nstep: {layers: 12, decode: {batch: 4, context: 256}}\n",
                                      root + "/scenarios/run/test.yaml", root + "/scenarios/models");
    const lowered_step step = lower_step(s);
    // Every layer after the first starts at a multiple of the DRAM row window.
    const uint64_t window = s.hw.hbm.row_window_bytes();
    for (const hbm_region& r : step.hbm)
      if (r.name.rfind("layer", 0) == 0 && r.name.find(".input_norm") != std::string::npos &&
          r.name.rfind("layer0.", 0) != 0)
        CHECK(r.address % window == 0);
    const perf_params p = first_principles_params(s.hw);
    evaluate_options every;
    every.repeat_segments = false;
    const perf_result full = evaluate(s.hw, step.programs, p, every);
    const perf_result fast = evaluate(s.hw, step.programs, p);
    CHECK(full.repeated_segments == 0);
    CHECK(fast.repeated_segments >= 3);
    CHECK(fast.events < full.events);
    CHECK(fast.time_ns == Approx(full.time_ns).epsilon(1e-9));
    CHECK(fast.commands == full.commands);
    CHECK(fast.flops == full.flops);
    CHECK(fast.hbm_read_bytes == Approx(full.hbm_read_bytes).epsilon(1e-12));
    CHECK(fast.hbm_utilisation == Approx(full.hbm_utilisation).epsilon(1e-9));
    CHECK(fast.noc_link_bytes == Approx(full.noc_link_bytes).epsilon(1e-9));
    CHECK(fast.dma_busy == Approx(full.dma_busy).epsilon(1e-9));
    for (int b = 0; b < bound_count; ++b) {
      CHECK(fast.critical_path_ns[b] == Approx(full.critical_path_ns[b]).epsilon(1e-6).margin(1e-6));
      CHECK(fast.bound_ns[b] == Approx(full.bound_ns[b]).epsilon(1e-9).margin(1e-6));
    }
    REQUIRE(fast.by_op.size() == full.by_op.size());
    for (size_t o = 0; o < full.by_op.size(); ++o) {
      CHECK(fast.by_op[o].commands == full.by_op[o].commands);
      CHECK(fast.by_op[o].busy_ns == Approx(full.by_op[o].busy_ns).epsilon(1e-9).margin(1e-6));
      CHECK(fast.by_op[o].blocked_ns == Approx(full.by_op[o].blocked_ns).epsilon(1e-9).margin(1e-6));
      CHECK(fast.by_op[o].last_end_ns == Approx(full.by_op[o].last_end_ns).epsilon(1e-9));
    }
    // A repeated layer whose commands carry other operator labels (one matmul
    // of core 0 in the sixth layer given the label of the barrier before the
    // layer): still repeated (labels do not change timing), and its records go
    // to their own rows.
    std::vector<program> relabelled = step.programs;
    {
      uint16_t layer_group = 0;  // the barrier at the end of every layer: the last one
      for (const command& c : relabelled[0])
        if (auto* b = std::get_if<barrier_cmd>(&c)) layer_group = b->group;
      int barriers = 0;
      int first_op = -1;
      for (command& c : relabelled[0]) {
        if (auto* b = std::get_if<barrier_cmd>(&c)) barriers += b->group == layer_group;
        if (barriers != 5) continue;
        if (first_op < 0) first_op = kernels::op_of(c);
        if (auto* m = std::get_if<matmul_cmd>(&c); m && m->op_id != first_op) {
          m->op_id = static_cast<uint16_t>(first_op);
          break;
        }
      }
      REQUIRE(first_op >= 0);
    }
    const perf_result relabelled_full = evaluate(s.hw, relabelled, p, every);
    const perf_result relabelled_fast = evaluate(s.hw, relabelled, p);
    CHECK(relabelled_fast.repeated_segments == fast.repeated_segments);
    REQUIRE(relabelled_fast.by_op.size() == relabelled_full.by_op.size());
    for (size_t o = 0; o < relabelled_full.by_op.size(); ++o) {
      CHECK(relabelled_fast.by_op[o].commands == relabelled_full.by_op[o].commands);
      CHECK(relabelled_fast.by_op[o].flops == relabelled_full.by_op[o].flops);
      CHECK(relabelled_fast.by_op[o].busy_ns == Approx(relabelled_full.by_op[o].busy_ns).epsilon(1e-9).margin(1e-6));
    }
    // A layer that differs in one command (a longer matmul on core 0 in the
    // fifth layer) is simulated, not repeated.
    std::vector<program> changed = step.programs;
    uint16_t layer_group = 0;  // the barrier at the end of every layer: the last one
    for (const command& c : changed[0])
      if (auto* b = std::get_if<barrier_cmd>(&c)) layer_group = b->group;
    int barriers = 0;
    bool done = false;
    for (command& c : changed[0]) {
      if (auto* b = std::get_if<barrier_cmd>(&c)) barriers += b->group == layer_group;
      if (auto* m = std::get_if<matmul_cmd>(&c); m && barriers == 4 && !done) m->m += 8, done = true;
    }
    REQUIRE(done);
    const perf_result slow = evaluate(s.hw, changed, p, every);
    const perf_result mixed = evaluate(s.hw, changed, p);
    CHECK(mixed.repeated_segments < fast.repeated_segments);
    CHECK(mixed.time_ns == Approx(slow.time_ns).epsilon(1e-9));
    CHECK(slow.flops > full.flops);
    CHECK(mixed.flops == slow.flops);
  }
}
