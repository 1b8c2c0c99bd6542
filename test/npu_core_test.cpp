// npu_core alone: cores on an address_router with a stub HBM (20 ns) and
// core_sync messages of 5 ns; every expected time is computed by hand from
// core_timing's formulas at a 2 GHz core clock (0.5 ns per cycle).
#include "models/npu_core/npu_core.h"

#include <tlm_utils/simple_initiator_socket.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "kernels/encoding.h"
#include "models/common/address_router.h"
#include "platform/base/error.h"
#include "platform/base/trace.h"
#include "platform/memory_map.h"
#include "platform/sim/isolated_run.h"
#include "test/tlm_stubs.h"

using namespace npuvp;
using namespace npuvp::kernels;
using sc_core::SC_NS;
using sc_core::sc_time;

namespace {

hw_config bench_hw(int width, bool functional, int in_flight) {
  hw_config hw;
  hw.core.dma.descriptors_in_flight = in_flight;
  hw.mesh.width = width;
  hw.mesh.height = 1;
  hw.hbm.channels = 1;
  hw.core.clock_ghz = 2.0;
  hw.core.sram.capacity_kib = 1024;
  hw.core.cmdq_depth = 4;
  hw.functional = functional;
  return hw;
}

// `width` cores in a row, each DMA on the router, targets: stub HBM, SRAMs.
struct bench {
  hw_config hw;
  memory_map map;
  core_sync sync;
  test::stub_memory hbm;
  address_router fabric;
  std::vector<std::unique_ptr<npu_core>> cores;

  explicit bench(int width, bool functional, trace_writer* trace = nullptr, int in_flight = 4)
      : hw(bench_hw(width, functional, in_flight)),
        map(hw),
        sync([](int, int) { return sc_time(5, SC_NS); }, sc_time(10, SC_NS)),
        hbm("hbm", 20, map.hbm_channel_bytes()),
        fabric(
            "fabric",
            [this](uint64_t a, uint64_t len) {
              const mem_location l = map.decode(a, len);
              return address_router::route{map.target_index(l), l.local};
            },
            sc_time(1, SC_NS)) {
    for (int x = 0; x < width; ++x)
      cores.push_back(std::make_unique<npu_core>(("core_" + std::to_string(x) + "_0").c_str(), hw.core, x, 0, map, sync,
                                                 functional, trace));
    fabric.mem_out.bind(hbm.port_in);
    for (auto& c : cores) {
      c->dma().mem_out.bind(fabric.port_in);
      fabric.mem_out.bind(c->local_sram().port_in);
    }
  }
  double end_ns(int core) const { return cores.at(core)->end_time().to_seconds() * 1e9; }
  stats_writer stats() const {
    stats_writer s;
    for (const auto& c : cores) c->report_stats(s);
    return s;
  }
};

matmul_cmd matmul(uint32_t m, uint32_t k, uint32_t n, uint32_t a = 0, uint32_t b = 0x10000, uint32_t c = 0x20000) {
  matmul_cmd x;
  x.m = m, x.k = k, x.n = n, x.a = a, x.b = b, x.c = c, x.lda = k, x.ldb = n, x.ldc = n;
  return x;
}

vector_cmd vec(vector_op op, uint32_t rows, uint32_t cols, uint32_t src0 = 0x30000, uint32_t dst = 0x30000) {
  vector_cmd v;
  v.op = op, v.rows = rows, v.cols = cols, v.src0 = src0, v.src1 = src0, v.dst = dst;
  return v;
}

dma_cmd dma(mem_space from, uint64_t src, mem_space to, uint64_t dst, uint32_t bytes) {
  dma_cmd d;
  d.src_space = from, d.dst_space = to, d.src = src, d.dst = dst, d.row_bytes = bytes;
  return d;
}

}  // namespace

TEST_CASE("npu_core: one matmul tile takes exactly the systolic formula", "[npu_core]") {
  bench b(1, false);
  // 2k + n + m - 2 = 128 + 96 + 100 - 2 = 322 cycles = 161 ns at 2 GHz.
  b.cores[0]->load({matmul(100, 64, 96), end_cmd{}});
  sc_core::sc_start();
  REQUIRE(b.cores[0]->done());
  CHECK(b.end_ns(0) == Approx(161).epsilon(1e-12));
  const stats_writer s = b.stats();
  CHECK(s.value("core_0_0.matrix", "macs") == 100 * 64 * 96);
  CHECK(s.value("core_0_0.matrix", "active_ns") == Approx(161));
}

