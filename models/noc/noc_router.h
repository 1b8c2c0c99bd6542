// One mesh router: input-buffered, virtual channels, wormhole switching with
// credit-based flow control and round-robin allocation (Dally & Towles 2004,
// ch. 13, 16, 18, 19). Ports: north, east, south, west, then local ports (the
// core, then extra attachments such as HBM channels or the host).
//
// The router is a SystemC module without processes: it owns its state and its
// statistics, and the noc_mesh kernel advances all routers cycle by cycle in
// plain C++ (see docs/noc.md for why one kernel instead of 64 clocked methods).
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <systemc>
#include <vector>

#include "models/noc/noc_packet.h"
#include "models/noc/routing/routing_policy.h"
#include "platform/base/stats.h"
#include "platform/base/trace.h"

namespace npuvp {

class noc_mesh;

struct noc_router_params {
  int x = 0, y = 0;
  int local_ports = 1;
  int vcs = 2;
  int buffer_flits = 8;
  int router_cycles = 2;    // buffer write to link, no contention
  int link_cycles = 1;      // wire
  int link_flits = 1;       // flits per link per cycle
};

class noc_router : public sc_core::sc_module, public stats_source {
 public:
  noc_router(const sc_core::sc_module_name& name, noc_mesh& mesh, const routing_policy& routing,
             const noc_router_params& p);

  int ports() const { return static_cast<int>(m_out.size()); }
  int x() const { return m_p.x; }
  int y() const { return m_p.y; }
  static std::string port_name(int port);

  // Wiring, at elaboration: output `dir` feeds input `dir ^ 2` of `next`.
  void connect(int dir, noc_router& next);
  // Test hook: a blocked local output never accepts a flit (wedges the mesh).
  void block_ejection(int local_port, bool blocked);

  // The kernel's router phase for the current cycle: router by router,
  // injection (source queues -> input buffers), then VC and switch allocation
  // and traversal, skipping idle routers; returns the flits moved. One loop
  // in noc_router.cpp, so the allocator is inlined into it instead of being
  // called per busy router. Link arrivals come from the mesh's time wheel
  // through receive_flit / receive_credit.
  static int advance(const std::vector<std::unique_ptr<noc_router>>& routers);
  // A flit enters input VC `in` once the router pipeline (route computation,
  // VC and switch allocation, crossbar: router_cycles - 1 cycles after it
  // arrived) has elapsed, so every buffered flit is ready to leave; the mesh's
  // wheel delays it (docs/noc.md, "Kernel data structures").
  void receive_flit(int in, const noc_flit& f) { push_input(in, f); }
  void receive_credit(int out_vc) {
    if (m_credits[out_vc]++ == 0 && m_owner[out_vc] >= 0) set_credit_bit(m_in[m_owner[out_vc]], true);
  }
  // Source queue of a local port (unbounded: offered load stays honest).
  void enqueue(int local_port, uint32_t packet) {
    m_source[local_port].push_back(packet);
    ++m_queued;
  }
  // Buffered flits and queued packets, one line each (the watchdog's report).
  void describe_blocked(std::string& out) const;

  // Counters and state, for statistics and tests.
  uint64_t link_flits(int port) const { return m_out[port].flits; }
  uint64_t forwarded() const {  // flits through the crossbar: the sum over its outputs
    uint64_t n = 0;
    for (const output& o : m_out) n += o.flits;
    return n;
  }
  uint64_t stall_cycles() const { return m_stall_cycles; }
  // Flits in input VC `vc` of `port`, including those that arrived but are
  // still in the router pipeline.
  size_t occupancy(int port, int vc) const;

  void report_stats(stats_writer& out) const override;

  // Tracing (at elaboration; null: off): one "busy" event per run of
  // consecutive cycles in which the crossbar moved a flit, on the track
  // named after the router. flush_trace() closes the open run (after the simulation).
  void set_trace(trace_writer* trace);
  void flush_trace();
  // LT mode (no router kernel): one "packet" event per packet sourced here, creation to delivery.
  void trace_packet(uint64_t created, uint64_t delivered);

 private:
  static constexpr int ejection_credits = 1 << 30;
  struct output {
    noc_router* next = nullptr;  // null for a local (ejection) port or a mesh edge
    int next_in = -1;            // first input VC at `next` (its input port x vcs)
    bool local = false;
    bool blocked = false;
    // Round-robin pointers: switch allocation as the mask of input ports at or
    // after the next one to serve, VC allocation as the next input VC.
    uint32_t sa_after = ~uint32_t(0);
    int va_next = 0;
    uint32_t free_vcs = 0;  // VCs held by no input VC (bit = VC)
    uint32_t requests = 0;  // input ports asking for it this cycle (scratch)
    uint64_t flits = 0;
  };
  // 64 bytes (one cache line; indexing is a shift): ports <= 32 and VCs <= 25 fit in int8_t.
  struct input_vc {
    noc_ring<noc_flit> buf;
    uint32_t vc_class = 0;              // output VCs the front packet may take (bit = VC), set with out_port
    int8_t out_port = -1, out_vc = -1;  // route of the packet at the front
    uint8_t port = 0, vc = 0;
    int credit = -1;           // out_port * vcs + out_vc (index of its credit count)
    int up_credit = -1;        // index of the freed slots' credit count at `up`
    noc_router* up = nullptr;  // who gets the freed slots' credits (null: local port)
  };
  static_assert(sizeof(input_vc) == 64, "input_vc fills one cache line");
  // Per input port, masks of its VCs (bit = VC): `has`: non-empty and holding
  // an output VC; `cred`: the output VC held has a credit downstream. Switch
  // allocation works on these masks only.
  struct input_port {
    uint32_t has = 0, cred = 0;
    uint32_t rr_after = ~uint32_t(0);  // round-robin: VCs at or after the next one to serve
    int pick = -1;                     // VC chosen this cycle (scratch)
  };
  struct source_state {
    int vc = -1;          // input VC of the packet being injected
    uint32_t seq = 0;     // next flit to inject
    uint32_t packet = 0;  // the packet (front of the source queue) and its flits
    uint32_t flits = 0;
  };

