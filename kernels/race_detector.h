// Happens-before data-race detection for the reference executor (vector
// clocks, Lamport 1978 / Fidge 1988; access records as in FastTrack, Flanagan &
// Freund 2009, kept as byte ranges). Two accesses to overlapping bytes, at
// least one a write, by different engines with no ordering through program
// order, dispatch, semaphores, send/recv or barriers are a race: the stream's
// result would depend on timing, so the executor reports it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kernels/command.h"

namespace npuvp::kernels {

class race_detector {
 public:
  using clock_vector = std::vector<uint32_t>;
  // Agents: per core, its four engines (index core * engine_count + engine).
  // `describe(core, command index)` names a command in reports.
  race_detector(int cores, std::function<std::string(int, size_t)> describe);

  static int agent(int core, engine e) { return core * engine_count + static_cast<int>(e); }
  const clock_vector& clock(int agent) const { return m_clocks[agent]; }

  // A command of `agent` starts: advances its own clock.
  void tick(int agent) { ++m_clocks[agent][agent]; }
  // `agent` now happens after everything `other` describes (an empty `other`: nothing).
  void join(int agent, const clock_vector& other);

  // Records that command `cmd` of `core`, run by `agent`, accesses `bytes` at
  // `addr` of `space` (SRAM of `mem_core`); throws npuvp::simulation_error on a race.
  void access(int agent, int core, size_t cmd, mem_space space, int mem_core, uint64_t addr, uint64_t bytes,
              bool write);
  // Same for `rows` rows of `row_bytes`, `stride` apart.
  void access_2d(int agent, int core, size_t cmd, mem_space space, int mem_core, uint64_t addr, uint32_t rows,
                 uint64_t row_bytes, uint64_t stride, bool write);

  // `agent` will access no more memory (it has no commands left).
  void retire(int agent) { m_retired[agent] = true; }
  // Drops records that every live agent is already ordered after.
  void prune();

 private:
  struct record {
    uint64_t lo, hi;
    int agent;
    uint32_t clock;
    bool write;
    int core;
    size_t cmd;
  };
  std::vector<clock_vector> m_clocks;
  std::vector<bool> m_retired;
  std::map<std::pair<int, int>, std::vector<record>> m_records;  // (space, core) -> accesses
  size_t m_live_records = 0, m_prune_at = 4096;
  std::function<std::string(int, size_t)> m_describe;
};

}  // namespace npuvp::kernels