TEST_CASE("npu_core: matmuls run back to back - a tile larger than the array folds", "[npu_core]") {
  bench b(1, false);
  // 322 cycles, then k = 200 on 128 rows: folds k 128 and k 72 back to back
  // with double-buffered weights: load 128, fold 1 streams max(100, 72) while
  // fold 2's weights shift in, fold 2 streams 100, drain 72 + 96 - 2 = 166:
  // 494 cycles alone (each fold by the formula: 450 + 338 = 788).
  // Right behind the first command, it hides the first's drain 64 + 96 - 2 =
  // 158 and min(128, 100) = 100 cycles of its first load (shifted in while the
  // first's 100 rows stream): 494 - 258 = 236. 322 + 236 = 558 cycles = 279 ns.
  b.cores[0]->load({matmul(100, 64, 96), matmul(100, 200, 96), end_cmd{}});
  sc_core::sc_start();
  CHECK(b.end_ns(0) == Approx(279));
}

TEST_CASE("npu_core: a matmul after an idle gap does not overlap the previous one", "[npu_core]") {
  bench b(1, false);
  // Matrix: matmul (322 cycles), then a wait for the vector add (8 + 200 x 128
  // / 64 = 408 cycles) to signal: the second matmul starts at cycle 408, not
  // right behind the first, and takes its 322 cycles alone (to 730). The third
  // is right behind the second: 322 - 158 - min(64, 100) = 100 (to 830).
  // 830 cycles = 415 ns at 2 GHz.
  b.cores[0]->load({matmul(100, 64, 96), vec(vector_op::add, 200, 128), signal_cmd{engine::vector, 5, self_core, 1},
                    wait_cmd{engine::matrix, 5, 1}, matmul(100, 64, 96), matmul(100, 64, 96), end_cmd{}});
  sc_core::sc_start();
  CHECK(b.end_ns(0) == Approx(415));
  CHECK(b.stats().value("core_0_0.matrix", "active_ns") == Approx((322 + 322 + 100) / 2.0));
}

TEST_CASE("npu_core: double-buffered folds - a weight load longer than the stream is exposed", "[npu_core]") {
  bench b(1, false);
  // m = 50 rows, k = 300 on 128 rows, n = 200 on 128 cols: folds (k, n) in
  // order (128,128) (128,72) (128,128) (128,72) (44,128) (44,72).
  // Load 128; folds 1-3 issue max(50, 128) = 128 each (the next fold loads
  // 128 weight rows, longer than the 50-row stream), folds 4-6 max(50, 44),
  // max(50, 44), max(50, 0) = 50 each; drain 44 + 72 - 2 = 114.
  // 128 + 384 + 150 + 114 = 776 cycles = 388 ns at 2 GHz.
  b.cores[0]->load({matmul(50, 300, 200), end_cmd{}});
  sc_core::sc_start();
  CHECK(b.end_ns(0) == Approx(388));
}

TEST_CASE("npu_core: vector op timing by kind - engines run concurrently", "[npu_core]") {
  trace_writer trace;
  bench b(1, false, &trace);
  // softmax 4 x 100: 8 + ceil(400 * 3 / 64) = 8 + 19 = 27 cycles;
  // add 1000: 8 + ceil(1000 / 64) = 24; gelu 640: 8 + 640 * 2 / 64 = 28.
  // Vector: 79 cycles = 39.5 ns, in parallel with the 161 ns matmul.
  b.cores[0]->load({vec(vector_op::softmax, 4, 100), matmul(100, 64, 96), vec(vector_op::add, 1, 1000),
                    vec(vector_op::gelu, 10, 64), end_cmd{}});
  sc_core::sc_start();
  const stats_writer s = b.stats();
  CHECK(s.value("core_0_0.vector", "active_ns") == Approx(39.5));
  CHECK(s.value("core_0_0.vector", "commands") == 3);
  CHECK(s.value("core_0_0.vector", "elements") == 400 + 1000 + 640);
  CHECK(b.end_ns(0) == Approx(161));
  CHECK(trace.event_count() == 4);  // one per command (end is not traced)
}

