// hbm_channel alone between a stub initiator and nothing else. Timing values
// are tiny and made up so every expected time can be computed by hand (all in
// ns with tCK = 1 ns).
#include <tlm_utils/peq_with_get.h>
#include <tlm_utils/simple_initiator_socket.h>

#include <catch2/catch.hpp>
#include <random>
#include <systemc>
#include <tlm>
#include <unordered_map>

#include "models/common/payload_pool.h"
#include "models/hbm/hbm_channel.h"
#include "models/hbm/hbm_traffic_gen.h"
#include "platform/base/stats.h"
#include "platform/config/hw_config.h"

using namespace npuvp;
using sc_core::SC_NS;
using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

namespace {

// 2 pseudo-channels x 64 bits, BL4 (32 B bursts), 4 bank groups x 4 banks,
// 1 KB rows. Default mapping ro_ba_co_bg_pc: bit 5 pc, bits 6-7 bg, bits 8-12
// column, bits 13-14 bank, bits 15+ row.
hbm_config tiny_config() {
  hbm_config c;
  c.org = {2, 64, 4, 4, 4, 1024, 1024};
  hbm_timing& t = c.timing;
  t.tck_ns = 1.0;
  t.tBURST = 2;
  t.tRCD = 3, t.tRP = 5, t.tRAS = 20, t.tCL = 4, t.tWL = 2;
  t.tCCD_S = 2, t.tCCD_L = 3, t.tRRD_S = 1, t.tRRD_L = 1, t.tFAW = 1;
  t.tWR = 3, t.tWTR_S = 2, t.tWTR_L = 3, t.tRTP = 1, t.tRTW = 6;
  t.tREFI = 100, t.tRFC = 30;
  c.refresh = false;
  c.lookahead = 1;
  c.queue_depth = 4;
  c.scheduler = "fcfs";
  return c;
}

uint64_t addr(int pc, int bg, int ba, uint64_t row, uint64_t col) {
  return ((((row * 4 + static_cast<uint64_t>(ba)) * 32 + col) * 4 + static_cast<uint64_t>(bg)) * 2 +
          static_cast<uint64_t>(pc)) *
         32;
}

double now_ns() { return sc_core::sc_time_stamp().to_seconds() * 1e9; }

struct stub_request {
  double at_ns;
  uint64_t addr;
  unsigned len;
  bool read;
};

// AT initiator: sends each request at its time (or after the previous END_REQ)
// and records END_REQ and response times. With slow_end_resp it answers
// BEGIN_RESP with TLM_ACCEPTED and sends END_RESP 1 ns later.
class stub_initiator : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<stub_initiator> mem_out;
  std::vector<stub_request> reqs;
  std::vector<double> end_req_ns, resp_ns;
  std::vector<int> responses;
  std::vector<tlm::tlm_response_status> status;
  std::vector<std::vector<unsigned char>> data;
  bool slow_end_resp = false;

  SC_HAS_PROCESS(stub_initiator);
  stub_initiator(sc_core::sc_module_name n, std::vector<stub_request> r)
      : sc_module(n), mem_out("mem_out"), reqs(std::move(r)), m_end_resp_peq("end_resp_peq") {
    const size_t k = reqs.size();
    end_req_ns.assign(k, -1);
    resp_ns.assign(k, -1);
    responses.assign(k, 0);
    status.assign(k, tlm::TLM_INCOMPLETE_RESPONSE);
    data.resize(k);
    for (size_t i = 0; i < k; ++i) data[i].assign(reqs[i].len, static_cast<unsigned char>(i * 7 + 1));
    mem_out.register_nb_transport_bw(this, &stub_initiator::nb_transport_bw);
    SC_THREAD(run);
    SC_METHOD(send_end_resp);
    sensitive << m_end_resp_peq.get_event();
    dont_initialize();
  }

