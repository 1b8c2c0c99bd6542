#include "models/noc/noc_interface.h"


#include "platform/base/error.h"

namespace npuvp {

uint32_t noc_data_flits(uint64_t bytes, int flit_bytes) {
  return static_cast<uint32_t>((bytes + static_cast<uint64_t>(flit_bytes) - 1) / static_cast<uint64_t>(flit_bytes));
}

// ------------------------------------------------------------- initiator side

noc_initiator_ni::noc_initiator_ni(const sc_core::sc_module_name& name, noc_mesh& mesh, noc_endpoint at,
                                   noc_decoder decode)
    : sc_module(name), port_in("port_in"), m_mesh(mesh), m_at(at), m_decode(std::move(decode)) {
  if (mesh.config().vcs < 2)
    throw error(std::string(this->name()) + ": network interfaces need noc.vcs >= 2 (requests and responses on "
                                            "separate virtual channels)");
  port_in.register_b_transport(this, &noc_initiator_ni::b_transport);
  port_in.register_nb_transport_fw(this, &noc_initiator_ni::nb_transport_fw);
  mesh.attach(at, *this, noc_class::response);
}

void noc_initiator_ni::send_request(noc_transaction& t, const sc_core::sc_time& delay) {
  tlm::tlm_generic_payload& gp = *t.gp;
  const noc_destination d = m_decode(gp.get_address());
  t.local_addr = d.local_addr;
  t.start = sc_core::sc_time_stamp() + delay;
  const bool write = gp.get_command() == tlm::TLM_WRITE_COMMAND;
  (write ? m_writes : m_reads)++;
  const uint32_t flits = 1 + (write ? noc_data_flits(gp.get_data_length(), m_mesh.config().flit_bytes) : 0);
  m_mesh.send(m_at, d.port, flits, noc_class::request, 0, &t, delay);
}

void noc_initiator_ni::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  noc_transaction t;
  t.gp = &gp;
  t.blocking = true;
  send_request(t, delay);
  delay = sc_core::SC_ZERO_TIME;  // the wait below covers the local offset too
  wait(t.done);
}

tlm::tlm_sync_enum noc_initiator_ni::nb_transport_fw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                                     sc_core::sc_time& delay) {
  if (phase == tlm::BEGIN_REQ) {
    if (m_free.empty()) {
      m_pool.emplace_back();
      m_free.push_back(&m_pool.back());
    }
    noc_transaction& t = *m_free.back();
    m_free.pop_back();
    t.gp = &gp;
    t.blocking = false;
    if (gp.has_mm()) gp.acquire();
    send_request(t, delay);
    phase = tlm::END_REQ;
    return tlm::TLM_UPDATED;
  }
  if (phase == tlm::END_RESP) {
    const auto it = m_waiting_end_resp.find(&gp);
    if (it == m_waiting_end_resp.end())
      throw simulation_error(std::string(name()) + ": END_RESP for a transaction not in its response phase");
    m_free.push_back(it->second);
    m_waiting_end_resp.erase(it);
    if (gp.has_mm()) gp.release();
    return tlm::TLM_COMPLETED;
  }
  throw simulation_error(std::string(name()) + ": unexpected phase on nb_transport_fw");
}

void noc_initiator_ni::packet_delivered(const noc_packet& p, uint64_t /*cycle*/) {
  auto& t = *static_cast<noc_transaction*>(p.user);
  m_round_trip.add((sc_core::sc_time_stamp() - t.start).to_seconds() * 1e9);
  if (t.blocking) {
    t.done.notify();
    return;
  }
  tlm::tlm_generic_payload& gp = *t.gp;
  tlm::tlm_phase phase = tlm::BEGIN_RESP;
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  if (port_in->nb_transport_bw(gp, phase, delay) == tlm::TLM_COMPLETED) {
    m_free.push_back(&t);
    if (gp.has_mm()) gp.release();
  } else {
    m_waiting_end_resp[&gp] = &t;
  }
}

