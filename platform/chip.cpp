#include "platform/chip.h"

#include <algorithm>

#include "platform/base/error.h"

namespace npuvp {

using sc_core::sc_time;

chip::chip(const hw_config& hw, trace_writer* trace) : chip(sc_core::sc_module_name(hw.name.c_str()), hw, trace) {}

chip::chip(sc_core::sc_module_name name, const hw_config& hw, trace_writer* trace)
    : sc_module(name), m_hw(hw), m_map(hw) {
  std::vector<noc_attach_point> hbm_points;
  const auto routers = hbm_channel_routers(hw);
  for (int k = 0; k < m_map.hbm_channels(); ++k)
    hbm_points.push_back(
        {"hbm_" + std::to_string(k), routers.at(static_cast<size_t>(k))[0], routers.at(static_cast<size_t>(k))[1]});
  m_noc = std::make_unique<noc_mesh>("noc", hw, hbm_points);
  m_noc->set_trace(trace);
  // Barrier: gather to one point and broadcast back, each at most a
  // corner-to-corner one-flit message.
  const noc_endpoint corner = m_noc->core_port(hw.mesh.width - 1, hw.mesh.height - 1);
  const sc_time barrier =
      m_noc->period() * (2.0 * static_cast<double>(m_noc->zero_load_cycles(m_noc->core_port(0, 0), corner, 1)));
  m_sync = std::make_unique<core_sync>([this](int from, int to) { return message_latency(from, to); }, barrier);
  for (int k = 0; k < m_map.hbm_channels(); ++k)
    m_hbm.push_back(std::make_unique<hbm_channel>(("hbm_" + std::to_string(k)).c_str(), hw.hbm, hw.functional, trace));
  for (int y = 0; y < hw.mesh.height; ++y)
    for (int x = 0; x < hw.mesh.width; ++x)
      m_cores.push_back(std::make_unique<npu_core>(("core_" + std::to_string(x) + "_" + std::to_string(y)).c_str(),
                                                   hw.core, x, y, m_map, *m_sync, hw.functional, trace));
  // Cores were created row by row, so vector index = y * width + x = core id.
  build_fabric();
}

// The only place that knows the interconnect. Per core, one port router
// with two initiators (the DMA engine, the SRAM's target NI) and two targets
// (the SRAM, the initiator NI): the DMA reaches its own SRAM directly and
// everything else through the NoC; requests for this SRAM arriving over the
// NoC keep their global address until the port router. Per HBM channel: a
// target NI with channel-local addresses.
void chip::build_fabric() {
  const memory_map& map = m_map;
  for (auto& c : m_cores) {
    const auto [x, y] = m_map.core_router(c->id());
    const std::string base = "core_" + std::to_string(x) + "_" + std::to_string(y);
    const int id = c->id();
    m_initiator_nis.push_back(std::make_unique<noc_initiator_ni>((base + "_ni").c_str(), *m_noc, m_noc->core_port(x, y),
                                                                 [this](uint64_t addr) { return route(addr); }));
    m_target_nis.push_back(
        std::make_unique<noc_target_ni>((base + "_sram_ni").c_str(), *m_noc, m_noc->core_port(x, y)));
    auto port = std::make_unique<address_router>((base + "_port").c_str(),
                                                 [&map, id](uint64_t addr, uint64_t len) {
                                                   const mem_location l = map.decode(addr, len);
                                                   if (l.kind == mem_target::sram && l.index == id)
                                                     return address_router::route{0, l.local};
                                                   return address_router::route{1, addr};
                                                 },
                                                 sc_core::SC_ZERO_TIME);
    c->dma().mem_out.bind(port->port_in);
    m_target_nis.back()->mem_out.bind(port->port_in);
    port->mem_out.bind(c->local_sram().port_in);
    port->mem_out.bind(m_initiator_nis.back()->port_in);
    m_core_ports.push_back(std::move(port));
  }
  // An HBM channel's NI (4-phase towards an AT controller) keeps as many
  // requests in it as the controller queues (hbm.queue_depth), so it can keep
  // that queue full (with 16, a channel saw at most 16 x 256 B per loaded
  // round trip: ~23 GB/s of 51.2).
  for (int k = 0; k < m_map.hbm_channels(); ++k) {
    m_target_nis.push_back(std::make_unique<noc_target_ni>(
        ("hbm_" + std::to_string(k) + "_ni").c_str(), *m_noc, m_noc->extra_port(static_cast<size_t>(k)),
        m_hw.hbm.mode == "at" ? noc_target_protocol::at : noc_target_protocol::lt, m_hw.hbm.queue_depth));
    m_target_nis.back()->mem_out.bind(m_hbm[static_cast<size_t>(k)]->port_in);
  }
}

// Only addresses the core's port router has decoded get here.
noc_destination chip::route(uint64_t addr) const {
  const mem_location l = m_map.decode(addr, 1);
  if (l.kind == mem_target::hbm) return {m_noc->extra_port(static_cast<size_t>(l.index)), l.local};
  const auto [x, y] = m_map.core_router(l.index);
  return {m_noc->core_port(x, y), addr};  // decoded again by that core's port router
}

sc_time chip::message_latency(int from, int to) const {
  const auto [fx, fy] = m_map.core_router(from);
  const auto [tx, ty] = m_map.core_router(to);
  return m_noc->period() *
         static_cast<double>(m_noc->zero_load_cycles(m_noc->core_port(fx, fy), m_noc->core_port(tx, ty), 1));
}

void chip::load_programs(const std::vector<kernels::program>& programs) {
  if (programs.size() > m_cores.size())
    throw error(std::string(name()) + ": " + std::to_string(programs.size()) + " programs for " +
                std::to_string(m_cores.size()) + " cores");
  for (size_t c = 0; c < programs.size(); ++c) m_cores[c]->load(programs[c]);
}

sc_time chip::run() {
  // The cores call sc_stop() when the last one is done; that is no news.
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  sc_core::sc_start();
  m_noc->flush_trace();
  m_noc->check();
  if (!m_sync->failure().empty()) throw simulation_error(m_sync->failure());
  std::string blocked;
  for (const auto& c : m_cores) {
    if (c->has_program() && !c->done()) blocked += "\n  " + c->blocked_report();
    if (c->done()) m_elapsed = std::max(m_elapsed, c->end_time());
  }
  if (!blocked.empty()) {
    // What the transaction path still holds: a transfer that never completes
    // shows where its request or response stopped.
    std::string held;
    for (const auto& c : m_cores) c->dma().describe_pending(held);
    for (const auto& r : m_core_ports) r->describe_pending(held);
    for (const auto& n : m_initiator_nis) n->describe_pending(held);
    for (const auto& n : m_target_nis) n->describe_pending(held);
    for (const auto& h : m_hbm) h->describe_pending(held);
    if (m_noc->packets_in_flight())
      held += "\n  " + std::string(m_noc->name()) + ": " + std::to_string(m_noc->packets_in_flight()) +
              " packets in flight";
    throw simulation_error(std::string(name()) + ": deadlock at " + sc_core::sc_time_stamp().to_string() +
                           ": no core can proceed" + blocked +
                           (held.empty() ? "" : "\nheld on the transaction path:" + held));
  }
  return m_elapsed;
}

void chip::hbm_debug(tlm::tlm_command cmd, uint64_t offset, unsigned char* data, uint64_t bytes) {
  if (!m_hw.functional) throw error(std::string(name()) + ": HBM data access needs functional: true");
  const uint64_t il = m_map.interleave_bytes();
  while (bytes > 0) {
    const uint64_t chunk = std::min(bytes, il - offset % il);  // one channel's interleave block at a time
    const mem_location l = m_map.decode(m_map.hbm_base() + offset, chunk);
    tlm::tlm_generic_payload t;
    t.set_command(cmd);
    t.set_address(l.local);
    t.set_data_ptr(data);
    t.set_data_length(static_cast<unsigned int>(chunk));
    if (m_hbm.at(static_cast<size_t>(l.index))->port_in.get_base_export()->transport_dbg(t) != chunk)
      throw error(std::string(name()) + ": HBM offset " + std::to_string(offset) + " is out of range");
    offset += chunk;
    data += chunk;
    bytes -= chunk;
  }
}

void chip::write_hbm(uint64_t offset, const void* data, uint64_t bytes) {
  hbm_debug(tlm::TLM_WRITE_COMMAND, offset, static_cast<unsigned char*>(const_cast<void*>(data)), bytes);
}

void chip::read_hbm(uint64_t offset, void* data, uint64_t bytes) {
  hbm_debug(tlm::TLM_READ_COMMAND, offset, static_cast<unsigned char*>(data), bytes);
}

void chip::write_hbm_floats(uint64_t offset, const std::vector<float>& values) {
  write_hbm(offset, values.data(), values.size() * sizeof(float));
}

std::vector<float> chip::read_hbm_floats(uint64_t offset, size_t count) {
  std::vector<float> out(count);
  read_hbm(offset, out.data(), count * sizeof(float));
  return out;
}

void chip::report_stats(stats_writer& out) const {
  const std::string g = name();
  out.meta("seed", m_hw.seed);
  out.scalar(g, "elapsed_ns", m_elapsed.to_seconds() * 1e9, "ns", "when the last core finished its program");
  out.text(g, "core_messages",
           "remote signals and send notices: zero-load one-flit NoC latency, not simulated as packets (no contention)",
           "how core-to-core synchronisation is timed");
  out.scalar(g, "barrier_latency_ns", m_sync->barrier_latency().to_seconds() * 1e9, "ns",
             "release delay of a barrier after its last arrival");
  for (const auto& c : m_cores) c->report_stats(out);
  for (const auto& h : m_hbm) h->report_stats(out);
  m_noc->report_stats(out);
  for (const auto& ni : m_initiator_nis) ni->report_stats(out);
  for (const auto& ni : m_target_nis) ni->report_stats(out);
  for (const auto& p : m_core_ports) p->report_stats(out);
}

}  // namespace npuvp