 private:
  void run() {
    for (size_t i = 0; i < reqs.size(); ++i) {
      if (reqs[i].at_ns > now_ns()) wait(sc_time(reqs[i].at_ns - now_ns(), SC_NS));
      while (m_busy) wait(m_end_req);
      tlm::tlm_generic_payload* t = m_pool.allocate();
      t->set_command(reqs[i].read ? tlm::TLM_READ_COMMAND : tlm::TLM_WRITE_COMMAND);
      t->set_address(reqs[i].addr);
      t->set_data_ptr(data[i].data());
      t->set_data_length(reqs[i].len);
      t->set_streaming_width(reqs[i].len);
      m_ids[t] = i;
      tlm::tlm_phase ph = tlm::BEGIN_REQ;
      sc_time d = SC_ZERO_TIME;
      const auto s = mem_out->nb_transport_fw(*t, ph, d);
      if (s == tlm::TLM_UPDATED && ph == tlm::END_REQ)
        end_req_ns[i] = now_ns();
      else
        m_busy = t;
    }
  }
  tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload& t, tlm::tlm_phase& ph, sc_time&) {
    const size_t i = m_ids.at(&t);
    if (ph == tlm::END_REQ) {
      end_req_ns[i] = now_ns();
      m_busy = nullptr;
      m_end_req.notify(SC_ZERO_TIME);
      return tlm::TLM_ACCEPTED;
    }
    REQUIRE(ph == tlm::BEGIN_RESP);
    if (m_busy == &t) {
      m_busy = nullptr;
      m_end_req.notify(SC_ZERO_TIME);
    }
    resp_ns[i] = now_ns();
    ++responses[i];
    status[i] = t.get_response_status();
    if (slow_end_resp) {
      m_end_resp_peq.notify(t, sc_time(1, SC_NS));
      return tlm::TLM_ACCEPTED;
    }
    t.release();
    return tlm::TLM_COMPLETED;
  }
  void send_end_resp() {
    while (tlm::tlm_generic_payload* t = m_end_resp_peq.get_next_transaction()) {
      tlm::tlm_phase ph = tlm::END_RESP;
      sc_time d = SC_ZERO_TIME;
      mem_out->nb_transport_fw(*t, ph, d);
      t->release();
    }
  }

  payload_pool m_pool;
  std::unordered_map<tlm::tlm_generic_payload*, size_t> m_ids;
  tlm::tlm_generic_payload* m_busy = nullptr;
  sc_core::sc_event m_end_req;
  tlm_utils::peq_with_get<tlm::tlm_generic_payload> m_end_resp_peq;
};

struct bench {
  hbm_channel channel;
  stub_initiator stub;
  bench(const hbm_config& c, std::vector<stub_request> r, bool functional = false)
      : channel("hbm_0", c, functional, nullptr), stub("stub", std::move(r)) {
    stub.mem_out.bind(channel.port_in);
  }
  double stat(const char* name) const {
    stats_writer w;
    channel.report_stats(w);
    return w.value("hbm_0", name);
  }
};

}  // namespace

TEST_CASE("presets give the JEDEC peak bandwidth per channel", "[hbm]") {
  for (const auto& [name, peak] : {std::pair<const char*, double>{"hbm2", 32.0}, {"hbm2e", 51.2}, {"hbm3", 51.2}}) {
    const hbm_config c = parse_hw_config(std::string("hbm:\n  preset: ") + name + "\n", "x.yaml").hbm;
    CHECK(c.peak_gbps() == Approx(peak));
    CHECK(c.org.burst_bytes() == 32);
  }
  CHECK(hbm_preset("hbm3").channels_per_stack == 16);
  CHECK(hbm_preset("hbm2").timing.tRCD == 12);   // DRAMSys HBM2 memspec, tCK 1 ns
  CHECK(hbm_preset("hbm2e").timing.tRCD == 20);  // 12 ns at tCK 0.625 ns
}

TEST_CASE("row miss, row hit, bank conflict and tRAS latencies", "[hbm]") {
  // Bank (pc 0, bg 0, ba 0); each request after the previous one completed.
  bench b(tiny_config(), {{0, addr(0, 0, 0, 0, 0), 32, true},
                          {20, addr(0, 0, 0, 0, 1), 32, true},
                          {40, addr(0, 0, 0, 1, 0), 32, true},
                          {60, addr(0, 0, 0, 2, 0), 32, true}});
  sc_core::sc_start();
  // Miss: ACT 0, READ 3 (tRCD), data 7..9 (tCL, tBURST).
  CHECK(b.stub.resp_ns[0] == Approx(0 + 3 + 4 + 2));
  // Hit: READ 20, data done 26 = tCL + tBURST.
  CHECK(b.stub.resp_ns[1] == Approx(20 + 4 + 2));
  // Conflict: PRE 40, ACT 45 (tRP), READ 48, done 54 = tRP + tRCD + tCL + tBURST.
  CHECK(b.stub.resp_ns[2] == Approx(40 + 5 + 3 + 4 + 2));
  // Conflict 15 ns after the ACT at 45: PRE waits for tRAS until 65.
  CHECK(b.stub.resp_ns[3] == Approx(45 + 20 + 5 + 3 + 4 + 2));
  CHECK(b.stat("row_misses") == 1);
  CHECK(b.stat("row_hits") == 1);
  CHECK(b.stat("row_conflicts") == 2);
}

