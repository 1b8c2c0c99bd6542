// NoC: routing, closed-form zero-load latency, link sharing, back-pressure,
// conservation, watchdog and the TLM network interfaces. Each test case runs
// in its own process (fresh SystemC kernel). Cycles are 1 ns (1 GHz NoC).
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <systemc>
#include <tlm>
#include <vector>

#include "models/common/backing_store.h"
#include "models/common/payload_pool.h"
#include "models/noc/noc_interface.h"
#include "models/noc/noc_mesh.h"
#include "models/noc/noc_synthetic_traffic.h"
#include "platform/base/error.h"
#include "test/shell.h"
#include "test/tlm_stubs.h"

using namespace npuvp;
using sc_core::SC_NS;
using sc_core::sc_time;

namespace {

noc_config test_noc() {
  noc_config c;  // router 2 cycles, link 1 cycle, 8-flit buffers, 2 VCs, 32 B flits
  c.watchdog_ns = 1e5;
  return c;
}

// Sends scripted packets at given cycles.
struct scripted_traffic : noc_traffic {
  struct item {
    uint64_t cycle;
    noc_endpoint src, dst;
    uint32_t flits;
    uint64_t tag;
  };
  noc_mesh& mesh;
  std::vector<item> items;  // sorted by cycle
  size_t next = 0;
  explicit scripted_traffic(noc_mesh& m) : mesh(m) { m.set_traffic(*this); }
  bool generate(uint64_t cycle) override {
    while (next < items.size() && items[next].cycle == cycle) {
      const item& i = items[next++];
      mesh.send(i.src, i.dst, i.flits, noc_class::any, i.tag);
    }
    return next < items.size();
  }
};

// Records every packet delivered at the ports it is attached to.
struct recorder : noc_sink {
  struct arrival {
    uint64_t tag, created, cycle;
    uint32_t flits, delivered;
  };
  std::vector<arrival> got;
  void packet_delivered(const noc_packet& p, uint64_t cycle) override {
    got.push_back({p.tag, p.created, cycle, p.flits, p.delivered});
  }
};

}  // namespace

TEST_CASE("XY and YX routing correct one dimension, then the other", "[noc]") {
  auto walk = [](const routing_policy& r, int x, int y, int dx, int dy) {
    std::string path;
    for (int d; (d = r.route(x, y, dx, dy)) >= 0;) {
      path += "NESW"[d];
      x += d == dir_east ? 1 : d == dir_west ? -1 : 0;
      y += d == dir_south ? 1 : d == dir_north ? -1 : 0;
    }
    return path;
  };
  CHECK(walk(*make_routing("xy"), 0, 0, 2, 3) == "EESSS");
  CHECK(walk(*make_routing("yx"), 0, 0, 2, 3) == "SSSEE");
  CHECK(walk(*make_routing("xy"), 3, 3, 1, 0) == "WWNNN");
  CHECK(walk(*make_routing("yx"), 3, 3, 1, 0) == "NNNWW");
  CHECK(walk(*make_routing("xy"), 2, 2, 2, 2).empty());
  CHECK_THROWS_AS(make_routing("west_first"), npuvp::error);
}

TEST_CASE("the mesh refuses endpoints it does not have", "[noc]") {
  noc_mesh m("m", test_noc(), 2, 2, {{"hbm_0", 1, 0}});
  CHECK(m.extra_port(0) == noc_endpoint{1, 1});
  CHECK_THROWS_WITH(m.send(m.core_port(0, 0), {0, 1}, 1, noc_class::any), Catch::Contains("no endpoint (node 0, port 1)"));
  CHECK_THROWS_AS(m.send(m.core_port(0, 0), {4, 0}, 1, noc_class::any), npuvp::error);
  CHECK_NOTHROW(m.send(m.core_port(0, 0), m.extra_port(0), 1, noc_class::any));
  CHECK_THROWS_AS(noc_mesh("m2", test_noc(), 2, 2, {{"far", 2, 0}}), npuvp::error);
}