void noc_initiator_ni::describe_pending(std::string& out) const {
  const size_t open = m_pool.size() - m_free.size();
  if (open == 0) return;
  out += "\n  " + std::string(name()) + ": " + std::to_string(open) + " transactions sent and not completed (" +
         std::to_string(m_waiting_end_resp.size()) + " waiting for END_RESP)";
}

void noc_initiator_ni::report_stats(stats_writer& out) const {
  const std::string g = name();
  out.scalar(g, "reads", static_cast<double>(m_reads), "transactions", "read requests sent into the mesh");
  out.scalar(g, "writes", static_cast<double>(m_writes), "transactions", "write requests sent into the mesh");
  out.distribution(g, "round_trip", m_round_trip, "ns", "request sent to response's last flit received");
}

// ---------------------------------------------------------------- target side
//
// Timing is that of a pool of max_outstanding worker threads, each taking the
// oldest waiting request, without their coroutine switches: a request that
// arrives (in the mesh kernel, an SC_METHOD) is taken by step_method in the
// same delta cycle, which an immediate notification runs after the methods
// and threads already runnable in it; relay_method turns a delta notification
// into the same. The delta cycle in which a request enters the target and in
// which its response enters the mesh decides the order of events at one
// simulated time, so it is kept exactly (the results do not depend on it being
// a thread or a method).

noc_target_ni::noc_target_ni(const sc_core::sc_module_name& name, noc_mesh& mesh, noc_endpoint at,
                             noc_target_protocol protocol, int max_outstanding)
    : sc_module(name), mem_out("mem_out"), m_mesh(mesh), m_at(at), m_protocol(protocol), m_idle(max_outstanding) {
  if (max_outstanding < 1)
    throw error(std::string(this->name()) + ": max_outstanding must be at least 1, not " +
                std::to_string(max_outstanding));
  mesh.attach(at, *this, noc_class::request);
  mem_out.register_nb_transport_bw(this, &noc_target_ni::nb_transport_bw);
  SC_HAS_PROCESS(noc_target_ni);
  SC_METHOD(relay_method);
  sensitive << m_delta;
  dont_initialize();
  SC_METHOD(step_method);
  sensitive << m_step;
  dont_initialize();
}

void noc_target_ni::packet_delivered(const noc_packet& p, uint64_t /*cycle*/) {
  auto* t = static_cast<noc_transaction*>(p.user);
  m_queue.push_back({t, p.src, t->gp->get_address()});
  m_step.notify();
}

void noc_target_ni::relay_method() { m_step.notify(); }

void noc_target_ni::step_method() {
  if (m_protocol == noc_target_protocol::lt) {
    for (; !m_queue.empty(); m_queue.pop_front()) serve_lt(m_queue.front());
    return;
  }
  // The workers' order: the kernel triggers the delta notifications of one
  // delta cycle in reverse order, so those that took a request in the last
  // delta cycle issue it, latest first; then those whose response came in it
  // (notified before the former, in the target's process) send it, latest
  // first, and take the next request; idle ones take what arrived in this one.
  size_t n = m_taking.size();
  while (n > 0 && !m_req_open) {
    begin_request(m_taking[n - 1]);
    m_taking.pop_back();
    --n;
  }
  // Responses that came in this delta cycle (before this method) wait for the next one.
  const uint64_t delta = sc_core::sc_delta_count();
  size_t due = 0;
  while (due < m_answered.size() && m_answered[due].delta != delta) ++due;
  for (size_t k = due; k-- > 0;) {  // send_response() answers nothing: m_answered is stable
    send_response(m_answered[k].r, m_answered[k].delay);
    if (m_queue.empty()) {
      ++m_idle;
    } else {
      m_next_taking.push_back(m_queue.front());
      m_queue.pop_front();
    }
  }
  m_answered.erase(m_answered.begin(), m_answered.begin() + static_cast<std::ptrdiff_t>(due));
  for (; m_idle > 0 && !m_queue.empty(); m_queue.pop_front()) {
    m_next_taking.push_back(m_queue.front());
    --m_idle;
  }
  if (m_taking.empty()) {
    m_taking.swap(m_next_taking);
  } else {  // END_REQ pending: the target holds the older requests back, they go first
    m_taking.insert(m_taking.begin(), m_next_taking.begin(), m_next_taking.end());
    m_next_taking.clear();
  }
  if (!m_taking.empty() && !m_req_open) m_delta.notify(sc_core::SC_ZERO_TIME);
}

