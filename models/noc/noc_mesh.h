// The 2-D mesh network on chip: width x height noc_router modules advanced by
// one clocked kernel process (plain C++ per cycle, asleep while the network is
// empty), source queues at every local port, a watchdog, and a fast mode.
//
//   noc.mode at: flit-level wormhole routers with virtual channels, credits and
//                round-robin allocation: serialisation, per-hop latency,
//                head-of-line blocking and link sharing all emerge.
//   noc.mode lt: each packet takes hops x (router + link cycles) + serialisation
//                and never waits for another (ignores contention; the
//                statistics say so).
//
// Endpoints: local port 0 of every router is its core; extra attachment points
// (HBM channels, the host) add local ports 1, 2, ... to their routers in the
// order given. Packets go from endpoint to endpoint; whoever is attached to a
// port receives them through a noc_sink (noc_interface.h turns TLM
// transactions into packets and back).
#pragma once

#include <memory>
#include <queue>
#include <string>
#include <vector>

#include <systemc>

#include "models/noc/noc_packet.h"
#include "models/noc/noc_router.h"
#include "models/noc/routing/routing_policy.h"
#include "platform/base/stats.h"
#include "platform/config/hw_config.h"

namespace npuvp {

struct noc_attach_point {
  std::string name;  // e.g. "hbm_3", "host"
  int x = 0, y = 0;
};

// Virtual-channel classes. Requests and responses use disjoint VCs so a
// response can never wait behind a request that waits for it (protocol
// deadlock; Dally & Towles 2004, sec. 14.1.5); synthetic traffic uses all VCs.
enum class noc_class : uint8_t { any, request, response };

class noc_mesh : public sc_core::sc_module, public stats_source {
 public:
  SC_HAS_PROCESS(noc_mesh);
  // A width x height mesh; `extra` adds local ports (see above).
  noc_mesh(const sc_core::sc_module_name& name, const noc_config& cfg, int width, int height,
           const std::vector<noc_attach_point>& extra = {});
  // The chip's mesh: hw.mesh and hw.noc, then `extra`, then the host port
  // (hw.host) as the last extra attachment, named "host".
  noc_mesh(const sc_core::sc_module_name& name, const hw_config& hw, const std::vector<noc_attach_point>& extra = {});

  int width() const { return m_width; }
  int height() const { return m_height; }
  const noc_config& config() const { return m_cfg; }
  bool fast() const { return m_fast; }
  sc_core::sc_time period() const { return m_period; }

  noc_endpoint core_port(int x, int y) const { return {y * m_width + x, 0}; }
  // The i-th extra attachment point as given to the constructor.
  noc_endpoint extra_port(size_t i) const { return m_extra.at(i); }
  noc_endpoint host_port() const;  // only for the hw_config constructor
  noc_router& router(int x, int y) { return *m_routers.at(static_cast<size_t>(y * m_width + x)); }

  // Where packets delivered at `port` go: those of class `cls`, or with
  // noc_class::any every packet no class-specific sink takes (a core port has
  // its target NI for requests and its initiator NI for responses). A port
  // without a sink just counts them.
  void attach(noc_endpoint port, noc_sink& sink, noc_class cls = noc_class::any);
  // Called every cycle while it returns true (before sc_start).
  void set_traffic(noc_traffic& traffic) { m_traffic = &traffic; }

  // Queues a packet of `flits` flits (header included) at `src` now; returns its
  // index. Callable from any process or from noc_traffic::generate.
  // `delay` postpones creation (an LT initiator's local time offset).
  uint32_t send(noc_endpoint src, noc_endpoint dst, uint32_t flits, noc_class cls, uint64_t tag = 0,
                void* user = nullptr, const sc_core::sc_time& delay = sc_core::SC_ZERO_TIME);

  // Routers a packet passes, source and destination included: Manhattan distance + 1.
  int hops(noc_endpoint src, noc_endpoint dst) const;
  // Latency without contention, creation to last flit delivered (docs/noc.md):
  // hops x (router_cycles + link_cycles) + ceil(flits / link_flits_per_cycle) - 1.
  uint64_t zero_load_cycles(noc_endpoint src, noc_endpoint dst, uint32_t flits) const;

  // Test hook: a blocked local port never accepts a flit.
  void block_ejection(noc_endpoint port, bool blocked);

  // The watchdog stops the simulation (sc_stop) with a report instead of
  // hanging; call check() after sc_start: it throws that report as a
  // simulation_error (exceptions thrown inside a SystemC process lose their type).
  void check() const;
  bool failed() const { return !m_failure.empty(); }