TEST_CASE("a packet follows its routing policy hop by hop through the mesh", "[noc]") {
  noc_config xy = test_noc(), yx = test_noc();
  yx.routing = "yx";
  noc_mesh mx("mx", xy, 4, 4), my("my", yx, 4, 4);
  scripted_traffic tx(mx), ty(my);
  tx.items = {{0, mx.core_port(0, 0), mx.core_port(2, 3), 3, 0}};
  ty.items = {{0, my.core_port(0, 0), my.core_port(2, 3), 3, 0}};
  sc_core::sc_start();
  // Expected output port used at each router on the way; every other link idle.
  auto check_path = [](noc_mesh& m, const std::map<std::pair<int, int>, int>& expect) {
    uint64_t total = 0;
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) {
        noc_router& r = m.router(x, y);
        for (int p = 0; p < r.ports(); ++p) {
          const auto it = expect.find({x, y});
          const uint64_t want = it != expect.end() && it->second == p ? 3 : 0;
          INFO(m.name() << " router " << x << "," << y << " port " << noc_router::port_name(p));
          CHECK(r.link_flits(p) == want);
          total += r.link_flits(p);
        }
      }
    CHECK(total == 3 * expect.size());
  };
  const int local = mesh_directions;
  check_path(mx, {{{0, 0}, dir_east}, {{1, 0}, dir_east}, {{2, 0}, dir_south}, {{2, 1}, dir_south},
                  {{2, 2}, dir_south}, {{2, 3}, local}});
  check_path(my, {{{0, 0}, dir_south}, {{0, 1}, dir_south}, {{0, 2}, dir_south}, {{0, 3}, dir_east},
                  {{1, 3}, dir_east}, {{2, 3}, local}});
}

TEST_CASE("zero-load latency equals hops x (router + link) + serialisation exactly", "[noc]") {
  noc_config a = test_noc();  // router 2, link 1, 1 flit/cycle
  noc_config b = test_noc();
  b.router_cycles = 1;
  b.link_cycles = 0;
  noc_config c = test_noc();
  c.router_cycles = 3;
  c.link_cycles = 2;
  c.link_flits_per_cycle = 2;
  c.buffer_flits = 16;  // >= link_flits x (router + 2 link + 1): full speed per VC
  noc_config fast = test_noc();
  fast.mode = "lt";
  noc_mesh ma("ma", a, 4, 4), mb("mb", b, 4, 4), mc("mc", c, 4, 4), mf("mf", fast, 4, 4);
  struct probe {
    noc_mesh* m;
    int sx, sy, dx, dy;
    uint32_t flits;
    uint64_t expect;  // hand-computed
  };
  const std::vector<probe> probes = {
      {&ma, 0, 0, 3, 3, 4, 7 * 3 + 3},   // 7 routers x 3 cycles + 3 trailing flits
      {&ma, 1, 1, 1, 1, 1, 1 * 3 + 0},   // to itself: one router, the ejection link
      {&ma, 3, 0, 0, 2, 8, 6 * 3 + 7},
      {&mb, 0, 0, 3, 3, 4, 7 * 1 + 3},
      {&mc, 0, 0, 3, 3, 5, 7 * 5 + 2},   // ceil(5 / 2) - 1 = 2
      {&mf, 0, 0, 3, 3, 4, 7 * 3 + 3},   // fast mode: the same formula by construction
      {&mf, 3, 0, 0, 2, 8, 6 * 3 + 7},
  };
  std::map<noc_mesh*, std::unique_ptr<scripted_traffic>> traffic;
  std::map<noc_mesh*, std::unique_ptr<recorder>> rec;
  for (size_t i = 0; i < probes.size(); ++i) {
    const probe& p = probes[i];
    auto& t = traffic[p.m];
    if (!t) {
      t = std::make_unique<scripted_traffic>(*p.m);
      rec[p.m] = std::make_unique<recorder>();
      for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 4; ++x) p.m->attach(p.m->core_port(x, y), *rec[p.m]);
    }
    // One at a time (100 cycles apart): no contention.
    t->items.push_back({100 * t->items.size(), p.m->core_port(p.sx, p.sy), p.m->core_port(p.dx, p.dy), p.flits, i});
    CHECK(p.m->zero_load_cycles(p.m->core_port(p.sx, p.sy), p.m->core_port(p.dx, p.dy), p.flits) == p.expect);
  }
  sc_core::sc_start();
  for (auto& [m, r] : rec)
    for (const auto& a : r->got) {
      INFO(m->name() << " probe " << a.tag);
      CHECK(a.cycle - a.created == probes[a.tag].expect);
    }
  size_t delivered = 0;
  for (auto& [m, r] : rec) delivered += r->got.size();
  CHECK(delivered == probes.size());
  // Fast mode says so in its statistics.
  stats_writer w;
  mf.report_stats(w);
  ma.report_stats(w);
  CHECK_THAT(w.json()["groups"]["mf"]["mode"]["value"].get<std::string>(), Catch::Contains("ignores contention"));
  CHECK_THAT(w.json()["groups"]["ma"]["mode"]["value"].get<std::string>(), Catch::StartsWith("at: flit-level"));
  CHECK(w.value("ma.router_0_0", "flits_forwarded") == 4 + 8);  // the two probes that start there
}