void noc_target_ni::serve_lt(const request& r) {
  tlm::tlm_generic_payload& gp = *r.t->gp;
  gp.set_address(r.t->local_addr);
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  mem_out->b_transport(gp, delay);
  send_response(r, delay);
}

void noc_target_ni::begin_request(const request& r) {
  tlm::tlm_generic_payload& gp = *r.t->gp;
  gp.set_address(r.t->local_addr);
  m_in_target.push_back(r);
  m_req_open = &gp;
  tlm::tlm_phase phase = tlm::BEGIN_REQ;
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  const tlm::tlm_sync_enum s = mem_out->nb_transport_fw(gp, phase, delay);
  if (s == tlm::TLM_ACCEPTED) return;  // END_REQ or BEGIN_RESP on the backward path
  m_req_open = nullptr;
  if (s == tlm::TLM_COMPLETED || phase == tlm::BEGIN_RESP) {
    phase = tlm::BEGIN_RESP;
    nb_transport_bw(gp, phase, delay);
    if (s == tlm::TLM_UPDATED) {  // the target waits for END_RESP
      tlm::tlm_phase end = tlm::END_RESP;
      sc_core::sc_time d = sc_core::SC_ZERO_TIME;
      mem_out->nb_transport_fw(gp, end, d);
    }
  }
}

tlm::tlm_sync_enum noc_target_ni::nb_transport_bw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase,
                                                  sc_core::sc_time& delay) {
  if (&gp == m_req_open) {  // END_REQ, or BEGIN_RESP standing for it
    m_req_open = nullptr;
    if (!m_taking.empty()) m_delta.notify(delay);
  }
  if (phase == tlm::END_REQ) return tlm::TLM_ACCEPTED;
  if (phase != tlm::BEGIN_RESP) throw simulation_error(std::string(name()) + ": unexpected phase on nb_transport_bw");
  auto it = m_in_target.begin();
  while (it != m_in_target.end() && it->t->gp != &gp) ++it;
  if (it == m_in_target.end())
    throw simulation_error(std::string(name()) + ": BEGIN_RESP for a transaction not sent to the target");
  m_answered.push_back({*it, delay, sc_core::sc_delta_count()});
  *it = m_in_target.back();
  m_in_target.pop_back();
  m_delta.notify(sc_core::SC_ZERO_TIME);
  return tlm::TLM_COMPLETED;  // the response is buffered here: no END_RESP
}

void noc_target_ni::send_response(const request& r, const sc_core::sc_time& delay) {
  tlm::tlm_generic_payload& gp = *r.t->gp;
  gp.set_address(r.global);
  ++m_served;
  const bool read = gp.get_command() == tlm::TLM_READ_COMMAND;
  const uint32_t flits = 1 + (read ? noc_data_flits(gp.get_data_length(), m_mesh.config().flit_bytes) : 0);
  // The target's annotated delay passes before the response header leaves.
  m_mesh.send(m_at, r.reply_to, flits, noc_class::response, 0, r.t, delay);
}

void noc_target_ni::describe_pending(std::string& out) const {
  const size_t waiting = m_queue.size() + m_taking.size() + m_next_taking.size();
  if (waiting + m_in_target.size() + m_answered.size() == 0) return;
  out += "\n  " + std::string(name()) + ": " + std::to_string(waiting) + " requests waiting (" +
         std::to_string(m_idle) + " free slots), " + std::to_string(m_in_target.size()) + " in the target" +
         (m_req_open ? " (END_REQ pending)" : "") + ", " + std::to_string(m_answered.size()) +
         " responses to send";
}

void noc_target_ni::report_stats(stats_writer& out) const {
  out.scalar(name(), "served", static_cast<double>(m_served), "transactions", "requests issued to the target");
}

}  // namespace npuvp
