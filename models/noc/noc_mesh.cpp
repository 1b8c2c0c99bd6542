#include "models/noc/noc_mesh.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "platform/base/error.h"

namespace npuvp {

noc_mesh::noc_mesh(const sc_core::sc_module_name& name, const noc_config& cfg, int width, int height,
                   const std::vector<noc_attach_point>& extra)
    : sc_module(name),
      m_cfg(cfg),
      m_fast(cfg.mode == "lt"),
      m_width(width),
      m_height(height),
      m_period(1.0 / cfg.clock_ghz, sc_core::SC_NS),
      m_watchdog_cycles(static_cast<uint64_t>(std::ceil(cfg.watchdog_ns * cfg.clock_ghz))),
      m_routing(make_routing(cfg.routing)),
      m_wheel(static_cast<size_t>(cfg.link_cycles + cfg.router_cycles) + 1) {
  if (width < 1 || height < 1) throw error("noc mesh " + std::string(this->name()) + ": empty mesh");
  std::vector<int> locals(static_cast<size_t>(width * height), 1);
  for (const auto& a : extra) {
    if (a.x < 0 || a.y < 0 || a.x >= width || a.y >= height)
      throw error("noc attachment '" + a.name + "' at [" + std::to_string(a.x) + ", " + std::to_string(a.y) +
                  "] lies outside the " + std::to_string(width) + "x" + std::to_string(height) + " mesh");
    const int node = a.y * width + a.x;
    m_extra.push_back({node, locals[static_cast<size_t>(node)]++});
  }
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      noc_router_params p;
      p.x = x;
      p.y = y;
      p.local_ports = locals[static_cast<size_t>(y * width + x)];
      p.vcs = cfg.vcs;
      p.buffer_flits = cfg.buffer_flits;
      p.router_cycles = cfg.router_cycles;
      p.link_cycles = cfg.link_cycles;
      p.link_flits = cfg.link_flits_per_cycle;
      m_port_base.push_back(static_cast<int>(m_sinks[0].size()));
      for (auto& s : m_sinks) s.resize(s.size() + static_cast<size_t>(p.local_ports), nullptr);
      const std::string rname = "router_" + std::to_string(x) + "_" + std::to_string(y);
      m_routers.push_back(std::make_unique<noc_router>(rname.c_str(), *this, *m_routing, p));
    }
  // Wheel slots, bounded as said in noc_mesh.h: per cycle at most link_flits
  // flits leave each of the 4 mesh outputs and each local port of a router,
  // and as many credits leave each mesh input port.
  const size_t routers = static_cast<size_t>(width * height), local_ports = m_sinks[0].size();
  const size_t lf = static_cast<size_t>(cfg.link_flits_per_cycle);
  for (auto& slot : m_wheel) {
    slot.flits = noc_list<flit_event>(lf * (mesh_directions * routers + local_ports));
    slot.ejections = noc_list<noc_flit>(lf * local_ports);
    slot.credits = noc_list<credit_event>(lf * mesh_directions * routers);
  }
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      if (x + 1 < width) {
        router(x, y).connect(dir_east, router(x + 1, y));
        router(x + 1, y).connect(dir_west, router(x, y));
      }
      if (y + 1 < height) {
        router(x, y).connect(dir_south, router(x, y + 1));
        router(x, y + 1).connect(dir_north, router(x, y));
      }
    }
  SC_METHOD(tick);
  sensitive << m_wake;
  dont_initialize();
}

static std::vector<noc_attach_point> with_host(const hw_config& hw, std::vector<noc_attach_point> extra) {
  extra.push_back({"host", hw.host.x, hw.host.y});
  return extra;
}

noc_mesh::noc_mesh(const sc_core::sc_module_name& name, const hw_config& hw, const std::vector<noc_attach_point>& extra)
    : noc_mesh(name, hw.noc, hw.mesh.width, hw.mesh.height, with_host(hw, extra)) {}

noc_endpoint noc_mesh::host_port() const {
  if (m_extra.empty()) throw error(std::string(name()) + ": no host port (mesh not built from hw_config)");
  return m_extra.back();
}

void noc_mesh::attach(noc_endpoint port, noc_sink& sink, noc_class cls) {
  m_sinks[static_cast<int>(cls)].at(static_cast<size_t>(sink_index(port))) = &sink;
}

void noc_mesh::block_ejection(noc_endpoint port, bool blocked) { router_of(port).block_ejection(port.port, blocked); }

int noc_mesh::hops(noc_endpoint src, noc_endpoint dst) const {
  return std::abs(src.node % m_width - dst.node % m_width) + std::abs(src.node / m_width - dst.node / m_width) + 1;
}

uint64_t noc_mesh::zero_load_cycles(noc_endpoint src, noc_endpoint dst, uint32_t flits) const {
  const uint64_t l = static_cast<uint64_t>(m_cfg.link_flits_per_cycle);
  return static_cast<uint64_t>(hops(src, dst)) * static_cast<uint64_t>(m_cfg.router_cycles + m_cfg.link_cycles) +
         (flits + l - 1) / l - 1;
}