TEST_CASE("two flows sharing one link each get half of it", "[noc]") {
  noc_mesh m("m", test_noc(), 4, 4);
  scripted_traffic t(m);
  recorder east, south;
  m.attach(m.core_port(3, 0), east);
  m.attach(m.core_port(2, 1), south);
  // Flow A: (0,0) -> (3,0); flow B: (1,0) -> (2,1). Both saturate their source
  // and share only the link (1,0) -> (2,0).
  for (uint64_t i = 0; i < 400; ++i) {
    t.items.push_back({0, m.core_port(0, 0), m.core_port(3, 0), 4, 0});
    t.items.push_back({0, m.core_port(1, 0), m.core_port(2, 1), 4, 1});
  }
  sc_core::sc_start(1000, SC_NS);
  auto flits_in = [](const recorder& r, uint64_t from, uint64_t to) {
    uint64_t f = 0;
    for (const auto& a : r.got) f += a.cycle >= from && a.cycle < to ? a.flits : 0;
    return static_cast<double>(f);
  };
  const double a = flits_in(east, 200, 1000) / 800, b = flits_in(south, 200, 1000) / 800;
  CHECK(a == Approx(0.5).margin(0.02));
  CHECK(b == Approx(0.5).margin(0.02));
  CHECK(static_cast<double>(m.router(1, 0).link_flits(dir_east)) / 1000 > 0.97);  // the shared link is busy
}

TEST_CASE("a full buffer back-pressures the sender and nothing is lost", "[noc]") {
  noc_config cfg = test_noc();
  cfg.vcs = 1;
  cfg.buffer_flits = 4;
  noc_mesh m("m", cfg, 3, 1);
  scripted_traffic t(m);
  recorder r;
  m.attach(m.core_port(2, 0), r);
  for (uint64_t i = 0; i < 10; ++i) t.items.push_back({0, m.core_port(0, 0), m.core_port(2, 0), 4, i});
  m.block_ejection(m.core_port(2, 0), true);
  sc_core::sc_start(300, SC_NS);
  // Every buffer on the path is full, the rest waits in the source queue.
  CHECK(r.got.empty());
  CHECK(m.flits_accepted() == 0);
  CHECK(m.router(0, 0).occupancy(mesh_directions, 0) == 4);
  CHECK(m.router(1, 0).occupancy(dir_west, 0) == 4);
  CHECK(m.router(2, 0).occupancy(dir_west, 0) == 4);
  CHECK(m.router(0, 0).link_flits(dir_east) == 8);  // 4 buffered at (1,0) + 4 at (2,0)
  CHECK(m.packets_in_flight() == 10);
  m.block_ejection(m.core_port(2, 0), false);
  sc_core::sc_start();
  REQUIRE(r.got.size() == 10);
  for (size_t i = 0; i < r.got.size(); ++i) {
    CHECK(r.got[i].tag == i);  // in order
    CHECK(r.got[i].delivered == 4);
  }
  CHECK(m.flits_accepted() == 40);
  CHECK_NOTHROW(m.check());
}

