#include "models/npu_core/core_sync.h"

#include "models/npu_core/npu_core.h"

namespace npuvp {

core_sync::core_sync(latency_fn message_latency, sc_core::sc_time barrier_latency)
    : m_latency(std::move(message_latency)), m_barrier_latency(barrier_latency) {}

int core_sync::attach(npu_core* core) {
  m_cores.push_back(core);
  return static_cast<int>(m_cores.size()) - 1;
}

sc_core::sc_time core_sync::message_latency(int from, int to) const {
  return from == to ? sc_core::SC_ZERO_TIME : m_latency(from, to);
}

void core_sync::signal(int from, int to, uint16_t sem, uint32_t count) {
  core(to).post_signal(sem, count, message_latency(from, to));
}

void core_sync::notify_arrival(int from, int to, uint32_t tag, uint32_t dst, uint32_t bytes) {
  core(to).post_arrival(from, tag, dst, bytes, message_latency(from, to));
}

void core_sync::barrier(int core_id, uint16_t group, uint32_t participants) {
  const auto key = std::make_pair(group, m_generation[{core_id, group}]++);
  auto& b = m_barriers[key];
  if (!b) b = std::make_unique<barrier_state>();
  if (++b->arrived > participants) {
    fail("barrier group " + std::to_string(group) + ": " + std::to_string(b->arrived) +
         " cores reached a barrier for " + std::to_string(participants) + " (core " + std::to_string(core_id) +
         " arrived last)");
    return;
  }
  if (b->arrived == participants) b->open.notify(m_barrier_latency);
  sc_core::wait(b->open);
  if (++b->released == participants) m_barriers.erase(key);
}

// sc_stop() once: a second call only adds SystemC warning W545 before the error.
void core_sync::fail(const std::string& what) {
  if (!m_failure.empty()) return;
  m_failure = what;
  sc_core::sc_stop();
}

void core_sync::core_done() {
  if (--m_running == 0 && m_failure.empty()) sc_core::sc_stop();
}

}  // namespace npuvp
