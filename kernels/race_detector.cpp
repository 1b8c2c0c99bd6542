#include "kernels/race_detector.h"

#include <algorithm>

#include "platform/base/error.h"

namespace npuvp::kernels {

race_detector::race_detector(int cores, std::function<std::string(int, size_t)> describe)
    : m_clocks(static_cast<size_t>(cores) * engine_count, clock_vector(static_cast<size_t>(cores) * engine_count, 0)),
      m_retired(m_clocks.size(), false),
      m_describe(std::move(describe)) {}

void race_detector::join(int agent, const clock_vector& other) {
  auto& mine = m_clocks[agent];
  for (size_t i = 0; i < std::min(mine.size(), other.size()); ++i) mine[i] = std::max(mine[i], other[i]);
}

void race_detector::access(int agent, int core, size_t cmd, mem_space space, int mem_core, uint64_t addr,
                           uint64_t bytes, bool write) {
  if (bytes == 0) return;
  const clock_vector& now = m_clocks[agent];
  auto& list = m_records[{static_cast<int>(space), space == mem_space::hbm ? 0 : mem_core}];
  const uint64_t lo = addr, hi = addr + bytes;
  for (const record& r : list) {
    if (r.hi <= lo || hi <= r.lo || r.agent == agent || !(write || r.write) || r.clock <= now[r.agent]) continue;
    const std::string where = space == mem_space::hbm ? "HBM" : "the SRAM of core " + std::to_string(mem_core);
    auto range = [](uint64_t a, uint64_t b) { return "[" + std::to_string(a) + ", " + std::to_string(b) + ")"; };
    throw simulation_error("data race on " + where + ": " + m_describe(core, cmd) + " " +
                           (write ? "writes " : "reads ") + range(lo, hi) + " while " + m_describe(r.core, r.cmd) +
                           " " + (r.write ? "writes " : "reads ") + range(r.lo, r.hi) +
                           ", and no semaphore, send/recv or barrier orders them");
  }
  list.push_back({lo, hi, agent, now[agent], write, core, cmd});
  if (++m_live_records >= m_prune_at) prune();
}

void race_detector::access_2d(int agent, int core, size_t cmd, mem_space space, int mem_core, uint64_t addr,
                              uint32_t rows, uint64_t row_bytes, uint64_t stride, bool write) {
  if (rows == 0) return;
  if (stride == row_bytes || rows == 1) {
    access(agent, core, cmd, space, mem_core, addr, (uint64_t(rows) - 1) * stride + row_bytes, write);
    return;
  }
  for (uint32_t r = 0; r < rows; ++r) access(agent, core, cmd, space, mem_core, addr + r * stride, row_bytes, write);
}

void race_detector::prune() {
  // floor[a]: what every live agent knows of agent a; older accesses can no longer race.
  clock_vector floor(m_clocks.size(), UINT32_MAX);
  for (size_t y = 0; y < m_clocks.size(); ++y)
    if (!m_retired[y])
      for (size_t a = 0; a < floor.size(); ++a) floor[a] = std::min(floor[a], m_clocks[y][a]);
  m_live_records = 0;
  for (auto& [key, list] : m_records) {
    list.erase(std::remove_if(list.begin(), list.end(), [&](const record& r) { return r.clock <= floor[r.agent]; }),
               list.end());
    m_live_records += list.size();
  }
  m_prune_at = std::max<size_t>(4096, 2 * m_live_records);
}

}  // namespace npuvp::kernels