TEST_CASE("every flit is delivered exactly once under every pattern past saturation", "[noc]") {
  std::vector<std::unique_ptr<noc_mesh>> meshes;
  std::vector<std::unique_ptr<noc_synthetic_traffic>> gens;
  for (const auto& pattern : noc_patterns()) {
    meshes.push_back(std::make_unique<noc_mesh>(("m_" + pattern).c_str(), test_noc(), 4, 4));
    noc_synthetic_config s;
    s.pattern = pattern;
    s.rate = 1.0;  // one flit per node per cycle: the injection link's limit
    s.packet_flits = 4;
    s.warmup_cycles = 200;
    s.measure_cycles = 600;
    s.stop_when_done = false;  // then the network drains completely
    gens.push_back(std::make_unique<noc_synthetic_traffic>(*meshes.back(), s));
  }
  sc_core::sc_start();
  for (size_t i = 0; i < gens.size(); ++i) {
    INFO(noc_patterns()[i]);
    const auto& g = *gens[i];
    const auto& m = *meshes[i];
    CHECK(g.packets_created() > 1000);
    CHECK(g.undelivered() == 0);
    CHECK(g.duplicates() == 0);
    CHECK(m.packets_in_flight() == 0);
    CHECK(m.flits_accepted() == m.flits_offered());
    CHECK(m.flits_offered() == 4 * g.packets_created());
    if (noc_patterns()[i] != "neighbor") CHECK(g.accepted_rate() < 0.9 * g.offered_rate());  // saturated
  }
}

TEST_CASE("synthetic traffic rejects a rate above one packet per node per cycle, not caps it", "[noc]") {
  noc_mesh m("npu", test_noc(), 4, 4);
  noc_synthetic_config s;
  s.packet_flits = 4;
  s.rate = 4.5;
  CHECK_THROWS_WITH(noc_synthetic_traffic(m, s), Catch::Contains("injection rate 4.5 flits") &&
                                                     Catch::Contains("more than one 4-flit packet per node per cycle"));
  s.rate = 0;
  CHECK_THROWS_WITH(noc_synthetic_traffic(m, s), Catch::Contains("must be positive"));
}

TEST_CASE("the watchdog stops a wedged mesh with a report of the blocked routers", "[noc]") {
  noc_config cfg = test_noc();
  cfg.watchdog_ns = 500;
  noc_mesh m("npu", cfg, 4, 4);
  scripted_traffic t(m);
  for (uint64_t i = 0; i < 20; ++i) t.items.push_back({i, m.core_port(0, 3), m.core_port(3, 3), 4, i});
  m.block_ejection(m.core_port(3, 3), true);  // a target that never drains
  sc_core::sc_start(1, sc_core::SC_MS);
  CHECK(m.failed());
  CHECK(sc_core::sc_time_stamp() < sc_time(1000, SC_NS));  // stopped, not hung
  try {
    m.check();
    FAIL("no watchdog error");
  } catch (const simulation_error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK_THAT(what, Catch::Contains("watchdog"));
    CHECK_THAT(what, Catch::Contains("20 packets are in flight"));
    CHECK_THAT(what, Catch::Contains("npu.router_3_3 input west vc0: 8/8 flits"));
    CHECK_THAT(what, Catch::Contains("-> output local0 vc0, ejection port not accepting"));
    CHECK_THAT(what, Catch::Contains("npu.router_0_3 source queue local0"));
  }
}