TEST_CASE("npu_core: semaphores order engines - functional matmul on DMA-loaded data", "[npu_core]") {
  bench b(1, true);
  const uint32_t M = 8, K = 16, N = 8;
  std::vector<float> a(M * K), bm(K * N);
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(int(i % 7) - 3);
  for (size_t i = 0; i < bm.size(); ++i) bm[i] = float(int(i % 5) - 2) * 0.5f;
  b.hbm.store.write(0, reinterpret_cast<const unsigned char*>(a.data()), a.size() * 4);
  b.hbm.store.write(4096, reinterpret_cast<const unsigned char*>(bm.data()), bm.size() * 4);
  const uint16_t load_done = 1, mm_done = 2;
  b.cores[0]->load({dma(mem_space::hbm, 0, mem_space::sram, 0, M * K * 4),
                    dma(mem_space::hbm, 4096, mem_space::sram, 1024, K * N * 4),
                    signal_cmd{engine::dma, load_done, self_core, 1}, wait_cmd{engine::matrix, load_done, 1},
                    matmul(M, K, N, 0, 1024, 2048), signal_cmd{engine::matrix, mm_done, self_core, 1},
                    wait_cmd{engine::dma, mm_done, 1}, dma(mem_space::sram, 2048, mem_space::hbm, 8192, M * N * 4),
                    end_cmd{}});
  sc_core::sc_start();
  REQUIRE(b.cores[0]->done());
  const stats_writer s = b.stats();
  // matmul 2*16 + 8 + 8 - 2 = 46 cycles = 23 ns, after both loads; the DMA
  // engine waits exactly that long before the store.
  const double mm = 23;
  CHECK(s.value("core_0_0.matrix", "active_ns") == Approx(mm));
  CHECK(s.value("core_0_0.dma", "stall_ns") == Approx(mm));
  CHECK(s.value("core_0_0.matrix", "stall_ns") > 40);  // two HBM round trips at least
  CHECK(b.end_ns(0) == Approx(s.value("core_0_0.dma", "active_ns") + mm));
  std::vector<float> c(M * N);
  b.hbm.store.read(8192, reinterpret_cast<unsigned char*>(c.data()), c.size() * 4);
  for (uint32_t i = 0; i < M; ++i)
    for (uint32_t j = 0; j < N; ++j) {
      float ref = 0;
      for (uint32_t k = 0; k < K; ++k) ref += a[i * K + k] * bm[k * N + j];
      CHECK(c[i * N + j] == ref);  // small integers and halves: exact in fp32
    }
}

TEST_CASE("npu_core: a signal to another core arrives after the message latency", "[npu_core]") {
  bench b(2, false);
  // Core 0: add 1000 (24 cycles = 12 ns), then signal core 1 from the vector
  // engine. Core 1 waits (sync), then matmul 161 ns: 12 + 5 + 161.
  b.cores[0]->load({vec(vector_op::add, 1, 1000), signal_cmd{engine::vector, 20, 1, 1}, end_cmd{}});
  b.cores[1]->load({wait_cmd{engine::sync, 20, 1}, matmul(100, 64, 96), end_cmd{}});
  sc_core::sc_start();
  CHECK(b.end_ns(0) == Approx(12));
  CHECK(b.end_ns(1) == Approx(178));
  CHECK(b.stats().value("core_0_0", "remote_signals") == 1);
}

TEST_CASE("npu_core: send writes the peer's SRAM - recv waits for the arrival notice", "[npu_core]") {
  bench b(2, true);
  std::vector<float> data(256);
  for (size_t i = 0; i < data.size(); ++i) data[i] = float(i) - 100.0f;
  b.cores[0]->write_sram(0, data.data(), 1024);
  vector_cmd scale = vec(vector_op::scale, 1, 256, 4096, 8192);
  scale.scalar = 2.0f;
  b.cores[0]->load({send_cmd{engine::dma, 1, 0, 4096, 1024, 7}, end_cmd{}});
  b.cores[1]->load({recv_cmd{engine::dma, 0, 4096, 1024, 7}, signal_cmd{engine::dma, 1, self_core, 1},
                    wait_cmd{engine::vector, 1, 1}, scale, end_cmd{}});
  sc_core::sc_start();
  REQUIRE(b.cores[1]->done());
  std::vector<float> out(256);
  b.cores[1]->read_sram(8192, out.data(), 1024);
  for (size_t i = 0; i < out.size(); ++i) CHECK(out[i] == 2 * data[i]);
  const stats_writer s = b.stats();
  // recv completes when the send's DMA has completed plus the 5 ns notice.
  CHECK(s.value("core_1_0.dma", "stall_ns") == Approx(s.value("core_0_0.dma", "active_ns") + 5));
  CHECK(s.value("core_0_0.dma", "send_bytes") == 1024);
  // scale 256: 8 + 4 = 12 cycles = 6 ns after the recv.
  CHECK(b.end_ns(1) == Approx(s.value("core_1_0.dma", "stall_ns") + 6));
}