  // A set of small integers (input VCs, outputs) walked in ascending order.
  class bit_set {
   public:
    static constexpr size_t capacity = 128;
    void set(size_t i) { m_words[i >> 6] |= uint64_t(1) << (i & 63); }
    void reset(size_t i) { m_words[i >> 6] &= ~(uint64_t(1) << (i & 63)); }
    bool any() const { return (m_words[0] | m_words[1]) != 0; }
    // The only member, or -1 when there are none or several.
    int single() const {
      const uint64_t a = m_words[0], b = m_words[1];
      if (a && !b && !(a & (a - 1))) return __builtin_ctzll(a);
      if (b && !a && !(b & (b - 1))) return 64 + __builtin_ctzll(b);
      return -1;
    }
    template <class F>
    void for_each(F f) const {
      for (size_t w = 0; w < 2; ++w)
        for (uint64_t bits = m_words[w]; bits; bits &= bits - 1)
          f(static_cast<int>(w * 64 + static_cast<size_t>(__builtin_ctzll(bits))));
    }
    // Round-robin order: the members >= start ascending, then those < start.
    template <class F>
    void for_each_from(size_t start, F f) const {
      bit_set later, earlier;
      for (size_t w = 0; w < 2; ++w) {
        const size_t base = w * 64;
        const uint64_t at_or_after =
            start <= base ? ~uint64_t(0) : start >= base + 64 ? 0 : ~((uint64_t(1) << (start - base)) - 1);
        later.m_words[w] = m_words[w] & at_or_after;
        earlier.m_words[w] = m_words[w] & ~at_or_after;
      }
      later.for_each(f);
      earlier.for_each(f);
    }

   private:
    uint64_t m_words[2] = {0, 0};
  };

  bool connected(int port) const { return port >= mesh_directions || m_out[port].next != nullptr; }
  // m_has_ports: input ports with a bit in `has`.
  void set_has_bit(const input_vc& ivc) {
    m_inp[ivc.port].has |= uint32_t(1) << ivc.vc;
    m_has_ports |= uint32_t(1) << ivc.port;
  }
  void set_credit_bit(const input_vc& ivc, bool has_credit) {
    const uint32_t bit = uint32_t(1) << ivc.vc;
    if (has_credit) m_inp[ivc.port].cred |= bit;
    else m_inp[ivc.port].cred &= ~bit;
  }
  void push_input(int in, const noc_flit& f) {
    input_vc& ivc = m_in[in];
    if (ivc.buf.empty()) {
      if (ivc.out_vc < 0) m_need_vc.set(static_cast<size_t>(in));
      else set_has_bit(ivc);
    }
    ivc.buf.push(f);
    ++m_buffered;
  }
  int inject_();
  int allocate_();
  bool allocate_vcs();  // several heads waiting for an output VC
  void traverse(int in_port, output& out);
  void route(input_vc& ivc) const;  // output port and VC class of the packet at the front
  bool grant_vc(int i, int o);

  noc_mesh& m_mesh;
  std::vector<int8_t> m_route;  // per destination node: the routing policy's direction (-1: local)
  noc_router_params m_p;
  std::vector<output> m_out;
  std::vector<input_vc> m_in;            // port * vcs + vc
  std::vector<int> m_credits;            // out port * vcs + vc: free slots downstream
  std::vector<int> m_owner;              // out port * vcs + vc: input VC holding it, -1 when free
  std::vector<std::deque<uint32_t>> m_source;
  std::vector<source_state> m_injecting;
  std::vector<uint32_t> m_local_occupancy;   // per local input VC: flits injected and not yet gone
  std::vector<input_port> m_inp;
  uint32_t m_after_port[32], m_after_vc[32];  // round-robin masks (see the constructor)
  uint32_t m_has_ports = 0;
  // Non-empty input VCs whose front packet waits for an output VC, and per
  // output those asking for one of its VCs this cycle (scratch).
  bit_set m_need_vc;
  std::vector<bit_set> m_va_requests;
  uint64_t m_buffered = 0;  // flits in input buffers
  uint64_t m_queued = 0;    // packets in source queues
  uint64_t m_stall_cycles = 0, m_injected = 0;
  trace_writer* m_trace = nullptr;
  uint32_t m_track = 0, m_ev_busy = 0, m_ev_packet = 0;
  uint64_t m_busy_first = 0, m_busy_end = 0;  // open busy run: cycles [first, end)
  void note_busy(uint64_t cycle);
};

}  // namespace npuvp
