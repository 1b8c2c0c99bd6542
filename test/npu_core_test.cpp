// npu_core alone: cores on an address_router with a stub HBM (20 ns) and
// core_sync messages of 5 ns; every expected time is computed by hand from
// core_timing's formulas at a 2 GHz core clock (0.5 ns per cycle).
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include <tlm_utils/simple_initiator_socket.h>

#include "kernels/encoding.h"
#include "models/common/address_router.h"
#include "models/npu_core/npu_core.h"
#include "platform/base/error.h"
#include "platform/base/trace.h"
#include "platform/memory_map.h"
#include "test/tlm_stubs.h"

using namespace npuvp;
using namespace npuvp::kernels;
using sc_core::sc_time;
using sc_core::SC_NS;

namespace {

hw_config bench_hw(int width, bool functional) {
  hw_config hw;
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

  explicit bench(int width, bool functional, trace_writer* trace = nullptr)
      : hw(bench_hw(width, functional)),
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
      cores.push_back(std::make_unique<npu_core>(("core_" + std::to_string(x) + "_0").c_str(), hw.core, x, 0, map,
                                                 sync, functional, trace));
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
  // 322 cycles, then k = 200 on 128 rows: folds k 128 (2*128+96+100-2 = 450)
  // and k 72 (2*72+96+100-2 = 338): 322 + 788 = 1110 cycles = 555 ns.
  b.cores[0]->load({matmul(100, 64, 96), matmul(100, 200, 96), end_cmd{}});
  sc_core::sc_start();
  CHECK(b.end_ns(0) == Approx(555));
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