TEST_CASE("a request split over both pseudo-channels gets one response", "[hbm]") {
  // 64 B at 0: burst 0 on pc 0 and burst 1 on pc 1, both row misses in parallel.
  bench b(tiny_config(), {{0, 0, 64, true}});
  sc_core::sc_start();
  CHECK(b.stub.responses[0] == 1);
  CHECK(b.stub.resp_ns[0] == Approx(3 + 4 + 2));
  CHECK(b.stat("row_misses") == 2);
}

TEST_CASE("refresh blocks the channel for tRFC every tREFI", "[hbm]") {
  hbm_config c = tiny_config();
  c.refresh = true;  // tREFI 100, tRFC 30
  bench b(c, {{0, addr(0, 0, 0, 0, 0), 32, true}, {110, addr(0, 0, 0, 0, 1), 32, true}});
  sc_core::sc_start(1050, SC_NS);
  CHECK(b.stub.resp_ns[0] == Approx(9));
  // Refresh due at 100: PRE of the open bank at 100, REF 105..135. The request
  // arriving at 110 finds the row closed: ACT 135, READ 138, done 144.
  CHECK(b.stub.resp_ns[1] == Approx(135 + 3 + 4 + 2));
  CHECK(b.stat("row_misses") == 2);
  // Refreshes due at 100, 200, ..., 1000.
  CHECK(b.stat("refreshes") == 10);
}

TEST_CASE("write-to-read and read-to-write turnaround", "[hbm]") {
  // All three to bank (0, 0, 0) row 0, accepted at 0, FCFS, one burst ahead.
  bench b(
      tiny_config(),
      {{0, addr(0, 0, 0, 0, 0), 32, false}, {0, addr(0, 0, 0, 0, 1), 32, true}, {0, addr(0, 0, 0, 0, 2), 32, false}});
  sc_core::sc_start();
  // Write: ACT 0, WRITE 3, data 5..7 (tWL, tBURST).
  CHECK(b.stub.resp_ns[0] == Approx(3 + 2 + 2));
  // Read: tWTR_L after the write data ends: READ 10, done 16.
  CHECK(b.stub.resp_ns[1] == Approx(7 + 3 + 4 + 2));
  // Write after read: tRTW from the READ at 10: WRITE 16, done 20.
  CHECK(b.stub.resp_ns[2] == Approx(10 + 6 + 2 + 2));
}

namespace {

// A opens row 0 of bank (0, 0, 0); B (row 1, a conflict) is older than C
// (row 0, a hit). All three are queued at 0; one burst is scheduled ahead.
const std::vector<stub_request> reorder_requests = {
    {0, addr(0, 0, 0, 0, 0), 32, true}, {0, addr(0, 0, 0, 1, 0), 32, true}, {0, addr(0, 0, 0, 0, 1), 32, true}};

}  // namespace

TEST_CASE("FR-FCFS serves a younger row hit before an older conflict", "[hbm]") {
  hbm_config c = tiny_config();
  c.scheduler = "fr_fcfs";
  bench b(c, reorder_requests);
  sc_core::sc_start();
  // At 3 (A's READ) C can read at 6 (tCCD_L); B must wait for tRAS.
  CHECK(b.stub.resp_ns[2] == Approx(6 + 4 + 2));
  // B: PRE at 20 (tRAS after ACT 0), ACT 25, READ 28, done 34.
  CHECK(b.stub.resp_ns[1] == Approx(20 + 5 + 3 + 4 + 2));
  CHECK(b.stat("row_hits") == 1);
}

