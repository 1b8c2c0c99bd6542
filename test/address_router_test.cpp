#include "models/common/address_router.h"

#include <catch2/catch.hpp>

#include "models/dma/dma_engine.h"
#include "models/sram/sram.h"
#include "platform/base/error.h"
#include "platform/memory_map.h"
#include "test/tlm_stubs.h"

using namespace npuvp;
using npuvp::test::stub_initiator;
using npuvp::test::stub_memory;
using sc_core::SC_NS;
using sc_core::sc_time;
using tlm::TLM_READ_COMMAND;
using tlm::TLM_WRITE_COMMAND;

// Two 4 KiB windows: target 0 at 0x10000, target 1 at 0x20000.
static address_router::route two_windows(uint64_t addr, uint64_t len) {
  for (int t = 0; t < 2; ++t) {
    const uint64_t base = 0x10000 * (t + 1);
    if (addr >= base && addr + len <= base + 0x1000) return {t, addr - base};
  }
  throw error("unmapped");
}

TEST_CASE("address router: rewrites addresses, adds latency both ways, restores the address", "[fabric]") {
  address_router fabric("fabric", two_windows, sc_time(2, SC_NS));
  stub_initiator a("a"), b("b");
  stub_memory t0("t0", 10, 0x1000), t1("t1", 5, 0x1000);
  a.mem_out.bind(fabric.port_in);
  b.mem_out.bind(fabric.port_in);
  fabric.mem_out.bind(t0.port_in);
  fabric.mem_out.bind(t1.port_in);
  a.add(0, TLM_READ_COMMAND, 0x10040, 64);   // t0 at 2, response 12 + 2 = 14
  a.add(0, TLM_WRITE_COMMAND, 0x20080, 64);  // after END_REQ at 2: t1 at 4, response 9 + 2 = 11
  b.add(0, TLM_READ_COMMAND, 0x20100, 8);    // t1 at 2, response 7 + 2 = 9
  b.add(1, TLM_READ_COMMAND, 0x30000, 8);    // sent at 2 (END_REQ), unmapped: error at 2 + 2
  sc_core::sc_start();
  CHECK(t0.addresses == std::vector<uint64_t>{0x40});
  CHECK(t1.addresses == std::vector<uint64_t>{0x100, 0x80});
  CHECK(a.resp_ns(0) == Approx(14));
  CHECK(a.resp_ns(1) == Approx(11));
  CHECK(b.resp_ns(0) == Approx(9));
  CHECK(b.results[1].status == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(b.resp_ns(1) == Approx(4));
  for (auto* ini : {&a, &b})
    for (const auto& r : ini->results) CHECK(r.responses == 1);
  stats_writer st;
  fabric.report_stats(st);
  CHECK(st.value("fabric", "requests") == 4);
  CHECK(st.value("fabric", "decode_errors") == 1);
}

TEST_CASE("address router: one request at a time per target, END_REQ passes back-pressure", "[fabric]") {
  address_router fabric("fabric", two_windows, sc_time(1, SC_NS));
  stub_initiator a("a"), b("b");
  stub_memory t0("t0", 10, 0x1000), t1("t1", 10, 0x1000);
  t0.accept_delay = sc_time(4, SC_NS);
  a.mem_out.bind(fabric.port_in);
  b.mem_out.bind(fabric.port_in);
  fabric.mem_out.bind(t0.port_in);
  fabric.mem_out.bind(t1.port_in);
  a.add(0, TLM_READ_COMMAND, 0x10000, 8);  // t0 at 1, END_REQ at 5
  b.add(0, TLM_READ_COMMAND, 0x10008, 8);  // queued in the fabric, t0 at 5, END_REQ 9
  a.add(0, TLM_READ_COMMAND, 0x10010, 8);  // sent by a at 5, t0 at 9
  sc_core::sc_start();
  CHECK(t0.violations == 0);
  REQUIRE(t0.arrivals.size() == 3);
  CHECK(t0.arrivals[0] == sc_time(1, SC_NS));
  CHECK(t0.arrivals[1] == sc_time(5, SC_NS));
  CHECK(t0.arrivals[2] == sc_time(9, SC_NS));
  CHECK(a.results[0].end_req == sc_time(5, SC_NS));
  CHECK(b.results[0].end_req == sc_time(9, SC_NS));
  CHECK(a.resp_ns(0) == Approx(12));
  CHECK(b.resp_ns(0) == Approx(16));
  CHECK(a.resp_ns(1) == Approx(20));
}

TEST_CASE("address router: b_transport and debug transport", "[fabric]") {
  address_router fabric("fabric", two_windows, sc_time(3, SC_NS));
  stub_initiator a("a");
  stub_memory t0("t0", 10, 0x1000), t1("t1", 5, 0x1000);
  a.mem_out.bind(fabric.port_in);
  fabric.mem_out.bind(t0.port_in);
  fabric.mem_out.bind(t1.port_in);
  sc_core::sc_start(sc_time(1, SC_NS));
  unsigned char buf[4] = {1, 2, 3, 4};
  tlm::tlm_generic_payload t;
  t.set_command(TLM_WRITE_COMMAND);
  t.set_address(0x20010);
  t.set_data_ptr(buf);
  t.set_data_length(4);
  t.set_streaming_width(4);
  sc_time d = sc_core::SC_ZERO_TIME;
  a.mem_out->b_transport(t, d);
  CHECK(t.is_response_ok());
  CHECK(t.get_address() == 0x20010);
  CHECK(d == sc_time(3 + 5 + 3, SC_NS));
  unsigned char back[4] = {};
  t.set_command(TLM_READ_COMMAND);
  t.set_data_ptr(back);
  CHECK(a.mem_out->transport_dbg(t) == 4);
  CHECK(back[3] == 4);
  t.set_address(0x50000);
  d = sc_core::SC_ZERO_TIME;
  a.mem_out->b_transport(t, d);
  CHECK(t.get_response_status() == tlm::TLM_ADDRESS_ERROR_RESPONSE);
}

// The memory path end to end: DMA -> fabric -> two core SRAMs, decoded by the
// global memory map of a 2x1 mesh.
TEST_CASE("dma through the fabric copies between two SRAMs", "[fabric][dma][sram]") {
  hw_config hw;
  hw.mesh.width = 2;
  hw.mesh.height = 1;
  hw.functional = true;
  hw.core.sram.capacity_kib = 64;
  hw.core.sram.banks = 4;
  hw.core.sram.bank_bytes_per_cycle = 64;
  hw.core.sram.access_cycles = 2;
  hw.core.sram.bank_interleave_bytes = 64;
  hw.core.dma.burst_bytes = 256;
  hw.core.dma.max_outstanding = 4;
  hw.core.dma.setup_cycles = 16;
  const memory_map map(hw);
  auto decode = [&map](uint64_t addr, uint64_t len) {
    const mem_location l = map.decode(addr, len);
    if (l.kind != mem_target::sram) throw error("no HBM in this test");
    return address_router::route{l.index, l.local};
  };
  address_router fabric("fabric", decode, sc_time(2, SC_NS));
  dma_engine dma("dma", hw.core.dma, 1.0, true);
  stub_initiator host("host");  // only for debug access
  sram s0("sram0", hw.core.sram, 1.0, true), s1("sram1", hw.core.sram, 1.0, true);
  dma.mem_out.bind(fabric.port_in);
  host.mem_out.bind(fabric.port_in);
  fabric.mem_out.bind(s0.port_in);
  fabric.mem_out.bind(s1.port_in);

  const uint64_t a0 = map.sram_global(0, 0x100), a1 = map.sram_global(1, 0x2000);
  std::vector<unsigned char> data(2048);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 13 + 1);
  auto dbg = [&](tlm::tlm_command cmd, uint64_t addr, unsigned char* p, unsigned len) {
    tlm::tlm_generic_payload t;
    t.set_command(cmd);
    t.set_address(addr);
    t.set_data_ptr(p);
    t.set_data_length(len);
    REQUIRE(host.mem_out->transport_dbg(t) == len);
  };
  dma_completion first, second;
  sc_core::sc_spawn([&] {
    dbg(TLM_WRITE_COMMAND, a0, data.data(), 2048);
    first = dma.run(dma_descriptor::linear(a0, a1, 512));
    // 2-D: 4 rows of 256 B with source stride 512 into a packed block
    second = dma.run(dma_descriptor::strided(a0, a1 + 4096, 256, 4, 512, 256));
  });
  sc_core::sc_start();
  // read0 leaves at 16, reaches sram0 at 18, 256 B over 4 banks: done 21,
  // back at 23; END_REQ reaches the DMA at 18, so read1 leaves at 18 and is
  // back at 25. write0 leaves at 23, sram1 at 25, back at 30; write1 leaves
  // at 25 (END_REQ of write0), sram1 at 27, back at 32.
  CHECK(first.ok);
  CHECK(first.finished == sc_time(32, SC_NS));
  CHECK(second.ok);
  std::vector<unsigned char> got(512);
  dbg(TLM_READ_COMMAND, a1, got.data(), 512);
  CHECK(std::equal(got.begin(), got.end(), data.begin()));
  std::vector<unsigned char> got2(1024);
  dbg(TLM_READ_COMMAND, a1 + 4096, got2.data(), 1024);
  for (size_t r = 0; r < 4; ++r)
    CHECK(std::equal(got2.begin() + r * 256, got2.begin() + (r + 1) * 256, data.begin() + r * 512));
  CHECK(s0.reads() == 2 + 4);
  CHECK(s1.writes() == 2 + 4);
}

