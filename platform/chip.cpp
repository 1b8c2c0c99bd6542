#include "platform/chip.h"

#include <algorithm>

#include "platform/base/error.h"

namespace npuvp {

using sc_core::sc_time;

chip::chip(const hw_config& hw, trace_writer* trace) : chip(sc_core::sc_module_name(hw.name.c_str()), hw, trace) {}

chip::chip(sc_core::sc_module_name name, const hw_config& hw, trace_writer* trace)
    : sc_module(name),
      m_hw(hw),
      m_map(hw),
      // One router pipeline plus one link (noc.router_cycles + noc.link_cycles
      // NoC cycles): the zero-load latency of one hop (Dally & Towles 2004, ch. 3).
      m_fabric_latency(static_cast<double>(hw.noc.router_cycles + hw.noc.link_cycles) / hw.noc.clock_ghz,
                       sc_core::SC_NS),
      m_sync([this](int from, int to) { return message_latency(from, to); }, 2 * m_fabric_latency) {
  for (int k = 0; k < m_map.hbm_channels(); ++k)
    m_hbm.push_back(std::make_unique<hbm_channel>(("hbm_" + std::to_string(k)).c_str(), hw.hbm, hw.functional, trace));
  for (int y = 0; y < hw.mesh.height; ++y)
    for (int x = 0; x < hw.mesh.width; ++x)
      m_cores.push_back(std::make_unique<npu_core>(
          ("core_" + std::to_string(x) + "_" + std::to_string(y)).c_str(), hw.core, x, y, m_map, m_sync,
          hw.functional, trace));
  // Cores were created row by row, so vector index = y * width + x = core id.
  build_fabric();
}

// The only place that knows the interconnect: initiators are the cores' DMA
// engines, targets the HBM channels then the SRAMs (memory_map::target_index).
void chip::build_fabric() {
  const memory_map& map = m_map;
  m_fabric = std::make_unique<address_router>(
      "fabric",
      [&map](uint64_t addr, uint64_t len) {
        const mem_location l = map.decode(addr, len);
        return address_router::route{map.target_index(l), l.local};
      },
      m_fabric_latency);
  for (auto& c : m_cores) c->dma().mem_out.bind(m_fabric->port_in);
  for (auto& h : m_hbm) m_fabric->mem_out.bind(h->port_in);
  for (auto& c : m_cores) m_fabric->mem_out.bind(c->local_sram().port_in);
}

sc_time chip::message_latency(int /*from*/, int /*to*/) const { return m_fabric_latency; }

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
  if (!m_sync.failure().empty()) throw simulation_error(m_sync.failure());
  std::string blocked;
  for (const auto& c : m_cores) {
    if (c->has_program() && !c->done()) blocked += "\n  " + c->blocked_report();
    if (c->done()) m_elapsed = std::max(m_elapsed, c->end_time());
  }
  if (!blocked.empty())
    throw simulation_error(std::string(name()) + ": deadlock at " + sc_core::sc_time_stamp().to_string() +
                           ": no core can proceed" + blocked);
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
  out.text(g, "fabric",
           "address_router crossbar: fixed latency per direction, no hops, no link bandwidth limit (NoC not yet "
           "in the chip)",
           "interconnect model and what it ignores");
  out.scalar(g, "fabric_latency_ns", m_fabric_latency.to_seconds() * 1e9, "ns",
             "one-way fabric latency; also core-to-core message latency (barrier: twice)");
  for (const auto& c : m_cores) c->report_stats(out);
  for (const auto& h : m_hbm) h->report_stats(out);
  m_fabric->report_stats(out);
}

}  // namespace npuvp