// Bank (pc 0, bg 0, ba 0) holds row 0, opened long ago (tRAS has passed); a
// row hit C and a conflict D arrive together. Scheduling C moves the bank's
// earliest PRE past now, and nothing else is queued: the PRE for D must still
// be planned (a lost wake-up left D queued until another request came, here
// for ever). With FCFS, D becomes the oldest burst after the row hit.
static void check_conflict_after_last_hit(const char* scheduler) {
  hbm_config c = tiny_config();
  c.scheduler = scheduler;
  c.lookahead = 4;
  bench b(c, {{0, addr(0, 0, 0, 0, 0), 32, true}, {100, addr(0, 0, 0, 0, 1), 32, true}, {100, addr(0, 0, 0, 1, 0), 32, true}});
  sc_core::sc_start();
  for (size_t i = 0; i < 3; ++i) {
    INFO("request " << i);
    REQUIRE(b.stub.responses[i] == 1);
  }
  // C: READ 100, done 106; D: PRE 101 (tRTP after C's READ), ACT 106, READ 109, done 115.
  CHECK(b.stub.resp_ns[1] == Approx(100 + 4 + 2));
  CHECK(b.stub.resp_ns[2] == Approx(101 + 5 + 3 + 4 + 2));
}

TEST_CASE("FR-FCFS precharges for a conflict left behind the last row hit of its bank", "[hbm]") {
  check_conflict_after_last_hit("fr_fcfs");
}

TEST_CASE("FCFS precharges for a conflict that becomes the oldest burst after a row hit", "[hbm]") {
  check_conflict_after_last_hit("fcfs");
}

TEST_CASE("FCFS serves the older conflict first", "[hbm]") {
  bench b(tiny_config(), reorder_requests);
  sc_core::sc_start();
  CHECK(b.stub.resp_ns[1] == Approx(34));
  // C reopens row 0: PRE at 45 (tRAS after B's ACT at 25), ACT 50, READ 53.
  CHECK(b.stub.resp_ns[2] == Approx(45 + 5 + 3 + 4 + 2));
  CHECK(b.stat("row_hits") == 0);
}

TEST_CASE("a full request queue delays END_REQ", "[hbm]") {
  hbm_config c = tiny_config();
  c.queue_depth = 1;
  // Four hits-to-be on one bank, issued back to back at 0.
  bench b(c, {{0, addr(0, 0, 0, 0, 0), 32, true},
              {0, addr(0, 0, 0, 0, 1), 32, true},
              {0, addr(0, 0, 0, 0, 2), 32, true},
              {0, addr(0, 0, 0, 0, 3), 32, true}});
  sc_core::sc_start();
  // The queue slot frees when a request is scheduled: #1 at 0 (READ 3),
  // #2 at 3 (READ 6, tCCD_L), #3 at 6 (READ 9). END_REQ of #n follows.
  CHECK(b.stub.end_req_ns[0] == Approx(0));
  CHECK(b.stub.end_req_ns[1] == Approx(0));
  CHECK(b.stub.end_req_ns[2] == Approx(3));
  CHECK(b.stub.end_req_ns[3] == Approx(6));
  CHECK(b.stub.resp_ns[3] == Approx(12 + 4 + 2));
}

TEST_CASE("every request gets exactly one response", "[hbm]") {
  hbm_config c = parse_hw_config("hbm:\n  preset: hbm2e\n  queue_depth: 8\n  lookahead: 4\n", "x.yaml").hbm;
  c.timing.tREFI = 800;  // many refreshes in a short run
  std::mt19937_64 rng(7);
  std::vector<stub_request> r;
  double t = 0;
  for (int i = 0; i < 3000; ++i) {
    t += std::uniform_real_distribution<double>(0, 3)(rng);
    const uint64_t a = std::uniform_int_distribution<uint64_t>(0, (1u << 22) - 1)(rng) * 4;
    const unsigned len = std::uniform_int_distribution<unsigned>(1, 300)(rng);
    r.push_back({t, a, len, rng() % 3 != 0});
  }
  bench b(c, r);
  b.stub.slow_end_resp = true;
  sc_core::sc_start();
  for (size_t i = 0; i < r.size(); ++i) {
    INFO("request " << i);
    REQUIRE(b.stub.responses[i] == 1);
    REQUIRE(b.stub.status[i] == tlm::TLM_OK_RESPONSE);
    REQUIRE(b.stub.resp_ns[i] >= r[i].at_ns);
  }
  CHECK(b.stat("reads") + b.stat("writes") == r.size());
  CHECK(b.stat("refreshes") > 0);
}

