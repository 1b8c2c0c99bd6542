// Synchronisation between the NPU cores of a chip, beside the data fabric:
//  - a semaphore signal to another core and the arrival notice of a send are
//    small posted messages delivered to the target core after
//    message_latency(from, to) (the chip derives it from its fabric);
//    a core's own semaphores are updated at once (wires inside the core);
//  - barriers: a chip-level barrier unit counts arrivals per (group,
//    generation) and releases every participant barrier_latency after the
//    last one arrived (gather to the unit and release broadcast);
//  - errors in command streams stop the simulation (fail()), and the
//    simulation stops when every core with a program is done.
// Plain C++ object used from the cores' SystemC processes (not a module).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <systemc>

namespace npuvp {

class npu_core;

class core_sync {
 public:
  using latency_fn = std::function<sc_core::sc_time(int from, int to)>;

  core_sync(latency_fn message_latency, sc_core::sc_time barrier_latency);

  // Cores register in id order (npu_core does it in its constructor).
  int attach(npu_core* core);
  int cores() const { return static_cast<int>(m_cores.size()); }
  npu_core& core(int id) const { return *m_cores.at(static_cast<size_t>(id)); }
  sc_core::sc_time message_latency(int from, int to) const;
  sc_core::sc_time barrier_latency() const { return m_barrier_latency; }

  // Posted messages from core `from` (any process): delivered after the latency.
  void signal(int from, int to, uint16_t sem, uint32_t count);
  void notify_arrival(int from, int to, uint32_t tag, uint32_t dst, uint32_t bytes);
  // From an SC_THREAD of `core`: returns when `participants` cores have
  // reached this generation of barrier `group`, plus barrier_latency.
  void barrier(int core, uint16_t group, uint32_t participants);

  // A command-stream error: the first one is kept and the simulation stops.
  void fail(const std::string& what);
  const std::string& failure() const { return m_failure; }

  // Cores with a program; sc_stop() when the last of them is done.
  void core_started() { ++m_running; }
  void core_done();
  int running() const { return m_running; }

 private:
  struct barrier_state {
    uint32_t arrived = 0, released = 0;
    sc_core::sc_event open;
  };

  latency_fn m_latency;
  const sc_core::sc_time m_barrier_latency;
  std::vector<npu_core*> m_cores;
  std::map<std::pair<int, uint16_t>, uint64_t> m_generation;  // (core, group)
  std::map<std::pair<uint16_t, uint64_t>, std::unique_ptr<barrier_state>> m_barriers;
  std::string m_failure;
  int m_running = 0;
};

}  // namespace npuvp
