#include <catch2/catch.hpp>
#include <vector>

#include "models/dma/dma_engine.h"
#include "platform/base/error.h"
#include "platform/base/trace.h"
#include "test/tlm_stubs.h"

using namespace npuvp;
using npuvp::test::stub_memory;
using sc_core::SC_NS;
using sc_core::sc_time;

static dma_config cfg(int max_outstanding = 4) {
  dma_config c;
  c.max_outstanding = max_outstanding;
  c.burst_bytes = 256;
  c.setup_cycles = 16;
  return c;
}

static double ns(const sc_time& t) { return t.to_seconds() * 1e9; }

TEST_CASE("dma: 1-D copy timing by hand", "[dma]") {
  trace_writer trace;
  dma_engine dma("dma", cfg(), 1.0, false, &trace);
  stub_memory mem("mem", 10, 1 << 20);
  dma.mem_out.bind(mem.port_in);
  dma_completion done;
  dma.submit(dma_descriptor::linear(0, 0x10000, 1024), [&](const dma_completion& c) { done = c; });
  sc_core::sc_start();
  // setup 16 cycles; reads issued at 16..19 (one per cycle), answered at
  // 26..29; writes issued at 26..29, answered at 36..39.
  CHECK(done.ok);
  CHECK(ns(done.started) == Approx(0));
  CHECK(ns(done.finished) == Approx(39));
  CHECK(dma.bursts() == 4);
  REQUIRE(mem.arrivals.size() == 8);
  CHECK(ns(mem.arrivals[0]) == Approx(16));
  CHECK(ns(mem.arrivals[3]) == Approx(19));
  CHECK(ns(mem.arrivals[4]) == Approx(26));
  CHECK(mem.addresses[4] == 0x10000);
  CHECK(mem.requests == 8);
  CHECK(mem.responses == 8);
  CHECK(trace.event_count() == 1);
  stats_writer st;
  dma.report_stats(st);
  CHECK(st.value("dma", "descriptors") == 1);
  CHECK(st.value("dma", "bytes") == 1024);
  CHECK(st.value("dma", "busy_ns") == Approx(39));
}

TEST_CASE("dma: bursts never cross a row nor a burst_bytes boundary", "[dma]") {
  dma_engine dma("dma", cfg(16), 1.0, false);
  stub_memory mem("mem", 10, 1 << 20);
  dma.mem_out.bind(mem.port_in);
  std::vector<uint64_t> bursts;
  sc_core::sc_spawn([&] {
    uint64_t before = dma.bursts();
    auto count = [&](const dma_descriptor& d) {
      CHECK(dma.run(d).ok);
      bursts.push_back(dma.bursts() - before);
      before = dma.bursts();
    };
    count(dma_descriptor::strided(0, 0x40000, 600, 3, 1024, 2048));  // per row 256 + 256 + 88
    count(dma_descriptor::linear(100, 0x40000 + 100, 1000));         // 156 + 3 x 256 + 76
    count(dma_descriptor::linear(0, 0x40000 + 128, 512));            // dst misaligned: 4 x 128
    count(dma_descriptor::linear(0, 0x40000, 256));                  // one burst
  });
  sc_core::sc_start();
  CHECK(bursts == std::vector<uint64_t>{9, 5, 4, 1});
  // the reads of the second descriptor (after the 9 reads + 9 writes of the first)
  std::vector<uint64_t> reads;
  for (size_t i = 18; i < 28; ++i)
    if (mem.addresses[i] < 0x40000) reads.push_back(mem.addresses[i]);
  CHECK(reads == std::vector<uint64_t>{100, 256, 512, 768, 1024});
  CHECK(mem.requests == 2 * (9 + 5 + 4 + 1));
  CHECK(mem.responses == mem.requests);
}

TEST_CASE("dma: at most max_outstanding bursts in flight, one response per request", "[dma]") {
  dma_engine dma("dma", cfg(4), 1.0, false);
  stub_memory mem("mem", 10, 1 << 20);
  dma.mem_out.bind(mem.port_in);
  dma.submit(dma_descriptor::linear(0, 0x10000, 8192));
  sc_core::sc_start();
  CHECK(dma.bursts() == 32);
  CHECK(mem.max_in_flight == 4);
  CHECK(mem.requests == 64);
  CHECK(mem.responses == 64);
  CHECK(mem.in_flight == 0);
  CHECK(dma.idle());
}