TEST_CASE("dma through the fabric: an unmapped destination completes with an error", "[fabric][dma]") {
  dma_config c;
  c.burst_bytes = 256;
  c.max_outstanding = 2;
  c.setup_cycles = 4;
  address_router fabric("fabric", two_windows, sc_time(1, SC_NS));
  dma_engine dma("dma", c, 1.0, false);
  stub_memory t0("t0", 10, 0x1000), t1("t1", 10, 0x1000);
  dma.mem_out.bind(fabric.port_in);
  fabric.mem_out.bind(t0.port_in);
  fabric.mem_out.bind(t1.port_in);
  dma_completion good, bad;
  dma.submit(dma_descriptor::linear(0x10000, 0x20000, 1024), [&](const dma_completion& d) { good = d; });
  // the fabric answers the writes itself (TLM_COMPLETED with an error)
  dma.submit(dma_descriptor::linear(0x10000, 0x70000, 512), [&](const dma_completion& d) { bad = d; });
  sc_core::sc_start();
  CHECK(good.ok);
  CHECK(!bad.ok);
  CHECK(bad.id == 2);
  CHECK(dma.idle());
  CHECK(t1.requests == 4);  // the good descriptor's writes only
  CHECK(t0.requests == 4 + 2);
  CHECK(t0.responses == t0.requests);
}
