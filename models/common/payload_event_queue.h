// A payload event queue with the behaviour of tlm_utils::peq_with_get (IEEE
// 1666-2011, 16.3): notify(t, delay) schedules t at now + delay and notifies
// get_event() after delay; get_next_transaction() returns the due payloads,
// earliest first and in insertion order among equal times, then returns null
// after notifying the event for the next one. The same order and the same
// notifications, so swapping one for the other changes no result; but the
// entries live in a binary heap in one vector, which allocates nothing once
// warm (peq_with_get allocates and frees a std::multimap node per payload).
#pragma once

#include <algorithm>
#include <cstdint>
#include <systemc>
#include <vector>

namespace npuvp {

template <class PAYLOAD>
class payload_event_queue {
 public:
  void notify(PAYLOAD& t, const sc_core::sc_time& delay) {
    m_heap.push_back({(sc_core::sc_time_stamp() + delay).value(), m_seq++, &t});
    std::push_heap(m_heap.begin(), m_heap.end(), later);
    m_event.notify(delay);
  }

  // Call until it returns null.
  PAYLOAD* get_next_transaction() {
    if (m_heap.empty()) return nullptr;
    const uint64_t now = sc_core::sc_time_stamp().value();
    const entry& first = m_heap.front();
    if (first.due > now) {
      m_event.notify(sc_core::sc_time::from_value(first.due - now));
      return nullptr;
    }
    PAYLOAD* t = first.payload;
    std::pop_heap(m_heap.begin(), m_heap.end(), later);
    m_heap.pop_back();
    return t;
  }

  sc_core::sc_event& get_event() { return m_event; }

 private:
  struct entry {
    uint64_t due;  // SystemC time value
    uint64_t seq;  // insertion order
    PAYLOAD* payload;
  };
  static bool later(const entry& a, const entry& b) { return a.due != b.due ? a.due > b.due : a.seq > b.seq; }

  std::vector<entry> m_heap;
  uint64_t m_seq = 0;
  sc_core::sc_event m_event;
};

}  // namespace npuvp