TEST_CASE("npu_core: a barrier releases every participant after the last arrival", "[npu_core]") {
  bench b(2, false);
  // Core 0 reaches the barrier after its 161 ns matmul (engines drain first);
  // release at 161 + 10; core 1's add (12 ns) follows: 183.
  b.cores[0]->load({matmul(100, 64, 96), barrier_cmd{engine::sync, 3, 2}, end_cmd{}});
  b.cores[1]->load({barrier_cmd{engine::sync, 3, 2}, vec(vector_op::add, 1, 1000), end_cmd{}});
  sc_core::sc_start();
  CHECK(b.end_ns(0) == Approx(171));
  CHECK(b.end_ns(1) == Approx(183));
  CHECK(b.stats().value("core_1_0.sync", "stall_ns") == Approx(171));
}

namespace {
// Firmware stand-in: writes encoded records into the command queue, then rings the doorbell.
struct firmware : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<firmware> cmdq_out;
  std::vector<uint8_t> records;
  uint64_t doorbell = 0;
  tlm::tlm_response_status status = tlm::TLM_INCOMPLETE_RESPONSE;
  SC_HAS_PROCESS(firmware);
  explicit firmware(sc_core::sc_module_name n) : sc_module(n), cmdq_out("cmdq_out") { SC_THREAD(run); }
  void write(uint64_t addr, unsigned char* p, unsigned len) {
    tlm::tlm_generic_payload t;
    t.set_command(tlm::TLM_WRITE_COMMAND);
    t.set_address(addr);
    t.set_data_ptr(p);
    t.set_data_length(len);
    t.set_streaming_width(len);
    sc_time delay = sc_core::SC_ZERO_TIME;
    cmdq_out->b_transport(t, delay);
    status = t.get_response_status();
    wait(delay);
  }
  void run() {
    write(0, records.data(), static_cast<unsigned>(records.size()));
    uint32_t n = static_cast<uint32_t>(records.size() / record_bytes);
    write(doorbell, reinterpret_cast<unsigned char*>(&n), 4);
  }
};
}  // namespace

TEST_CASE("npu_core: commands written to the memory-mapped queue run after the doorbell", "[npu_core]") {
  bench b(1, false);
  firmware fw("fw");
  fw.cmdq_out.bind(b.cores[0]->cmdq_in);
  fw.records = encode(program{matmul(100, 64, 96), end_cmd{}});
  fw.doorbell = uint64_t(b.hw.core.cmdq_depth) * record_bytes;
  sc_core::sc_start();
  CHECK(fw.status == tlm::TLM_OK_RESPONSE);
  REQUIRE(b.cores[0]->done());
  // Two register writes of one cycle each (0.5 ns), then the 161 ns matmul.
  CHECK(b.end_ns(0) == Approx(162));
}

TEST_CASE("npu_core: a blocked core says which command waits", "[npu_core]") {
  bench b(1, false);
  b.cores[0]->load({matmul(100, 64, 96), wait_cmd{engine::matrix, 9, 1}, vec(vector_op::add, 1, 64),
                    wait_cmd{engine::sync, 8, 1}, end_cmd{}});
  sc_core::sc_start();
  CHECK_FALSE(b.cores[0]->done());
  const std::string r = b.cores[0]->blocked_report();
  CHECK_THAT(r, Catch::Contains("dispatch blocked at core_0_0 (core 0) command 3 (wait"));
  CHECK_THAT(r, Catch::Contains("matrix blocked at core_0_0 (core 0) command 1 (wait"));
  CHECK_THAT(r, Catch::Contains("sem=9"));
  CHECK(b.stats().value("core_0_0.vector", "commands") == 1);  // not blocked by the matrix wait
}