  uint64_t cycles() const { return m_cycle; }                 // last cycle the kernel ran
  uint64_t packets_in_flight() const { return m_in_flight; }  // queued or in the network
  uint64_t flits_offered() const { return m_offered_flits; }
  uint64_t flits_accepted() const { return m_accepted_flits; }
  const sample_stats& latency() const { return m_latency; }

  void report_stats(stats_writer& out) const override;

  // Tracing (at elaboration): a track per router (noc_router::set_trace; in
  // LT mode one event per packet on its source router). Call flush_trace()
  // after the simulation.
  void set_trace(trace_writer* trace);
  void flush_trace();

  // For the routers: packets, and the link and router pipelines on a time
  // wheel (a cycle touches only what arrives in it). A flit or credit sent in
  // cycle c arrives at c + 1 + link_cycles; a flit enters the downstream input
  // buffer router_cycles - 1 cycles after arriving (its router pipeline), an
  // injected flit router_cycles - 1 cycles after the source writes it.
  const noc_packet& packet(uint32_t id) const { return m_packets[id]; }
  void post_flit(noc_router& to, int input_vc, const noc_flit& f) {
    m_buffer_slot->flits.push({&to, input_vc, f});
    ++m_link_slot->arrivals;
  }
  void post_injection(noc_router& to, int input_vc, const noc_flit& f) {
    m_injection_slot->flits.push({&to, input_vc, f});
  }
  void post_ejection(const noc_flit& f) { m_link_slot->ejections.push(f); }
  void post_credit(noc_router& to, int output_vc) { m_link_slot->credits.push({&to, output_vc}); }
  // Flits that have reached input VC `in` of `to` but are still in its router
  // pipeline (not yet buffered), and the packet of the oldest (diagnostics).
  std::pair<size_t, uint32_t> pipelined(const noc_router& to, int in) const;

 private:
  struct flit_event {
    noc_router* router;
    int32_t input_vc;
    noc_flit flit;
  };
  struct credit_event {
    noc_router* router;
    int32_t output_vc;
  };
  // A slot receives what one cycle sends over links (at most link_flits per
  // output and per input port) and what one cycle injects (at most
  // link_flits per local port): the lists are sized for that at elaboration.
  struct wheel_slot {
    noc_list<flit_event> flits;         // entering input buffers
    noc_list<noc_flit> ejections;       // arriving at their destination port
    noc_list<credit_event> credits;     // arriving at the upstream router
    int arrivals = 0;                   // flits arriving over mesh links (the watchdog counts them)
  };
  bool credits_in_flight() const;
  void flit_delivered(const noc_flit& f, uint64_t cycle);
  void start_of_simulation() override;
  void tick();
  void finish(uint32_t id, uint64_t cycle);
  void fail(uint64_t cycle);
  uint64_t cycle_at_or_after(const sc_core::sc_time& t) const;
  void wake_at(uint64_t cycle);
  noc_router& router_of(noc_endpoint e) { return *m_routers[static_cast<size_t>(e.node)]; }
  int sink_index(noc_endpoint e) const { return m_port_base[static_cast<size_t>(e.node)] + e.port; }

  noc_config m_cfg;
  bool m_fast;  // noc.mode lt
  int m_width, m_height;
  sc_core::sc_time m_period;
  uint64_t m_watchdog_cycles;
  std::unique_ptr<routing_policy> m_routing;
  std::vector<std::unique_ptr<noc_router>> m_routers;
  std::vector<noc_endpoint> m_extra;
  std::vector<int> m_port_base;       // per node: index of its local port 0 in m_sinks
  std::vector<noc_sink*> m_sinks[3];  // per noc_class, per local port
  noc_traffic* m_traffic = nullptr;
  bool m_traffic_on = true;
  sc_core::sc_event m_wake;

  // Events by cycle modulo link_cycles + router_cycles + 1; the slots that
  // the current cycle posts to.
  std::vector<wheel_slot> m_wheel;
  wheel_slot *m_link_slot = nullptr, *m_buffer_slot = nullptr, *m_injection_slot = nullptr;

  std::vector<noc_packet> m_packets;
  std::vector<uint32_t> m_free_packets;
  // Fast mode: packets by delivery cycle.
  using delivery = std::pair<uint64_t, uint32_t>;
  std::priority_queue<delivery, std::vector<delivery>, std::greater<delivery>> m_deliveries;

  static constexpr uint64_t no_wake = ~uint64_t(0);
  uint64_t m_cycle = 0, m_next_cycle = 0, m_last_move = 0;
  uint64_t m_wake_cycle = no_wake, m_first_wake = 0;  // pending wake-up; earliest allowed
  uint64_t m_in_flight = 0, m_offered_flits = 0, m_accepted_flits = 0, m_packets_delivered = 0;
  sample_stats m_latency;
  std::string m_failure;
  bool m_tracing = false;
};

}  // namespace npuvp
