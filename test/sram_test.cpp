#include "models/sram/sram.h"

#include <catch2/catch.hpp>
#include <random>

#include "platform/base/trace.h"
#include "test/tlm_stubs.h"

using namespace npuvp;
using npuvp::test::stub_initiator;
using sc_core::SC_NS;
using sc_core::sc_time;
using tlm::TLM_READ_COMMAND;
using tlm::TLM_WRITE_COMMAND;

// 1 GHz core, 4 banks of 64 B/cycle interleaved every 64 B, 2-cycle pipeline.
static sram_config small_sram(const char* mode = "at") {
  sram_config c;
  c.mode = mode;
  c.capacity_kib = 64;
  c.banks = 4;
  c.bank_bytes_per_cycle = 64;
  c.access_cycles = 2;
  c.bank_interleave_bytes = 64;
  return c;
}

TEST_CASE("sram at: unloaded latency is access_cycles + bytes per bank / bank_bytes_per_cycle", "[sram]") {
  sram mem("sram", small_sram(), 1.0, false);
  stub_initiator ini("ini");
  ini.mem_out.bind(mem.port_in);
  ini.add(0, TLM_READ_COMMAND, 0, 64);      // 1 bank, 64 B: 2 + 1 = 3
  ini.add(10, TLM_READ_COMMAND, 0, 256);    // 4 banks x 64 B: 2 + 1 = 3
  ini.add(20, TLM_READ_COMMAND, 0, 512);    // 4 banks x 128 B: 2 + 2 = 4
  ini.add(30, TLM_WRITE_COMMAND, 32, 100);  // banks 0,1,2 get 32,64,4 B: 2 + 1 = 3
  ini.add(40, TLM_READ_COMMAND, 0, 320);    // bank 0 gets 2 x 64 B, banks 1-3 64 B: 2 + 2 = 4
  ini.add(50, TLM_READ_COMMAND, 64, 1024);  // each bank 256 B: 2 + 4 = 6
  sc_core::sc_start();
  CHECK(ini.resp_ns(0) == Approx(3));
  CHECK(ini.resp_ns(1) == Approx(13));
  CHECK(ini.resp_ns(2) == Approx(24));
  CHECK(ini.resp_ns(3) == Approx(33));
  CHECK(ini.resp_ns(4) == Approx(44));
  CHECK(ini.resp_ns(5) == Approx(56));
  CHECK(mem.reads() == 5);
  CHECK(mem.writes() == 1);
  CHECK(mem.bank_conflict_cycles() == Approx(0));
}

TEST_CASE("sram at: same-bank accesses serialise, different banks overlap", "[sram]") {
  sram mem("sram", small_sram(), 1.0, false);
  stub_initiator ini("ini");
  ini.mem_out.bind(mem.port_in);
  ini.add(0, TLM_READ_COMMAND, 0, 64);      // bank 0: ends 0 + 1 + 2 = 3
  ini.add(0, TLM_READ_COMMAND, 256, 64);    // bank 0 again: waits 1 cycle, ends 4
  ini.add(0, TLM_READ_COMMAND, 512, 128);   // banks 0,1: bank 0 free at 2, ends 2 + 1 + 2 = 5
  ini.add(100, TLM_READ_COMMAND, 0, 64);    // bank 0: ends 103
  ini.add(100, TLM_READ_COMMAND, 64, 64);   // bank 1: parallel, ends 103
  ini.add(100, TLM_READ_COMMAND, 128, 64);  // bank 2: ends 103
  sc_core::sc_start();
  CHECK(ini.resp_ns(0) == Approx(3));
  CHECK(ini.resp_ns(1) == Approx(4));
  CHECK(ini.resp_ns(2) == Approx(5));
  CHECK(ini.resp_ns(3) == Approx(103));
  CHECK(ini.resp_ns(4) == Approx(103));
  CHECK(ini.resp_ns(5) == Approx(103));
  CHECK(mem.bank_conflict_cycles() == Approx(1 + 2));
  stats_writer st;
  mem.report_stats(st);
  CHECK(st.value("sram", "bank_conflict_cycles") == Approx(3));
  CHECK(st.value("sram", "read_bytes") == Approx(64 * 5 + 128));
  // busy: [0, 5) and [100, 103)
  CHECK(st.value("sram", "busy_ns") == Approx(8));
}