namespace {

// A memory target: stores bytes, records the addresses it sees, takes 10 ns.
struct stub_memory : sc_core::sc_module {
  tlm_utils::simple_target_socket<stub_memory> port_in{"port_in"};
  backing_store mem;
  std::vector<uint64_t> seen;
  explicit stub_memory(const sc_core::sc_module_name& n) : sc_module(n) {
    port_in.register_b_transport(this, &stub_memory::b_transport);
  }
  void b_transport(tlm::tlm_generic_payload& gp, sc_time& delay) {
    seen.push_back(gp.get_address());
    if (gp.is_write()) mem.write(gp.get_address(), gp.get_data_ptr(), gp.get_data_length());
    else mem.read(gp.get_address(), gp.get_data_ptr(), gp.get_data_length());
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
    delay += sc_time(10, SC_NS);
  }
};

// Writes 64 bytes then reads them back, blocking (b_transport) or with the
// 4-phase non-blocking protocol.
struct stub_initiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<stub_initiator> mem_out{"mem_out"};
  bool use_nb;
  payload_pool pool;
  sc_core::sc_event resp;
  std::vector<unsigned char> wrote = std::vector<unsigned char>(64), read = std::vector<unsigned char>(64);
  sc_time write_done, read_done;
  SC_HAS_PROCESS(stub_initiator);
  stub_initiator(const sc_core::sc_module_name& n, bool nb) : sc_module(n), use_nb(nb) {
    mem_out.register_nb_transport_bw(this, &stub_initiator::nb_transport_bw);
    SC_THREAD(run);
  }
  void access(tlm::tlm_command cmd, unsigned char* data) {
    tlm::tlm_generic_payload* gp = pool.allocate();
    gp->set_command(cmd);
    gp->set_address(0x1000 + 0x40);
    gp->set_data_ptr(data);
    gp->set_data_length(64);
    gp->set_streaming_width(64);
    sc_time delay = sc_core::SC_ZERO_TIME;
    if (use_nb) {
      tlm::tlm_phase phase = tlm::BEGIN_REQ;
      REQUIRE(mem_out->nb_transport_fw(*gp, phase, delay) == tlm::TLM_UPDATED);
      REQUIRE(phase == tlm::END_REQ);
      wait(resp);
    } else {
      mem_out->b_transport(*gp, delay);
      wait(delay);
    }
    CHECK(gp->get_response_status() == tlm::TLM_OK_RESPONSE);
    gp->release();
  }
  tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload&, tlm::tlm_phase& phase, sc_time&) {
    CHECK(phase == tlm::BEGIN_RESP);
    resp.notify();
    phase = tlm::END_RESP;
    return tlm::TLM_COMPLETED;
  }
  void run() {
    for (int i = 0; i < 64; ++i) wrote[i] = static_cast<unsigned char>(3 * i + 1);
    access(tlm::TLM_WRITE_COMMAND, wrote.data());
    write_done = sc_core::sc_time_stamp();
    access(tlm::TLM_READ_COMMAND, read.data());
    read_done = sc_core::sc_time_stamp();
  }
};

void ni_round_trip(bool nb) {
  noc_mesh m("npu", test_noc(), 4, 4, {{"mem", 3, 0}});
  const noc_endpoint mem_port = m.extra_port(0);
  CHECK(mem_port == noc_endpoint{3, 1});
  noc_initiator_ni ini("ini", m, m.core_port(0, 0), [&](uint64_t addr) {
    return noc_destination{mem_port, addr - 0x1000};
  });
  noc_target_ni tgt("tgt", m, mem_port);
  stub_initiator cpu("cpu", nb);
  stub_memory mem("mem");
  cpu.mem_out.bind(ini.port_in);
  tgt.mem_out.bind(mem.port_in);
  sc_core::sc_start();
  CHECK(cpu.read == cpu.wrote);
  CHECK(mem.seen == std::vector<uint64_t>{0x40, 0x40});  // the target sees its local address
  // Write: request 1 + 64/32 = 3 flits over 4 routers: 4 x 3 + 2 = 14 cycles;
  // 10 ns in the target; response 1 flit: 4 x 3 = 12 cycles. Done at 36 ns.
  CHECK(cpu.write_done == sc_time(36, SC_NS));
  // Read: sent after the kernel ran cycle 36, so it enters at cycle 37; request
  // 1 flit 12, target 10, response 3 flits 14: 37 + 36 = 73 ns.
  CHECK(cpu.read_done == sc_time(73, SC_NS));
  CHECK(m.flits_offered() == 3 + 1 + 1 + 3);
  CHECK(m.flits_accepted() == m.flits_offered());
}

}  // namespace

TEST_CASE("network interfaces carry a blocking TLM write and read across the mesh", "[noc]") { ni_round_trip(false); }

TEST_CASE("network interfaces carry a 4-phase non-blocking TLM write and read", "[noc]") { ni_round_trip(true); }

TEST_CASE("network interfaces refuse a single virtual channel", "[noc]") {
  noc_config cfg = test_noc();
  cfg.vcs = 1;
  noc_mesh m("m", cfg, 2, 2);
  CHECK_THROWS_WITH(noc_initiator_ni("ini", m, m.core_port(0, 0), [](uint64_t) { return noc_destination{}; }),
                    Catch::Contains("vcs >= 2"));
}

