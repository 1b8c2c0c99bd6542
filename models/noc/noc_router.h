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
#include <string>
#include <vector>

#include <systemc>

#include "models/noc/noc_packet.h"
#include "models/noc/routing/routing_policy.h"
#include "platform/base/stats.h"

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

  // The kernel's phases for the current cycle; each returns the number of
  // flits moved. The inline guards keep idle routers cheap. Link arrivals come
  // from the mesh's time wheel through receive_flit / receive_credit.
  int inject() { return m_queued ? inject_() : 0; }        // source queues -> input buffers
  int allocate() { return m_buffered ? allocate_() : 0; }  // VC/switch allocation, traversal
  // A flit enters input VC `in` once the router pipeline (route computation,
  // VC and switch allocation, crossbar: router_cycles - 1 cycles after it
  // arrived) has elapsed, so every buffered flit is ready to leave; the mesh's
  // wheel delays it (docs/noc.md, "Kernel data structures").
  void receive_flit(int in, const noc_flit& f) { push_input(in, f); }
  void receive_credit(int out_vc) {
    if (m_credits[out_vc]++ == 0 && m_owner[out_vc] >= 0) set_credit_bit(m_owner[out_vc], true);
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
  uint64_t forwarded() const { return m_forwarded; }
  uint64_t stall_cycles() const { return m_stall_cycles; }
  // Flits in input VC `vc` of `port`, including those that arrived but are
  // still in the router pipeline.
  size_t occupancy(int port, int vc) const;

  void report_stats(stats_writer& out) const override;

 private:
  static constexpr int ejection_credits = 1 << 30;
  struct output {
    noc_router* next = nullptr;  // null for a local (ejection) port or a mesh edge
    int next_in = -1;            // input port at `next`
    bool local = false;
    bool blocked = false;
    int sa_next = 0;             // round-robin pointers: input port (switch),
    int va_next = 0;             // input VC (VC allocation)
    uint64_t flits = 0;
  };
  struct input_vc {
    noc_ring<noc_flit> buf;
    int out_port = -1, out_vc = -1;  // route of the packet at the front
    int credit = -1;                 // out_port * vcs + out_vc (index of its credit count)
  };
  struct source_state {
    int vc = -1;        // input VC of the packet being injected
    uint32_t seq = 0;   // next flit to inject
  };

  // A set of small integers (input VCs, outputs) walked in ascending order.
  class bit_set {
   public:
    static constexpr size_t capacity = 128;
    void set(size_t i) { m_words[i >> 6] |= uint64_t(1) << (i & 63); }
    void reset(size_t i) { m_words[i >> 6] &= ~(uint64_t(1) << (i & 63)); }
    bool any() const { return (m_words[0] | m_words[1]) != 0; }
    template <class F>
    void for_each(F f) const {
      for (size_t w = 0; w < 2; ++w)
        for (uint64_t bits = m_words[w]; bits; bits &= bits - 1)
          f(static_cast<int>(w * 64 + static_cast<size_t>(__builtin_ctzll(bits))));
    }

   private:
    uint64_t m_words[2] = {0, 0};
  };

  bool connected(int port) const { return port >= mesh_directions || m_out[port].next != nullptr; }
  // Per-input-port masks of VCs (bit = VC): m_has: non-empty and holding an
  // output VC; m_cred: the output VC held has a credit. m_has_ports: ports with
  // a bit in m_has. Switch allocation works on these masks only.
  void set_has_bit(int in) {
    m_has[m_port_of[in]] |= uint32_t(1) << m_vc_of[in];
    m_has_ports |= uint32_t(1) << m_port_of[in];
  }
  void clear_has_bit(int in) {
    const int port = m_port_of[in];
    if (!(m_has[port] &= ~(uint32_t(1) << m_vc_of[in]))) m_has_ports &= ~(uint32_t(1) << port);
  }
  void set_credit_bit(int in, bool has_credit) {
    const uint32_t bit = uint32_t(1) << m_vc_of[in];
    if (has_credit) m_cred[m_port_of[in]] |= bit;
    else m_cred[m_port_of[in]] &= ~bit;
  }
  void push_input(int in, const noc_flit& f) {
    input_vc& ivc = m_in[in];
    if (ivc.buf.empty()) {
      if (ivc.out_vc < 0) m_need_vc.set(static_cast<size_t>(in));
      else set_has_bit(in);
    }
    ivc.buf.push(f);
    ++m_buffered;
  }
  int inject_();
  int allocate_();
  void allocate_vcs(bool& stalled);
  void traverse(int in, int o);

  noc_mesh& m_mesh;
  const routing_policy& m_routing;
  noc_router_params m_p;
  std::vector<output> m_out;
  std::vector<input_vc> m_in;            // port * vcs + vc
  std::vector<uint8_t> m_port_of, m_vc_of;  // input VC index -> port, VC (no division on the hot path)
  std::vector<int> m_credits;            // out port * vcs + vc: free slots downstream
  std::vector<int> m_owner;              // out port * vcs + vc: input VC holding it, -1 when free
  std::vector<noc_router*> m_upstream;   // per input port: who gets the credits (null for local)
  std::vector<int> m_upstream_out;       // per input port: the upstream's output port
  std::vector<std::deque<uint32_t>> m_source;
  std::vector<source_state> m_injecting;
  std::vector<uint32_t> m_local_occupancy;   // per local input VC: flits injected and not yet gone
  std::vector<std::vector<int>> m_requests;  // per output: input VCs asking for a VC (scratch)
  std::vector<int> m_touched;                // outputs with VC requests (scratch)
  std::vector<int> m_in_next;                // per input port: round-robin VC pointer
  std::vector<int> m_pick;                   // per input port: VC chosen this cycle (scratch)
  std::vector<uint32_t> m_port_requests;     // per output: input ports asking for it (scratch)
  std::vector<uint32_t> m_has, m_cred;       // per input port: VC masks (see set_has_bit)
  uint32_t m_has_ports = 0;
  // Non-empty input VCs whose front packet waits for an output VC.
  bit_set m_need_vc;
  uint64_t m_buffered = 0;  // flits in input buffers
  uint64_t m_queued = 0;    // packets in source queues
  uint64_t m_forwarded = 0, m_stall_cycles = 0, m_injected = 0;
};

}  // namespace npuvp