TEST_CASE("npu_core: functional bf16 matmul with transposed B and to_bf16 on the vector unit", "[npu_core]") {
  bench b(1, true);
  // A [4 x 8] fp32 -> bf16 by the vector unit; B^T [6 x 8] bf16; C = A B.
  const uint32_t M = 4, K = 8, N = 6;
  std::vector<float> a(M * K);
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(int(i % 9) - 4);  // small integers: exact in bf16
  std::vector<uint16_t> bt(N * K);
  for (size_t i = 0; i < bt.size(); ++i) bt[i] = to_bf16(float(int(i % 5) - 2) * 0.25f);
  b.cores[0]->write_sram(0, a.data(), a.size() * 4);
  b.cores[0]->write_sram(0x1000, bt.data(), bt.size() * 2);
  vector_cmd narrow = vec(vector_op::to_bf16, M, K, 0, 0x2000);
  matmul_cmd mm = matmul(M, K, N, 0x2000, 0x1000, 0x3000);
  mm.type = dtype::bf16;
  mm.transpose_b = true;
  mm.ldb = K;
  b.cores[0]->load(
      {narrow, signal_cmd{engine::vector, 1, self_core, 1}, wait_cmd{engine::matrix, 1, 1}, mm, end_cmd{}});
  sc_core::sc_start();
  REQUIRE(b.cores[0]->done());
  std::vector<float> c(M * N);
  b.cores[0]->read_sram(0x3000, c.data(), c.size() * 4);
  for (uint32_t i = 0; i < M; ++i)
    for (uint32_t j = 0; j < N; ++j) {
      float ref = 0;
      for (uint32_t k = 0; k < K; ++k) ref += a[i * K + k] * from_bf16(bt[j * K + k]);
      CHECK(c[i * N + j] == ref);
    }
  // to_bf16 of 32 elements: 8 + 1 cycles; matmul 2*8 + 6 + 4 - 2 = 24 cycles: 16.5 ns.
  CHECK(b.end_ns(0) == Approx(16.5));
}

namespace {
// One core running `prog` in a fresh kernel (run_isolated) with
// core.dma.descriptors_in_flight = in_flight; HBM [0, 64 KiB) holds bytes
// i % 251 first; returns the end time (ns) and HBM [0x10000, 0x12000).
isolated_job dma_job(program prog, int in_flight) {
  return [prog, in_flight] {
    bench b(1, true, nullptr, in_flight);
    std::vector<unsigned char> init(0x10000);
    for (size_t i = 0; i < init.size(); ++i) init[i] = static_cast<unsigned char>(i % 251);
    b.hbm.store.write(0, init.data(), init.size());
    b.cores[0]->load(prog);
    sc_core::sc_start();
    if (!b.cores[0]->done()) throw npuvp::error("core not done: " + b.cores[0]->blocked_report());
    std::vector<unsigned char> out(0x2000);
    b.hbm.store.read(0x10000, out.data(), out.size());
    return nlohmann::json{{"end_ns", b.end_ns(0)}, {"out", out}};
  };
}
}  // namespace

TEST_CASE("npu_core: independent DMA commands overlap - serialised with one descriptor in flight", "[npu_core]") {
  const dma_cmd load_a = dma(mem_space::hbm, 0, mem_space::sram, 0, 2048);
  const dma_cmd load_b = dma(mem_space::hbm, 0x2000, mem_space::sram, 0x2000, 2048);
  const auto r = run_isolated({dma_job({load_a, end_cmd{}}, 4), dma_job({load_b, end_cmd{}}, 4),
                               dma_job({load_a, load_b, end_cmd{}}, 4), dma_job({load_a, load_b, end_cmd{}}, 1)},
                              2);
  const double a = r[0]["end_ns"], b = r[1]["end_ns"], both = r[2]["end_ns"], serial = r[3]["end_ns"];
  // Each 2 KiB load alone: 8 bursts of 256 B (<= max_outstanding 16). Setup
  // 16 cycles = 8 ns; the fabric answers END_REQ after its 1 ns, so reads go
  // out at 8, 9, ..., 15 ns; a read takes 22 ns (fabric + stub 20 ns), each
  // write goes out when its read is back (30..37 ns) and takes 3.5 ns (fabric
  // + SRAM): 37 + 3.5 = 40.5 ns.
  CHECK(a == Approx(40.5));
  CHECK(b == Approx(40.5));
  // One in flight: the second starts when the first has completed.
  CHECK(serial == Approx(a + b));
  // Four in flight: B's setup starts at 16 ns (after A's last END_REQ), its
  // reads go out at 24..29 ns, then A's 8 writes take the request channel
  // (writes first, 30..37), B's last two reads go at 38 and 39, are back at
  // 61, and the last write completes at 61 + 3.5 = 64.5 ns.
  CHECK(both == Approx(64.5));
  CHECK(both < a + b);
}