namespace {

// Four 32-byte reads from core (0,0) to a 4-phase memory behind a target NI in
// AT mode; returns the memory (arrival times, concurrency, violations).
struct at_ni_bench {
  noc_mesh mesh{"npu", test_noc(), 4, 4, {{"mem", 3, 0}}};
  noc_initiator_ni ini{"ini", mesh, mesh.core_port(0, 0), [this](uint64_t addr) {
                         return noc_destination{mesh.extra_port(0), addr};
                       }};
  noc_target_ni tgt;
  npuvp::test::stub_initiator cpu{"cpu"};
  npuvp::test::stub_memory mem{"mem", 100, 4096};
  at_ni_bench(int max_outstanding, double accept_ns)
      : tgt("tgt", mesh, mesh.extra_port(0), noc_target_protocol::at, max_outstanding) {
    mem.accept_delay = sc_time(accept_ns, SC_NS);
    for (int i = 0; i < 4; ++i) cpu.add(0, tlm::TLM_READ_COMMAND, 0x100 * static_cast<uint64_t>(i), 32);
    cpu.mem_out.bind(ini.port_in);
    tgt.mem_out.bind(mem.port_in);
  }
};

}  // namespace

TEST_CASE("a target NI in AT mode keeps at most max_outstanding requests in its target", "[noc]") {
  at_ni_bench b(2, 0);
  sc_core::sc_start();
  REQUIRE(b.mem.arrivals.size() == 4);
  for (const auto& r : b.cpu.results) CHECK(r.status == tlm::TLM_OK_RESPONSE);
  CHECK(b.mem.max_in_flight == 2);
  CHECK(b.mem.addresses == std::vector<uint64_t>{0x000, 0x100, 0x200, 0x300});  // arrival order kept
  // The 1-flit requests follow each other one cycle (1 ns) apart; the third
  // and fourth wait for a free slot: they enter the memory when the first and
  // second responses leave it, 100 ns after those arrived.
  CHECK(b.mem.arrivals[1] == b.mem.arrivals[0] + sc_time(1, SC_NS));
  CHECK(b.mem.arrivals[2] == b.mem.arrivals[0] + sc_time(100, SC_NS));
  CHECK(b.mem.arrivals[3] == b.mem.arrivals[1] + sc_time(100, SC_NS));
}

TEST_CASE("a target NI in AT mode waits for END_REQ before the next BEGIN_REQ", "[noc]") {
  at_ni_bench b(4, 5);  // the memory accepts a request 5 ns after BEGIN_REQ
  sc_core::sc_start();
  REQUIRE(b.mem.arrivals.size() == 4);
  CHECK(b.mem.violations == 0);
  for (const auto& r : b.cpu.results) CHECK(r.status == tlm::TLM_OK_RESPONSE);
  for (size_t i = 1; i < 4; ++i) CHECK(b.mem.arrivals[i] == b.mem.arrivals[i - 1] + sc_time(5, SC_NS));
}

TEST_CASE("bench noc times its run several times with the same results and prints the fastest", "[noc][cli]") {
  const std::string bench = std::string(NPUVP_BINARY) + " bench noc --mesh 4x4 --rate 0.2 --measure-cycles 500";
  const auto [rc, out] = shell(bench + " --repeat 3 --json");
  INFO(out);
  REQUIRE(rc == 0);
  const auto r = nlohmann::json::parse(out)["result"];
  const auto runs = r["runs_flits_per_second"];
  REQUIRE(runs.size() == 3);
  double fastest = 0;
  for (const auto& v : runs) fastest = std::max(fastest, v.get<double>());
  CHECK(r["flits_per_second"].get<double>() == fastest);
  CHECK(r["flits"].get<double>() > 0);
  const auto [rc1, text] = shell(bench + " --repeat 2");
  CHECK(rc1 == 0);
  CHECK_THAT(text, Catch::Contains("Mflit/s wall-clock, the best of 2 runs ("));
  const auto [rc0, bad] = shell(bench + " --repeat 0");
  CHECK(rc0 == 2);
  CHECK_THAT(bad, Catch::Contains("--repeat expects 1 to 100 runs, got 0"));
}