TEST_CASE("sram at: b_transport sees the same bank model", "[sram]") {
  sram mem("sram", small_sram(), 1.0, true);
  stub_initiator ini("ini");  // empty plan: only its socket is used
  ini.mem_out.bind(mem.port_in);
  auto& out = ini.mem_out;
  sc_core::sc_start(sc_time(1, SC_NS));  // elaboration done, t = 1 ns
  unsigned char buf[64];
  for (int i = 0; i < 64; ++i) buf[i] = static_cast<unsigned char>(i * 3);
  tlm::tlm_generic_payload t;
  t.set_command(TLM_WRITE_COMMAND);
  t.set_address(128);
  t.set_data_ptr(buf);
  t.set_data_length(64);
  t.set_streaming_width(64);
  sc_time d = sc_core::SC_ZERO_TIME;
  out->b_transport(t, d);
  CHECK(t.is_response_ok());
  CHECK(d == sc_time(3, SC_NS));
  unsigned char back[64] = {};
  t.set_command(TLM_READ_COMMAND);
  t.set_data_ptr(back);
  d = sc_core::SC_ZERO_TIME;
  out->b_transport(t, d);  // same bank, same time: waits for the write
  CHECK(d == sc_time(4, SC_NS));
  CHECK(std::equal(buf, buf + 64, back));
}

TEST_CASE("sram lt: fixed latency plus bandwidth, bank conflicts ignored and said so", "[sram]") {
  sram mem("sram", small_sram("lt"), 1.0, false);
  stub_initiator ini("ini");
  ini.mem_out.bind(mem.port_in);
  ini.add(0, TLM_READ_COMMAND, 0, 512);    // 2 + ceil(512 / (4 * 64)) = 4
  ini.add(0, TLM_READ_COMMAND, 0, 64);     // 2 + 1 = 3, no wait for bank 0
  ini.add(0, TLM_READ_COMMAND, 256, 64);   // 3
  ini.add(10, TLM_READ_COMMAND, 0, 1000);  // 2 + ceil(1000 / 256) = 6
  sc_core::sc_start();
  CHECK(ini.resp_ns(0) == Approx(4));
  CHECK(ini.resp_ns(1) == Approx(3));
  CHECK(ini.resp_ns(2) == Approx(3));
  CHECK(ini.resp_ns(3) == Approx(16));
  stats_writer st;
  mem.report_stats(st);
  CHECK(st.value("sram", "bank_conflict_cycles") == 0);
  const std::string model = st.json()["groups"]["sram"]["timing_model"]["value"].get<std::string>();
  CHECK(model.find("ignores bank conflicts") != std::string::npos);
}

TEST_CASE("sram: out-of-range access gets an address error after access_cycles", "[sram]") {
  sram mem("sram", small_sram(), 1.0, true);
  stub_initiator ini("ini");
  ini.mem_out.bind(mem.port_in);
  ini.add(0, TLM_READ_COMMAND, 64 * 1024 - 32, 64);  // runs 32 B past the end
  ini.add(10, TLM_WRITE_COMMAND, 64 * 1024, 4);
  ini.add(20, TLM_READ_COMMAND, 64 * 1024 - 64, 64);  // last line: fine
  sc_core::sc_start();
  CHECK(ini.results[0].status == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(ini.resp_ns(0) == Approx(2));
  CHECK(ini.results[1].status == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(ini.results[2].status == tlm::TLM_OK_RESPONSE);
  CHECK(mem.reads() == 1);
}

TEST_CASE("sram: responses wait for END_RESP of the previous one", "[sram]") {
  sram mem("sram", small_sram(), 1.0, false);
  stub_initiator ini("ini");
  ini.end_resp_delay = sc_time(5, SC_NS);
  ini.mem_out.bind(mem.port_in);
  ini.add(0, TLM_READ_COMMAND, 0, 64);    // ready at 3
  ini.add(0, TLM_READ_COMMAND, 64, 64);   // ready at 3, sent after END_RESP at 8
  ini.add(0, TLM_READ_COMMAND, 128, 64);  // sent after END_RESP at 13
  sc_core::sc_start();
  CHECK(ini.resp_ns(0) == Approx(3));
  CHECK(ini.resp_ns(1) == Approx(8));
  CHECK(ini.resp_ns(2) == Approx(13));
}

TEST_CASE("sram: every request gets exactly one response, functional data round-trips", "[sram]") {
  trace_writer trace;
  sram mem("sram", small_sram(), 1.0, true, &trace);
  stub_initiator ini("ini");
  ini.mem_out.bind(mem.port_in);
  std::mt19937 rng(7);
  const int n = 200;
  for (int i = 0; i < n; ++i) {
    const unsigned len = 1 + rng() % 300;
    const uint64_t addr = rng() % (64 * 1024 - len);
    ini.add(static_cast<double>(i / 4), i % 2 ? TLM_READ_COMMAND : TLM_WRITE_COMMAND, addr, len);
  }
  sc_core::sc_start();
  for (const auto& r : ini.results) {
    CHECK(r.responses == 1);
    CHECK(r.status == tlm::TLM_OK_RESPONSE);
  }
  CHECK(mem.reads() + mem.writes() == n);
  CHECK(trace.event_count() == n);
}