TEST_CASE("npu_core: DMA commands with conflicting byte ranges do not overlap", "[npu_core]") {
  const dma_cmd load = dma(mem_space::hbm, 0, mem_space::sram, 0, 4096);
  const dma_cmd store_same = dma(mem_space::sram, 0, mem_space::hbm, 0x10000, 4096);        // RAW on SRAM [0, 4K)
  const dma_cmd store_other = dma(mem_space::sram, 0x4000, mem_space::hbm, 0x11000, 4096);  // independent
  const dma_cmd store_first = dma(mem_space::sram, 0, mem_space::hbm, 0x11000, 4096);       // then WAR by load
  const auto r = run_isolated({dma_job({load, store_same, end_cmd{}}, 4), dma_job({load, store_same, end_cmd{}}, 1),
                               dma_job({load, store_other, end_cmd{}}, 4),
                               dma_job({store_first, load, end_cmd{}}, 4)},
                              2);
  // RAW: the store starts after the load has completed, exactly as with one
  // descriptor in flight, and writes the loaded bytes.
  CHECK(double(r[0]["end_ns"]) == Approx(double(r[1]["end_ns"])));
  const std::vector<unsigned char> out = r[0]["out"];
  for (size_t i = 0; i < 4096; ++i) REQUIRE(out[i] == i % 251);
  // Without the conflict the same pair overlaps.
  CHECK(double(r[2]["end_ns"]) < double(r[0]["end_ns"]) - 8);
  // WAR: the load does not overwrite SRAM [0, 4K) before the store read it
  // (zeros, the SRAM's initial content).
  const std::vector<unsigned char> war = r[3]["out"];
  for (size_t i = 0x1000; i < 0x2000; ++i) REQUIRE(war[i] == 0);
}

TEST_CASE("npu_core: a signal after DMA commands waits until all of them completed", "[npu_core]") {
  bench b(1, true);
  std::vector<float> x(4096), y(64);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i);
  for (size_t i = 0; i < y.size(); ++i) y[i] = float(i) * 0.5f;
  b.hbm.store.write(0, reinterpret_cast<const unsigned char*>(x.data()), x.size() * 4);
  b.hbm.store.write(0x10000, reinterpret_cast<const unsigned char*>(y.data()), y.size() * 4);
  // A long load (16 KiB) and a short one (256 B), both in flight; the vector
  // engine adds the last 64 floats of the first to the second once signalled.
  vector_cmd add = vec(vector_op::add, 1, 64, 0x3f00, 0x8000);
  add.src1 = 0x4000;
  b.cores[0]->load({dma(mem_space::hbm, 0, mem_space::sram, 0, 16384),
                    dma(mem_space::hbm, 0x10000, mem_space::sram, 0x4000, 256),
                    signal_cmd{engine::dma, 1, self_core, 1}, wait_cmd{engine::vector, 1, 1}, add, end_cmd{}});
  sc_core::sc_start();
  REQUIRE(b.cores[0]->done());
  std::vector<float> out(64);
  b.cores[0]->read_sram(0x8000, out.data(), 256);
  for (size_t i = 0; i < 64; ++i) CHECK(out[i] == x[4096 - 64 + i] + y[i]);
  const stats_writer s = b.stats();
  // add 64: 8 + 1 cycles = 4.5 ns after the signal; the signal comes when the
  // DMA engine has been busy (some descriptor in flight) without a gap.
  CHECK(b.end_ns(0) == Approx(s.value("core_0_0.dma", "active_ns") + 4.5));
  CHECK(s.value("core_0_0.vector", "stall_ns") == Approx(s.value("core_0_0.dma", "active_ns")));
  CHECK(s.value("core_0_0.dma", "dma_bytes") == 16384 + 256);
}