TEST_CASE("functional mode reads back written bytes, out of range is an address error", "[hbm]") {
  hbm_config c = tiny_config();
  const uint64_t cap = c.org.capacity_bytes();
  bench b(c, {{0, 1000, 200, false}, {0, 1000, 200, true}, {0, cap - 16, 32, true}}, true);
  sc_core::sc_start();
  CHECK(b.stub.status[0] == tlm::TLM_OK_RESPONSE);
  CHECK(b.stub.status[1] == tlm::TLM_OK_RESPONSE);
  CHECK(b.stub.data[1] == std::vector<unsigned char>(200, 1));  // request 0 wrote bytes of value 1
  CHECK(b.stub.status[2] == tlm::TLM_ADDRESS_ERROR_RESPONSE);
  CHECK(b.stub.responses[2] == 1);
}

namespace {

// Calls b_transport from a thread and records the returned delays.
class blocking_stub : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<blocking_stub> mem_out;
  std::vector<double> delay_ns, end_ns;
  std::vector<unsigned char> buf = std::vector<unsigned char>(64, 0);
  SC_HAS_PROCESS(blocking_stub);
  blocking_stub(sc_core::sc_module_name n, int calls) : sc_module(n), mem_out("mem_out"), m_calls(calls) {
    SC_THREAD(run);
  }

 private:
  void run() {
    for (int i = 0; i < m_calls; ++i) {
      tlm::tlm_generic_payload t;
      t.set_command(tlm::TLM_READ_COMMAND);
      t.set_address(static_cast<uint64_t>(i) * 64);
      t.set_data_ptr(buf.data());
      t.set_data_length(64);
      t.set_streaming_width(64);
      sc_time d = SC_ZERO_TIME;
      mem_out->b_transport(t, d);
      REQUIRE(t.get_response_status() == tlm::TLM_OK_RESPONSE);
      delay_ns.push_back(d.to_seconds() * 1e9);
      end_ns.push_back(now_ns());
    }
  }
  int m_calls;
};

}  // namespace

TEST_CASE("LT mode adds latency plus bandwidth occupancy and says what it ignores", "[hbm]") {
  const hbm_config c = parse_hw_config("hbm:\n  preset: hbm2e\n  mode: lt\n", "x.yaml").hbm;
  hbm_channel ch("hbm_0", c, false, nullptr);
  blocking_stub s("stub", 2);
  s.mem_out.bind(ch.port_in);
  sc_core::sc_start();
  // Derived latency (tRCD + tCL + tBURST) tCK = (20 + 28 + 2) * 0.625 ns;
  // occupancy 64 B / (51.2 GB/s * 0.9).
  const double latency = 50 * 0.625, occupancy = 64 / (51.2 * 0.9);
  REQUIRE(s.delay_ns.size() == 2);
  CHECK(s.delay_ns[0] == Approx(latency + occupancy).margin(0.002));
  // Issued at the same time: waits for the first one's occupancy.
  CHECK(s.delay_ns[1] == Approx(2 * occupancy + latency).margin(0.002));
  CHECK(s.end_ns[1] == 0);  // LT targets do not wait()
  stats_writer w;
  ch.report_stats(w);
  const std::string text = w.json().at("groups").at("hbm_0").at("approximation").at("value");
  CHECK(text.find("ignores bank conflicts") != std::string::npos);
  CHECK(text.find("refresh") != std::string::npos);
}

TEST_CASE("AT mode also serves b_transport callers", "[hbm]") {
  hbm_channel ch("hbm_0", tiny_config(), false, nullptr);
  blocking_stub s("stub", 2);
  s.mem_out.bind(ch.port_in);
  sc_core::sc_start();
  // 64 B at 0: both pseudo-channels miss: 3 + 4 + 2. Then 64 B at 64 (bg 1 of
  // both pcs) from 9: ACT 9, READ 12, done 18.
  REQUIRE(s.end_ns.size() == 2);
  CHECK(s.end_ns[0] == Approx(9));
  CHECK(s.end_ns[1] == Approx(18));
}