uint64_t noc_mesh::cycle_at_or_after(const sc_core::sc_time& t) const {
  const uint64_t p = m_period.value();
  return (t.value() + p - 1) / p;
}

void noc_mesh::wake_at(uint64_t cycle) {
  // One pending wake-up, the earliest needed, never for a cycle already run.
  cycle = std::max(cycle, m_first_wake);
  if (cycle >= m_wake_cycle) return;
  m_wake_cycle = cycle;
  m_wake.cancel();
  const sc_core::sc_time now = sc_core::sc_time_stamp();
  const sc_core::sc_time at = m_period * static_cast<double>(cycle);
  m_wake.notify(at > now ? at - now : sc_core::SC_ZERO_TIME);
}

uint32_t noc_mesh::send(noc_endpoint src, noc_endpoint dst, uint32_t flits, noc_class cls, uint64_t tag, void* user,
                        const sc_core::sc_time& delay) {
  for (const noc_endpoint& e : {src, dst})
    if (e.node < 0 || e.node >= m_width * m_height || e.port < 0 ||
        e.port >= m_routers[static_cast<size_t>(e.node)]->ports() - mesh_directions)
      throw error(std::string(name()) + ": no endpoint (node " + std::to_string(e.node) + ", port " +
                  std::to_string(e.port) + ") in this mesh");
  if (flits < 1 || flits > 65535)
    throw error(std::string(name()) + ": a packet has 1 to 65535 flits, not " + std::to_string(flits));
  uint32_t id;
  if (m_free_packets.empty()) {
    id = static_cast<uint32_t>(m_packets.size());
    m_packets.emplace_back();
  } else {
    id = m_free_packets.back();
    m_free_packets.pop_back();
  }
  const uint64_t c = std::max(cycle_at_or_after(sc_core::sc_time_stamp() + delay), m_next_cycle);
  noc_packet& p = m_packets[id];
  const int vcs = m_cfg.vcs;
  p = noc_packet{};
  p.src = src;
  p.dst = dst;
  p.dst_x = static_cast<int16_t>(dst.node % m_width);
  p.dst_y = static_cast<int16_t>(dst.node / m_width);
  p.flits = flits;
  p.vc_lo = static_cast<uint8_t>(cls == noc_class::response ? vcs / 2 : 0);
  p.vc_hi = static_cast<uint8_t>(cls == noc_class::request ? vcs / 2 : vcs);
  if (p.vc_hi <= p.vc_lo) throw error(std::string(name()) + ": request/response classes need noc.vcs >= 2");
  p.cls = static_cast<uint8_t>(cls);
  p.created = c;
  p.tag = tag;
  p.user = user;
  if (m_in_flight++ == 0) m_last_move = c;  // the watchdog starts counting now
  m_offered_flits += flits;
  if (fast()) {
    const uint64_t due = c + zero_load_cycles(src, dst, flits);
    m_deliveries.push({due, id});
    wake_at(due);
  } else {
    router_of(src).enqueue(src.port, id);
    wake_at(c);
  }
  return id;
}

void noc_mesh::flit_delivered(const noc_flit& f, uint64_t cycle) {
  noc_packet& p = m_packets[f.packet];
  ++p.delivered;
  ++m_accepted_flits;
  if (f.tail) finish(f.packet, cycle);
}

void noc_mesh::finish(uint32_t id, uint64_t cycle) {
  // A copy: the sink may send() from the callback, which can grow m_packets.
  const noc_packet p = m_packets[id];
  m_free_packets.push_back(id);
  --m_in_flight;
  ++m_packets_delivered;
  m_latency.add(static_cast<double>(cycle - p.created));
  if (m_tracing && fast()) router_of(p.src).trace_packet(p.created, cycle);
  const size_t port = static_cast<size_t>(sink_index(p.dst));
  noc_sink* s = m_sinks[p.cls][port];
  if (!s) s = m_sinks[static_cast<int>(noc_class::any)][port];
  if (s) s->packet_delivered(p, cycle);
}

void noc_mesh::set_trace(trace_writer* trace) {
  m_tracing = trace != nullptr;
  for (auto& r : m_routers) r->set_trace(trace);
}

void noc_mesh::flush_trace() {
  for (auto& r : m_routers) r->flush_trace();
}

void noc_mesh::start_of_simulation() {
  if (m_traffic) wake_at(0);
}

