#include "models/noc/noc_router.h"

#include <algorithm>

#include "models/noc/noc_mesh.h"
#include "platform/base/error.h"

namespace npuvp {

noc_router::noc_router(const sc_core::sc_module_name& name, noc_mesh& mesh, const routing_policy& routing,
                       const noc_router_params& p)
    : sc_module(name), m_mesh(mesh), m_p(p) {
  const int ports = mesh_directions + p.local_ports;
  if (ports > 32 || static_cast<size_t>(ports) * p.vcs > bit_set::capacity)
    throw error(std::string(this->name()) + ": " + std::to_string(ports) + " ports x " + std::to_string(p.vcs) +
                " VCs exceed the router's limits (32 ports, " + std::to_string(bit_set::capacity) + " input VCs)");
  m_out.resize(ports);
  // The routing policy, tabulated per destination node (one lookup per head flit per hop).
  for (int n = 0; n < mesh.width() * mesh.height(); ++n)
    m_route.push_back(static_cast<int8_t>(routing.route(p.x, p.y, n % mesh.width(), n / mesh.width())));
  for (int o = mesh_directions; o < ports; ++o) m_out[o].local = true;
  for (auto& o : m_out) o.free_vcs = (uint32_t(1) << p.vcs) - 1;  // vcs <= 25 (limits above)
  m_credits.assign(static_cast<size_t>(ports) * p.vcs, p.buffer_flits);
  // Ejection ports always accept: credits that never run out (unless blocked).
  std::fill(m_credits.begin() + mesh_directions * p.vcs, m_credits.end(), ejection_credits);
  m_owner.assign(static_cast<size_t>(ports) * p.vcs, -1);
  m_in.resize(static_cast<size_t>(ports) * p.vcs);
  for (auto& in : m_in) in.buf = noc_ring<noc_flit>(static_cast<size_t>(p.buffer_flits));
  for (size_t i = 0; i < m_in.size(); ++i) {
    m_in[i].port = static_cast<uint8_t>(i / static_cast<size_t>(p.vcs));
    m_in[i].vc = static_cast<uint8_t>(i % static_cast<size_t>(p.vcs));
  }
  m_source.resize(p.local_ports);
  m_injecting.resize(p.local_ports);
  m_local_occupancy.assign(static_cast<size_t>(p.local_ports) * p.vcs, 0);
  m_va_requests.resize(ports);
  m_inp.resize(ports);
  // Round-robin masks: the ports (VCs) after k, or all of them after the last one.
  for (int k = 0; k < ports; ++k) m_after_port[k] = k + 1 == ports ? ~uint32_t(0) : ~((uint32_t(2) << k) - 1);
  for (int k = 0; k < p.vcs; ++k) m_after_vc[k] = k + 1 == p.vcs ? ~uint32_t(0) : ~((uint32_t(2) << k) - 1);
}

void noc_router::block_ejection(int local_port, bool blocked) {
  const int o = mesh_directions + local_port;
  m_out[o].blocked = blocked;
  std::fill_n(m_credits.begin() + o * m_p.vcs, m_p.vcs, blocked ? 0 : ejection_credits);
  for (int v = 0; v < m_p.vcs; ++v)
    if (m_owner[o * m_p.vcs + v] >= 0) set_credit_bit(m_in[m_owner[o * m_p.vcs + v]], !blocked);
}

size_t noc_router::occupancy(int port, int vc) const {
  const int in = port * m_p.vcs + vc;
  if (port >= mesh_directions) return m_local_occupancy[static_cast<size_t>(in - mesh_directions * m_p.vcs)];
  return m_in[in].buf.size() + m_mesh.pipelined(*this, in).first;
}

std::string noc_router::port_name(int port) {
  static const char* dirs[] = {"north", "east", "south", "west"};
  return port < mesh_directions ? dirs[port] : "local" + std::to_string(port - mesh_directions);
}

void noc_router::connect(int dir, noc_router& next) {
  m_out[dir].next = &next;
  const int in_port = dir ^ 2;  // north<->south, east<->west
  m_out[dir].next_in = in_port * m_p.vcs;
  for (int v = 0; v < m_p.vcs; ++v) {
    input_vc& ivc = next.m_in[static_cast<size_t>(in_port * m_p.vcs + v)];
    ivc.up = this;
    ivc.up_credit = dir * m_p.vcs + v;
  }
}

inline int noc_router::inject_() {
  int moved = 0;
  for (int l = 0; l < m_p.local_ports; ++l) {
    auto& q = m_source[l];
    source_state& s = m_injecting[l];
    uint32_t* occupancy = &m_local_occupancy[static_cast<size_t>(l) * m_p.vcs];
    const auto full = static_cast<uint32_t>(m_p.buffer_flits);
    for (int k = 0; k < m_p.link_flits && !q.empty(); ++k) {
      if (s.vc < 0) {
        // The packet takes the least occupied local input VC of its class.
        const noc_packet& pkt = m_mesh.packet(q.front());
        uint32_t best = full + 1;
        for (int v = pkt.vc_lo; v < pkt.vc_hi; ++v)
          if (occupancy[v] < full && occupancy[v] < best) best = occupancy[v], s.vc = v;
        if (s.vc < 0) break;
        s.packet = q.front();
        s.flits = pkt.flits;
      }
      if (occupancy[s.vc] == full) break;
      ++occupancy[s.vc];
      const int in = (mesh_directions + l) * m_p.vcs + s.vc;
      const noc_flit f{s.packet, s.seq == 0, s.seq + 1 == s.flits};
      // The router pipeline starts at the buffer write (docs/noc.md).
      if (m_p.router_cycles == 1) push_input(in, f);
      else m_mesh.post_injection(*this, in, f);
      ++m_injected;
      ++moved;
      if (++s.seq == s.flits) {
        q.pop_front();
        --m_queued;
        s = source_state{};
      }
    }
  }
  return moved;
}

inline void noc_router::route(input_vc& ivc) const {
  const noc_packet& pkt = m_mesh.packet(ivc.buf.front().packet);
  const int dir = m_route[static_cast<size_t>(pkt.dst.node)];
  ivc.out_port = static_cast<int8_t>(dir < 0 ? mesh_directions + pkt.dst.port : dir);
  ivc.vc_class = ((uint32_t(1) << pkt.vc_hi) - 1) & ~((uint32_t(1) << pkt.vc_lo) - 1);
}

inline bool noc_router::grant_vc(int i, int o) {
  // The lowest free VC of the packet's class at output o, if any.
  input_vc& ivc = m_in[i];
  output& out = m_out[o];
  const uint32_t free = out.free_vcs & ivc.vc_class;
  if (!free) return false;
  const int v = __builtin_ctz(free);
  out.free_vcs &= ~(uint32_t(1) << v);
  ivc.out_vc = static_cast<int8_t>(v);
  ivc.credit = o * m_p.vcs + v;
  m_owner[static_cast<size_t>(ivc.credit)] = i;
  out.va_next = i + 1;
  m_need_vc.reset(static_cast<size_t>(i));
  set_has_bit(ivc);
  set_credit_bit(ivc, m_credits[ivc.credit] > 0);
  return true;
}

bool noc_router::allocate_vcs() {
  // Head flits get their route, then each output hands its free VCs (of the
  // packet's class) to the requesting input VCs round-robin. Returns whether
  // a head found no free VC at its output (a stall). Several heads waiting
  // (allocate_ serves a single one itself).
  bool stalled = false;
  // Outputs asked for, and those asked for by several heads; per output its
  // first requester (the only one when uncontested, the usual case), and the
  // requesters' set only when contested.
  uint32_t touched = 0, contested = 0;
  int first[32];
  m_need_vc.for_each([&](int i) {
    input_vc& ivc = m_in[i];
    if (ivc.out_port < 0) route(ivc);
    // No free VC of its class at its output: it fails whatever the order
    // (grants only take VCs), so it need not queue for the output.
    const int o = ivc.out_port;
    if (!(m_out[o].free_vcs & ivc.vc_class)) {
      stalled = true;
      return;
    }
    const uint32_t bit = uint32_t(1) << o;
    if (!(touched & bit)) {
      first[o] = i;
      touched |= bit;
      return;
    }
    if (!(contested & bit)) m_va_requests[o].set(static_cast<size_t>(first[o]));
    contested |= bit;
    m_va_requests[o].set(static_cast<size_t>(i));
  });
  for (; touched; touched &= touched - 1) {
    const int o = __builtin_ctz(touched);
    if (!(contested & (uint32_t(1) << o))) {  // one requester: no round-robin order to follow
      stalled |= !grant_vc(first[o], o);
      continue;
    }
    const bit_set requests = m_va_requests[o];
    m_va_requests[o] = bit_set{};
    requests.for_each_from(static_cast<size_t>(m_out[o].va_next), [&](int i) {
      if (!grant_vc(i, o)) stalled = true;  // no free VC at this output
    });
  }
  return stalled;
}

inline void noc_router::traverse(int in_port, output& out) {
  // The flit at the front of the input VC picked at `in_port` leaves through
  // `out`; the next VC of the port gets the round-robin pointer.
  input_port& ip = m_inp[static_cast<size_t>(in_port)];
  const int in = ip.pick;
  input_vc& ivc = m_in[static_cast<size_t>(in)];
  ip.rr_after = m_after_vc[ivc.vc];
  const noc_flit f = ivc.buf.front();
  ivc.buf.pop();
  --m_buffered;
  const bool empty = ivc.buf.empty();
  if ((f.tail || empty) && !(ip.has &= ~(uint32_t(1) << ivc.vc))) m_has_ports &= ~(uint32_t(1) << in_port);
  if (f.tail && !empty) m_need_vc.set(static_cast<size_t>(in));  // the next packet's head
  // The flit and the freed slot's credit cross their links (Dally & Towles
  // 13.3) and arrive link_cycles + 1 cycles later.
  if (ivc.up)
    m_mesh.post_credit(*ivc.up, ivc.up_credit);
  else
    --m_local_occupancy[static_cast<size_t>(in - mesh_directions * m_p.vcs)];
  const int out_vc = ivc.credit;
  if (out.local) {
    m_mesh.post_ejection(f);
  } else {
    if (--m_credits[static_cast<size_t>(out_vc)] == 0) set_credit_bit(ivc, false);
    m_mesh.post_flit(*out.next, out.next_in + ivc.out_vc, f);
  }
  ++out.flits;
  if (f.tail) {
    m_owner[static_cast<size_t>(out_vc)] = -1;
    out.free_vcs |= uint32_t(1) << ivc.out_vc;
    ivc.out_port = ivc.out_vc = ivc.credit = -1;
  }
}

inline int noc_router::allocate_() {
  bool stalled = false;
  if (m_need_vc.any()) {
    const int only = m_need_vc.single();
    if (only >= 0) {  // the usual case: one head waiting, no competition
      input_vc& ivc = m_in[static_cast<size_t>(only)];
      if (ivc.out_port < 0) route(ivc);
      stalled = !grant_vc(only, ivc.out_port);
    } else {
      stalled = allocate_vcs();
    }
  }
  // Switch allocation, separable input-first (Dally & Towles 2004, sec. 19.3):
  // each input port picks one VC with a credit downstream round-robin, then
  // each output grants one requesting input port round-robin, so flows share
  // an output per input port whatever the number of VCs they hold. Each input
  // port requests one output, so the outputs decide independently. Each input
  // port and each output send at most link_flits flits per cycle. Every
  // buffered flit is ready (receive_flit), so the VC masks say it all.
  int moved = 0;
  const int vcs = m_p.vcs;
  input_port* const in_ports = m_inp.data();
  output* const outs = m_out.data();
  const int rounds = m_p.link_flits;
  for (int round = 0; round < rounds && m_has_ports; ++round) {
    const uint32_t has_ports = m_has_ports;
    if (!(has_ports & (has_ports - 1))) {
      // One input port with work: its pick wins its output uncontested.
      const int port = __builtin_ctz(has_ports);
      input_port& ip = in_ports[port];
      const uint32_t ok = ip.has & ip.cred;
      stalled |= ok != ip.has;  // no credit downstream (or ejection refused)
      if (!ok) break;
      stalled |= (ok & (ok - 1)) != 0;  // two ready VCs at one input port
      const uint32_t later = ok & ip.rr_after;
      ip.pick = port * vcs + __builtin_ctz(later ? later : ok);
      output& out = outs[m_in[static_cast<size_t>(ip.pick)].out_port];
      out.sa_after = m_after_port[port];
      traverse(port, out);
      ++moved;
      continue;
    }
    uint32_t outputs = 0;
    for (uint32_t pending = has_ports; pending; pending &= pending - 1) {
      const int port = __builtin_ctz(pending);
      input_port& ip = in_ports[port];
      const uint32_t ok = ip.has & ip.cred;
      stalled |= ok != ip.has;  // no credit downstream (or ejection refused)
      if (!ok) continue;
      stalled |= (ok & (ok - 1)) != 0;  // two ready VCs at one input port
      // First ready VC at or after the round-robin pointer.
      const uint32_t later = ok & ip.rr_after;
      ip.pick = port * vcs + __builtin_ctz(later ? later : ok);
      const int o = m_in[static_cast<size_t>(ip.pick)].out_port;
      outs[o].requests |= uint32_t(1) << port;
      outputs |= uint32_t(1) << o;
    }
    if (!outputs) break;
    for (; outputs; outputs &= outputs - 1) {
      output& out = outs[__builtin_ctz(outputs)];
      const uint32_t req = out.requests;
      out.requests = 0;
      // First requesting input port at or after the round-robin pointer.
      const uint32_t later = req & out.sa_after;
      const int in_port = __builtin_ctz(later ? later : req);
      stalled |= (req & (req - 1)) != 0;
      out.sa_after = m_after_port[in_port];
      traverse(in_port, out);
      ++moved;
    }
  }
  m_stall_cycles += stalled;
  if (m_trace && moved) note_busy(m_mesh.cycles());
  return moved;
}

int noc_router::advance(const std::vector<std::unique_ptr<noc_router>>& routers) {
  int moved = 0;
  for (const auto& p : routers) {
    noc_router& r = *p;
    if (r.m_queued) moved += r.inject_();
    if (r.m_buffered) moved += r.allocate_();
  }
  return moved;
}

void noc_router::set_trace(trace_writer* trace) {
  m_trace = trace;
  if (!trace) return;
  m_track = trace->track(name());
  m_ev_busy = trace->name("busy");
  m_ev_packet = trace->name("packet");
}

void noc_router::trace_packet(uint64_t created, uint64_t delivered) {
  const double period_ns = m_mesh.period().to_seconds() * 1e9;
  m_trace->complete(m_track, m_ev_packet, static_cast<double>(created) * period_ns,
                    static_cast<double>(delivered + 1 - created) * period_ns);
}

void noc_router::note_busy(uint64_t cycle) {
  if (cycle == m_busy_end) {
    m_busy_end = cycle + 1;
    return;
  }
  flush_trace();
  m_busy_first = cycle;
  m_busy_end = cycle + 1;
}

void noc_router::flush_trace() {
  if (!m_trace || m_busy_end == m_busy_first) return;
  const double period_ns = m_mesh.period().to_seconds() * 1e9;
  m_trace->complete(m_track, m_ev_busy, static_cast<double>(m_busy_first) * period_ns,
                    static_cast<double>(m_busy_end - m_busy_first) * period_ns);
  m_busy_first = m_busy_end;
}

void noc_router::describe_blocked(std::string& out) const {
  const std::string me = name();
  for (size_t i = 0; i < m_in.size(); ++i) {
    const input_vc& ivc = m_in[i];
    const int port = static_cast<int>(i) / m_p.vcs, vc = static_cast<int>(i) % m_p.vcs;
    const size_t flits = occupancy(port, vc);
    if (flits == 0) continue;
    // The oldest flit: buffered, or else the first still in the router pipeline.
    const uint32_t front = ivc.buf.empty() ? m_mesh.pipelined(*this, static_cast<int>(i)).second : ivc.buf.front().packet;
    out += "  " + me + " input " + port_name(port) + " vc" + std::to_string(vc) + ": " + std::to_string(flits) + "/" +
           std::to_string(ivc.buf.capacity()) + " flits";
    if (ivc.out_port < 0) {
      out += ", head waiting for a route\n";
      continue;
    }
    const output& o = m_out[ivc.out_port];
    out += ", front packet " + std::to_string(front) + " -> output " + port_name(ivc.out_port);
    if (ivc.out_vc < 0)
      out += " waiting for a free VC\n";
    else if (o.local)
      out += " vc" + std::to_string(ivc.out_vc) + (o.blocked ? ", ejection port not accepting\n" : "\n");
    else
      out += " vc" + std::to_string(ivc.out_vc) + ", " +
             std::to_string(m_credits[static_cast<size_t>(ivc.out_port) * m_p.vcs + ivc.out_vc]) + " credits\n";
  }
  for (int l = 0; l < m_p.local_ports; ++l)
    if (!m_source[l].empty())
      out += "  " + me + " source queue " + port_name(mesh_directions + l) + ": " +
             std::to_string(m_source[l].size()) + " packets waiting\n";
}

void noc_router::report_stats(stats_writer& out) const {
  const std::string g = name();
  const double cycles = static_cast<double>(std::max<uint64_t>(1, m_mesh.cycles()));
  out.scalar(g, "flits_forwarded", static_cast<double>(forwarded()), "flits", "flits through the crossbar");
  out.scalar(g, "flits_injected", static_cast<double>(m_injected), "flits", "flits entering from local ports");
  out.scalar(g, "stall_cycles", static_cast<double>(m_stall_cycles), "cycles",
             "cycles in which a ready flit could not advance (no VC, no credit or lost arbitration)");
  for (int o = 0; o < ports(); ++o) {
    if (!connected(o)) continue;
    out.scalar(g, "link_" + port_name(o) + "_util", static_cast<double>(m_out[o].flits) / (cycles * m_p.link_flits),
               "fraction", "output link utilisation: flits sent / (cycles x link_flits_per_cycle)");
  }
}

}  // namespace npuvp