TEST_CASE("trace has one event per request and per refresh on the channel's track", "[hbm]") {
  hbm_config c = tiny_config();
  c.refresh = true;
  trace_writer trace;
  hbm_channel ch("hbm_0", c, false, &trace);
  stub_initiator stub("stub", {{0, 0, 64, true}, {150, 0, 32, false}});
  stub.mem_out.bind(ch.port_in);
  sc_core::sc_start();
  // Two requests; the refresh due at 100 is applied when the second arrives.
  CHECK(trace.event_count() == 3);
}

namespace {

double efficiency(const char* preset, const char* pattern) {
  const hbm_config c = parse_hw_config(std::string("hbm:\n  preset: ") + preset + "\n", "x.yaml").hbm;
  hbm_channel ch("hbm_0", c, false, nullptr);
  hbm_traffic_config tc;
  tc.pattern = pattern;
  tc.outstanding = 64;
  tc.requests = 20000;
  tc.capacity = ch.capacity_bytes();
  tc.peak_gbps = c.peak_gbps();
  hbm_traffic_gen gen("traffic", tc);
  gen.mem_out.bind(ch.port_in);
  sc_core::sc_start();
  REQUIRE(gen.completed() == tc.requests);
  return static_cast<double>(gen.bytes()) / (gen.last_done_ns() - gen.first_issue_ns()) / c.peak_gbps();
}

}  // namespace

// 20000 requests span several refresh intervals (tREFI 3.9 us).
TEST_CASE("default mapping streams sequential reads at >= 85% of peak", "[hbm]") {
  CHECK(efficiency("hbm2e", "seq") >= 0.85);
}

TEST_CASE("random reads are bound by tFAW, far below sequential", "[hbm]") {
  // HBM2E: four ACTs per 26 tCK per pseudo-channel: 2 x 4 x 32 B / 16.25 ns = 15.8 GB/s = 31% of peak.
  const double e = efficiency("hbm2e", "random");
  CHECK(e < 0.31);
  CHECK(e > 0.15);
}

TEST_CASE("bank_xor permutes bank and bank group by the low row bits, columns stay in their bank", "[hbm]") {
  hbm_config cfg;
  cfg.preset = "hbm3";
  const auto p = hbm_preset("hbm3");
  cfg.org = p.org;
  cfg.timing = p.timing;
  // ro_ba_co_bg_pc: burst offset, pc, bg, column, bank, then row bits.
  auto bits = [](int64_t x) {
    int n = 0;
    while ((int64_t{1} << n) < x) ++n;
    return n;
  };
  const auto& o = cfg.org;
  const int row_shift = bits(o.burst_bytes()) + bits(o.pseudo_channels) + bits(o.bank_groups) +
                        bits(o.row_bytes / o.burst_bytes()) + bits(o.banks_per_group);
  const uint64_t row = uint64_t{1} << row_shift;
  const hbm_address_mapper plain(cfg);
  cfg.bank_xor = true;
  const hbm_address_mapper hashed(cfg);
  // Row 1 and row 4 of bank 0 / bank group 0: the same bank without hashing (a row conflict).
  CHECK(plain.decode(row).ba == 0);
  const uint64_t bg_row = uint64_t(o.banks_per_group) * row;  // the first row bit above the bank bits
  CHECK(plain.decode(bg_row).bg == 0);
  // Hashed: row 1 -> bank 1, row banks_per_group -> bank group 1, bank 0.
  CHECK(hashed.decode(row).ba == 1);
  CHECK(hashed.decode(row).row == 1);
  CHECK(hashed.decode(bg_row).bg == 1);
  CHECK(hashed.decode(bg_row).ba == 0);
  // Row 0 is unchanged, and the columns of one row stay in one bank (row hits kept).
  const uint64_t col = uint64_t(o.burst_bytes()) * o.pseudo_channels * o.bank_groups;
  CHECK(hashed.decode(row + col).ba == hashed.decode(row).ba);
  CHECK(hashed.decode(row + col).col == 1);
  CHECK(hashed.decode(col).ba == plain.decode(col).ba);
}
