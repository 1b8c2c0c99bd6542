#include "models/noc/noc_synthetic_traffic.h"

#include <algorithm>
#include <sstream>

#include "platform/base/error.h"

namespace npuvp {

namespace {
enum pattern_id { uniform, transpose, bitcomp, hotspot, neighbor };
// Share of hotspot traffic that goes to the hot node (the centre router).
constexpr double hotspot_share = 0.2;
}  // namespace

const std::vector<std::string>& noc_patterns() {
  static const std::vector<std::string> all = {"uniform", "transpose", "bitcomp", "hotspot", "neighbor"};
  return all;
}

noc_synthetic_traffic::noc_synthetic_traffic(noc_mesh& mesh, const noc_synthetic_config& cfg)
    : m_mesh(mesh), m_cfg(cfg), m_rng(cfg.seed), m_calendar(calendar_slots) {
  const auto& names = noc_patterns();
  const auto it = std::find(names.begin(), names.end(), cfg.pattern);
  if (it == names.end()) throw error("unknown traffic pattern '" + cfg.pattern + "'");
  m_pattern = static_cast<int>(it - names.begin());
  if (m_pattern == transpose && mesh.width() != mesh.height())
    throw error("transpose traffic needs a square mesh, not " + std::to_string(mesh.width()) + "x" +
                std::to_string(mesh.height()));
  if (cfg.packet_flits < 1) throw error("packet size must be at least 1 flit");
  if (!(cfg.rate > 0)) throw error("injection rate must be positive");
  // Bernoulli packet injection: probability rate / packet_flits per node per
  // cycle; the gaps between injections are geometric (same process, fewer draws).
  if (cfg.rate > cfg.packet_flits) {
    std::ostringstream what;
    what << "injection rate " << cfg.rate << " flits per node per cycle is more than one " << cfg.packet_flits
         << "-flit packet per node per cycle";
    throw error(what.str());
  }
  m_p = cfg.rate / cfg.packet_flits;
  m_gap = std::geometric_distribution<uint64_t>(std::min(m_p, 1.0 - 1e-12));
  const size_t nodes = static_cast<size_t>(mesh.width() * mesh.height());
  m_nodes = nodes;
  for (size_t n = 0; n < nodes; ++n) {
    schedule_next(n, 0);
    mesh.attach({static_cast<int>(n), 0}, *this);
  }
  mesh.set_traffic(*this);
}

void noc_synthetic_traffic::schedule_next(size_t node, uint64_t after) {
  const uint64_t due = after + (m_p >= 1.0 ? 0 : m_gap(m_rng));
  m_calendar[due & (calendar_slots - 1)].push_back({due, static_cast<uint32_t>(node)});
}

int noc_synthetic_traffic::destination(int x, int y) {
  const int w = m_mesh.width(), h = m_mesh.height();
  switch (m_pattern) {
    case transpose: return x * w + y;
    case bitcomp: return (h - 1 - y) * w + (w - 1 - x);
    case neighbor: return y * w + (x + 1) % w;
    case hotspot:
      if (std::uniform_real_distribution<double>(0, 1)(m_rng) < hotspot_share) return (h / 2) * w + w / 2;
      [[fallthrough]];
    default: return static_cast<int>(std::uniform_int_distribution<int>(0, w * h - 1)(m_rng));
  }
}

bool noc_synthetic_traffic::generate(uint64_t cycle) {
  const uint64_t end = m_cfg.warmup_cycles + m_cfg.measure_cycles;
  if (cycle >= end && (m_measured_left == 0 || cycle >= end + m_cfg.max_drain_cycles)) {
    if (m_cfg.stop_when_done) sc_core::sc_stop();
    return false;
  }
  const bool measured = cycle >= m_cfg.warmup_cycles && cycle < end;
  const int w = m_mesh.width();
  // The kernel calls this every cycle, so every entry is seen in its cycle.
  auto& slot = m_calendar[cycle & (calendar_slots - 1)];
  m_due.clear();
  size_t later = 0;
  for (const injection& e : slot)
    if (e.first == cycle)
      m_due.push_back(e.second);
    else
      slot[later++] = e;
  slot.resize(later);
  std::sort(m_due.begin(), m_due.end());
  for (const uint32_t n : m_due) {
    const int x = static_cast<int>(n) % w, y = static_cast<int>(n) / w;
    const int dst = destination(x, y);
    const uint64_t id = m_delivered.size();
    m_delivered.push_back(0);
    m_mesh.send({static_cast<int>(n), 0}, {dst, 0}, static_cast<uint32_t>(m_cfg.packet_flits), noc_class::any,
                id << 1 | (measured ? 1 : 0));
    if (measured) {
      ++m_measured_left;
      m_window_created_flits += static_cast<uint64_t>(m_cfg.packet_flits);
    }
    schedule_next(n, cycle + 1);
  }
  return true;
}

void noc_synthetic_traffic::packet_delivered(const noc_packet& p, uint64_t cycle) {
  uint8_t& seen = m_delivered[p.tag >> 1];
  if (seen++ || p.delivered != p.flits) ++m_duplicates;
  if (cycle >= m_cfg.warmup_cycles && cycle < m_cfg.warmup_cycles + m_cfg.measure_cycles)
    m_window_accepted_flits += p.flits;
  if (p.tag & 1) {
    --m_measured_left;
    m_latency.add(static_cast<double>(cycle - p.created));
  }
}

double noc_synthetic_traffic::offered_rate() const {
  return static_cast<double>(m_window_created_flits) /
         (static_cast<double>(m_nodes) * static_cast<double>(m_cfg.measure_cycles));
}

double noc_synthetic_traffic::accepted_rate() const {
  return static_cast<double>(m_window_accepted_flits) /
         (static_cast<double>(m_nodes) * static_cast<double>(m_cfg.measure_cycles));
}

uint64_t noc_synthetic_traffic::undelivered() const {
  return static_cast<uint64_t>(std::count(m_delivered.begin(), m_delivered.end(), 0));
}

}  // namespace npuvp