void noc_mesh::tick() {
  const uint64_t c = sc_core::sc_time_stamp().value() / m_period.value();
  m_cycle = c;
  m_wake_cycle = no_wake;
  m_first_wake = c + 1;
  if (m_traffic && m_traffic_on) m_traffic_on = m_traffic->generate(c);  // creates packets at c
  m_next_cycle = c + 1;  // later sends enter at the next cycle
  if (fast()) {
    while (!m_deliveries.empty() && m_deliveries.top().first <= c) {
      const uint32_t id = m_deliveries.top().second;
      m_deliveries.pop();
      m_accepted_flits += m_packets[id].flits;
      m_packets[id].delivered = m_packets[id].flits;
      finish(id, c);
    }
    if (m_traffic && m_traffic_on) wake_at(c + 1);
    else if (!m_deliveries.empty()) wake_at(m_deliveries.top().first);
    return;
  }
  // Link arrivals first, then injection and allocation router by router
  // (these reach other routers only through the wheel, at c + 1 or later): the
  // result does not depend on the routers' order.
  const uint64_t n = m_wheel.size();
  wheel_slot& now = m_wheel[c % n];
  m_link_slot = &m_wheel[(c + 1 + static_cast<uint64_t>(m_cfg.link_cycles)) % n];
  m_buffer_slot = &m_wheel[(c + static_cast<uint64_t>(m_cfg.link_cycles + m_cfg.router_cycles)) % n];
  m_injection_slot = &m_wheel[(c + static_cast<uint64_t>(m_cfg.router_cycles) - 1) % n];
  for (const credit_event& e : now.credits) e.router->receive_credit(e.output_vc);
  now.credits.clear();
  for (const flit_event& e : now.flits) e.router->receive_flit(e.input_vc, e.flit);
  now.flits.clear();
  int moved = now.arrivals + static_cast<int>(now.ejections.size());
  now.arrivals = 0;
  for (const noc_flit& f : now.ejections) flit_delivered(f, c);
  now.ejections.clear();
  moved += noc_router::advance(m_routers);
  if (moved) {
    m_last_move = c;
  } else if (m_in_flight && c - m_last_move >= m_watchdog_cycles) {
    fail(c);
    return;
  }
  // Credits still on their way keep the kernel awake, so that they arrive on time.
  if (m_in_flight || (m_traffic && m_traffic_on) || credits_in_flight()) wake_at(c + 1);
}

bool noc_mesh::credits_in_flight() const {
  for (const auto& slot : m_wheel)
    if (!slot.credits.empty()) return true;
  return false;
}

std::pair<size_t, uint32_t> noc_mesh::pipelined(const noc_router& to, int in) const {
  // Slot of cycle t = m_cycle + k holds the flits that enter buffers at t;
  // they reached the router (or were injected) router_cycles - 1 cycles earlier.
  size_t count = 0;
  uint32_t first = 0;
  const uint64_t n = m_wheel.size();
  for (uint64_t t = m_cycle + 1; t < m_cycle + static_cast<uint64_t>(m_cfg.router_cycles); ++t)
    for (const flit_event& e : m_wheel[t % n].flits)
      if (e.router == &to && e.input_vc == in && count++ == 0) first = e.flit.packet;
  return {count, first};
}

void noc_mesh::fail(uint64_t cycle) {
  std::ostringstream msg;
  msg << name() << ": NoC watchdog: no flit moved for " << cycle - m_last_move << " cycles ("
      << static_cast<double>(cycle - m_last_move) / m_cfg.clock_ghz << " ns; noc.watchdog_ns = " << m_cfg.watchdog_ns
      << ") at cycle " << cycle << " while " << m_in_flight
      << " packets are in flight; blocked routers, ports, VCs and occupancy:\n";
  m_failure = msg.str();
  for (const auto& r : m_routers) r->describe_blocked(m_failure);
  sc_core::sc_stop();
}

void noc_mesh::check() const {
  if (!m_failure.empty()) throw simulation_error(m_failure);
}

void noc_mesh::report_stats(stats_writer& out) const {
  const std::string g = name();
  out.text(g, "mode",
           fast() ? "lt: hops x (router + link cycles) + serialisation per packet, ignores contention"
                  : "at: flit-level wormhole routers, " + std::to_string(m_cfg.vcs) +
                        " VCs, credit flow control, round-robin allocation, " + m_routing->name() + " routing",
           "NoC timing model");
  const double cycles = static_cast<double>(std::max<uint64_t>(1, m_cycle + 1));
  const double nodes = static_cast<double>(m_width * m_height);
  out.scalar(g, "cycles", cycles, "cycles", "NoC cycles simulated");
  out.scalar(g, "flits_offered", static_cast<double>(m_offered_flits), "flits", "flits of all packets sent");
  out.scalar(g, "flits_accepted", static_cast<double>(m_accepted_flits), "flits", "flits delivered");
  out.scalar(g, "packets_delivered", static_cast<double>(m_packets_delivered), "packets", "packets delivered");
  out.scalar(g, "offered_rate", static_cast<double>(m_offered_flits) / (cycles * nodes), "flits/node/cycle",
             "offered load over the whole run");
  out.scalar(g, "accepted_rate", static_cast<double>(m_accepted_flits) / (cycles * nodes), "flits/node/cycle",
             "accepted throughput over the whole run");
  out.distribution(g, "packet_latency", m_latency, "cycles",
                   "creation (source queue entry) to last flit delivered, per packet");
  if (!fast())
    for (const auto& r : m_routers) r->report_stats(out);
}

}  // namespace npuvp
