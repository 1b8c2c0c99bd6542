#include "models/hbm/hbm_traffic_gen.h"

#include <algorithm>
#include <cmath>

#include "platform/base/error.h"

namespace npuvp {

using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

namespace {

double ns_per_unit() {
  static const double v = sc_core::sc_get_time_resolution().to_seconds() * 1e9;
  return v;
}

double now_ns() { return static_cast<double>(sc_core::sc_time_stamp().value()) * ns_per_unit(); }

}  // namespace

hbm_traffic_gen::hbm_traffic_gen(sc_core::sc_module_name name, const hbm_traffic_config& cfg)
    : sc_module(name),
      mem_out("mem_out"),
      m_cfg(cfg),
      m_random(cfg.pattern == "random"),
      m_stride(cfg.pattern == "stride"),
      m_rng(cfg.seed),
      // Mean gap so that request_bytes / gap = load * peak (GB/s = B/ns).
      m_gap_ns(cfg.load > 0 ? cfg.load * cfg.peak_gbps / static_cast<double>(cfg.request_bytes) : 1.0),
      m_is_read(cfg.read_ratio),
      m_buffer(cfg.request_bytes),
      m_ns_per_unit(ns_per_unit()) {
  if (m_cfg.capacity < m_cfg.request_bytes)
    throw error(std::string(this->name()) + ": request larger than the channel");
  if (m_cfg.load <= 0 && m_cfg.outstanding < 1) throw error(std::string(this->name()) + ": outstanding must be >= 1");
  mem_out.register_nb_transport_bw(this, &hbm_traffic_gen::nb_transport_bw);
  SC_HAS_PROCESS(hbm_traffic_gen);
  SC_METHOD(issue);
  sensitive << m_issue_event;
}

uint64_t hbm_traffic_gen::next_address() {
  const uint64_t rb = m_cfg.request_bytes;
  const uint64_t slots = m_cfg.capacity / rb;
  const uint64_t i = m_index++;
  if (m_random) return std::uniform_int_distribution<uint64_t>(0, slots - 1)(m_rng) * rb;
  if (m_stride) return (i * m_cfg.stride) % (slots * rb) / rb * rb;
  return (i % slots) * rb;
}

void hbm_traffic_gen::issue() {
  const double now = now_ns();
  const uint64_t now_value = sc_core::sc_time_stamp().value();
  while (!m_lt_done.empty() && m_lt_done.top().at <= now_value) {
    complete(*m_lt_done.top().trans, now);
    m_lt_done.pop();
  }
  const bool open = m_cfg.load > 0;
  if (open) {
    // Arrival times in whole time-resolution units, so a wake-up always finds
    // the arrival it was scheduled for.
    while (m_generated < m_cfg.requests && m_next_gen <= now_value) {
      m_backlog.push_back(static_cast<double>(m_next_gen) * m_ns_per_unit);
      ++m_generated;
      m_next_gen += static_cast<uint64_t>(std::llround(m_gap_ns(m_rng) / m_ns_per_unit));
    }
  }
  while (!m_req_busy) {
    double generated;
    if (open) {
      if (m_backlog.empty()) break;
      generated = m_backlog.front();
      m_backlog.pop_front();
    } else {
      if (m_issued >= m_cfg.requests || m_issued - m_completed >= static_cast<uint64_t>(m_cfg.outstanding)) break;
      generated = now;
    }
    tlm::tlm_generic_payload* t = m_pool.allocate();
    const bool read = m_is_read(m_rng);
    t->set_command(read ? tlm::TLM_READ_COMMAND : tlm::TLM_WRITE_COMMAND);
    t->set_address(next_address());
    t->set_data_ptr(m_buffer.data());
    t->set_data_length(static_cast<unsigned>(m_cfg.request_bytes));
    t->set_streaming_width(static_cast<unsigned>(m_cfg.request_bytes));
    const auto slot = m_slot.try_emplace(t, m_in_flight.size()).first->second;
    if (slot == m_in_flight.size()) m_in_flight.emplace_back();
    m_in_flight[slot] = {generated, read, true};
    ++m_issued;
    if (m_first_issue_ns < 0) m_first_issue_ns = now;
    tlm::tlm_phase ph = tlm::BEGIN_REQ;
    sc_time d = SC_ZERO_TIME;
    const tlm::tlm_sync_enum s = mem_out->nb_transport_fw(*t, ph, d);
    if (s == tlm::TLM_COMPLETED) {  // e.g. an LT target: done after the annotated delay
      m_lt_done.push({(sc_core::sc_time_stamp() + d).value(), t});
    } else if (s == tlm::TLM_ACCEPTED || ph == tlm::BEGIN_REQ) {
      m_req_busy = t;
    }
  }
  // Every run ends by asking for the next arrival and the next LT completion
  // (an event keeps the earliest of its pending notifications).
  if (open && m_generated < m_cfg.requests) m_issue_event.notify(sc_time::from_value(m_next_gen - now_value));
  if (!m_lt_done.empty()) m_issue_event.notify(sc_time::from_value(m_lt_done.top().at - now_value));
}

void hbm_traffic_gen::complete(tlm::tlm_generic_payload& trans, double now) {
  const auto it = m_slot.find(&trans);
  if (it == m_slot.end() || !m_in_flight[it->second].active)
    throw simulation_error(std::string(name()) + ": response for an unknown transaction");
  in_flight& f = m_in_flight[it->second];
  if (trans.get_response_status() != tlm::TLM_OK_RESPONSE)
    throw simulation_error(std::string(name()) + ": " + trans.get_response_string() + " at address " +
                           std::to_string(trans.get_address()));
  if (f.read) m_read_latency.add(now - f.generated_ns);
  f.active = false;
  ++m_completed;
  m_bytes += trans.get_data_length();
  m_last_done_ns = std::max(m_last_done_ns, now);
  trans.release();
  m_issue_event.notify(SC_ZERO_TIME);
}

tlm::tlm_sync_enum hbm_traffic_gen::nb_transport_bw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                                    sc_time& delay) {
  if (phase == tlm::END_REQ) {
    m_req_busy = nullptr;
    m_issue_event.notify(delay);
    return tlm::TLM_ACCEPTED;
  }
  if (phase == tlm::BEGIN_RESP) {
    if (m_req_busy == &trans) m_req_busy = nullptr;  // BEGIN_RESP implies END_REQ
    complete(trans, now_ns() + delay.to_seconds() * 1e9);
    phase = tlm::END_RESP;
    return tlm::TLM_UPDATED;
  }
  throw simulation_error(std::string(name()) + ": unexpected phase on the backward path");
}

}  // namespace npuvp