TEST_CASE("dma: waits for END_REQ before the next request (target back-pressure)", "[dma]") {
  dma_engine dma("dma", cfg(8), 1.0, false);
  stub_memory mem("mem", 10, 1 << 20);
  mem.accept_delay = sc_time(3, SC_NS);
  dma.mem_out.bind(mem.port_in);
  dma_completion done;
  dma.submit(dma_descriptor::linear(0, 0x10000, 512), [&](const dma_completion& c) { done = c; });
  sc_core::sc_start();
  // reads at 16 and 19 (END_REQ after 3 ns), answered at 26 and 29; writes at
  // 26 and 29, answered at 36 and 39.
  CHECK(mem.violations == 0);
  REQUIRE(mem.arrivals.size() == 4);
  CHECK(ns(mem.arrivals[1]) == Approx(19));
  CHECK(ns(mem.arrivals[2]) == Approx(26));
  CHECK(ns(mem.arrivals[3]) == Approx(29));
  CHECK(ns(done.finished) == Approx(39));
}

TEST_CASE("dma: a 2-D strided copy moves exactly the right bytes", "[dma]") {
  dma_engine dma("dma", cfg(4), 1.0, true);
  stub_memory mem("mem", 7, 1 << 20);
  dma.mem_out.bind(mem.port_in);
  auto pattern = [](uint64_t a) { return static_cast<unsigned char>((a * 7 + 3) ^ (a >> 8)); };
  std::vector<unsigned char> src(0x4000);
  for (uint64_t a = 0; a < src.size(); ++a) src[a] = pattern(0x1000 + a);
  mem.store.write(0x1000, src.data(), src.size());
  const uint64_t dst_base = 0x8000, dst_span = 0x1000;
  std::vector<unsigned char> dst(dst_span, 0xEE);
  mem.store.write(dst_base, dst.data(), dst_span);

  const auto d = dma_descriptor::strided(0x1003, dst_base + 7, 300, 5, 400, 512);
  dma.submit(d);
  sc_core::sc_start();

  std::vector<unsigned char> expect(dst_span, 0xEE);
  for (uint64_t r = 0; r < d.rows; ++r)
    for (uint64_t c = 0; c < d.row_bytes; ++c) expect[7 + r * 512 + c] = pattern(0x1003 + r * 400 + c);
  std::vector<unsigned char> got(dst_span);
  mem.store.read(dst_base, got.data(), dst_span);
  for (uint64_t i = 0; i < dst_span; ++i) {
    if (got[i] != expect[i]) FAIL("byte " << i << " of dst: got " << int(got[i]) << " expected " << int(expect[i]));
  }
  std::vector<unsigned char> src_after(src.size());
  mem.store.read(0x1000, src_after.data(), src.size());
  CHECK(src_after == src);
  dma_completion c;
  REQUIRE(dma.pop_completion(c));
  CHECK(c.ok);
  CHECK(c.id == 1);
}

TEST_CASE("dma: timing-only mode gives the functional mode's timing", "[dma]") {
  dma_engine fast("fast", cfg(4), 1.0, false);
  dma_engine real("real", cfg(4), 1.0, true);
  stub_memory m1("m1", 9, 1 << 20), m2("m2", 9, 1 << 20);
  m1.functional = false;
  fast.mem_out.bind(m1.port_in);
  real.mem_out.bind(m2.port_in);
  const auto d = dma_descriptor::strided(0x1003, 0x8007, 300, 5, 400, 512);
  dma_completion a, b;
  fast.submit(d, [&](const dma_completion& c) { a = c; });
  real.submit(d, [&](const dma_completion& c) { b = c; });
  sc_core::sc_start();
  CHECK(a.finished > sc_core::SC_ZERO_TIME);
  CHECK(a.finished == b.finished);
  CHECK(fast.bursts() == real.bursts());
}

TEST_CASE("dma: completion queue, event, blocking run and error status", "[dma]") {
  dma_engine dma("dma", cfg(4), 1.0, false);
  stub_memory mem("mem", 10, 1 << 16);
  dma.mem_out.bind(mem.port_in);
  CHECK_THROWS_AS(dma.submit(dma_descriptor::linear(0, 0, 0)), error);
  std::vector<uint64_t> order;
  int events = 0;
  sc_core::sc_spawn([&] {
    const uint64_t a = dma.submit(dma_descriptor::linear(0, 0x8000, 4096));
    const uint64_t b = dma.submit(dma_descriptor::linear(0, 0x9000, 256));
    CHECK(!dma.done(a));
    dma.wait_for(b);
    CHECK(dma.done(b));
    const dma_completion bad = dma.run(dma_descriptor::linear(0, 0x20000, 256));  // dst beyond 64 KiB
    CHECK(!bad.ok);
    CHECK(bad.id == 3);
    dma_completion c;
    while (dma.pop_completion(c)) order.push_back(c.id);
  });
  sc_core::sc_spawn([&] {
    for (;;) {
      wait(dma.completion_event());
      ++events;
    }
  });
  sc_core::sc_start();
  // descriptors complete in order here; the run() one has a callback, so it
  // is not queued
  CHECK(order == std::vector<uint64_t>{1, 2});
  CHECK(events == 3);
  stats_writer st;
  dma.report_stats(st);
  CHECK(st.value("dma", "errors") == 1);
}
