#include "models/common/address_router.h"

#include <exception>

#include "platform/base/error.h"

namespace npuvp {

using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

address_router::address_router(sc_core::sc_module_name name, decoder decode, sc_time latency)
    : sc_module(name), port_in("port_in"), mem_out("mem_out"), m_decode(std::move(decode)), m_latency(latency) {
  port_in.register_b_transport(this, &address_router::b_transport);
  port_in.register_nb_transport_fw(this, &address_router::nb_transport_fw);
  port_in.register_transport_dbg(this, &address_router::transport_dbg);
  mem_out.register_nb_transport_bw(this, &address_router::nb_transport_bw);
  SC_HAS_PROCESS(address_router);
  SC_METHOD(request_method);
  sensitive << m_req_peq.get_event() << m_retry_req;
  dont_initialize();
  SC_METHOD(response_method);
  sensitive << m_resp_peq.get_event() << m_retry_resp;
  dont_initialize();
}

void address_router::end_of_elaboration() {
  m_targets.resize(mem_out.size());
  m_initiators.resize(port_in.size());
}

bool address_router::decode(tlm::tlm_generic_payload& trans, route& r) {
  try {
    r = m_decode(trans.get_address(), trans.get_data_length());
  } catch (const std::exception&) {
    ++m_decode_errors;
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return false;
  }
  if (r.target < 0 || r.target >= static_cast<int>(mem_out.size()))
    throw simulation_error(std::string(name()) + ": decoder returned target " + std::to_string(r.target) + " but " +
                           std::to_string(mem_out.size()) + " targets are bound");
  return true;
}

address_router::route_ext* address_router::new_ext() {
  if (m_ext_free.empty()) {
    m_ext_all.push_back(std::make_unique<route_ext>());
    return m_ext_all.back().get();
  }
  route_ext* e = m_ext_free.back();
  m_ext_free.pop_back();
  return e;
}

void address_router::b_transport(int id, tlm::tlm_generic_payload& trans, sc_time& delay) {
  (void)id;
  ++m_requests;
  delay += m_latency;
  route r;
  if (!decode(trans, r)) return;
  const uint64_t global = trans.get_address();
  trans.set_address(r.local);
  mem_out[r.target]->b_transport(trans, delay);
  trans.set_address(global);
  delay += m_latency;
}

unsigned int address_router::transport_dbg(int id, tlm::tlm_generic_payload& trans) {
  (void)id;
  route r;
  if (!decode(trans, r)) return 0;
  const uint64_t global = trans.get_address();
  trans.set_address(r.local);
  const unsigned int n = mem_out[r.target]->transport_dbg(trans);
  trans.set_address(global);
  return n;
}

tlm::tlm_sync_enum address_router::nb_transport_fw(int id, tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                                   sc_time& delay) {
  if (phase == tlm::BEGIN_REQ) {
    ++m_requests;
    route r;
    if (!decode(trans, r)) {
      delay += m_latency;
      return tlm::TLM_COMPLETED;
    }
    route_ext* ext = new_ext();
    ext->initiator = id;
    ext->target = r.target;
    ext->global = trans.get_address();
    trans.set_extension(ext);
    trans.set_address(r.local);
    if (trans.has_mm()) trans.acquire();
    m_req_peq.notify(trans, delay + m_latency);
    return tlm::TLM_ACCEPTED;
  }
  if (phase == tlm::END_RESP) {
    initiator_side& side = m_initiators.at(static_cast<size_t>(id));
    if (side.open == &trans) {
      side.open = nullptr;
      if (trans.has_mm()) trans.release();
      m_retry_resp.notify(delay);
      return tlm::TLM_COMPLETED;
    }
  }
  SC_REPORT_ERROR(name(), "nb_transport_fw: unexpected phase (TLM base protocol violation)");
  return tlm::TLM_COMPLETED;
}

tlm::tlm_sync_enum address_router::nb_transport_bw(int id, tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                                   sc_time& delay) {
  route_ext* ext = trans.get_extension<route_ext>();
  if (!ext || (phase != tlm::END_REQ && phase != tlm::BEGIN_RESP)) {
    SC_REPORT_ERROR(name(), "nb_transport_bw: unexpected phase or unknown transaction");
    return tlm::TLM_COMPLETED;
  }
  if (m_targets[static_cast<size_t>(id)].open == &trans) end_request(*ext, trans, delay);
  if (phase == tlm::END_REQ) return tlm::TLM_ACCEPTED;
  take_response(*ext, trans, delay);
  return tlm::TLM_COMPLETED;  // buffered here: the target's response channel is free again
}

void address_router::end_request(route_ext& ext, tlm::tlm_generic_payload& trans, const sc_time& delay) {
  target_side& side = m_targets[static_cast<size_t>(ext.target)];
  side.open = nullptr;
  side.free_at = sc_core::sc_time_stamp() + delay;
  m_retry_req.notify(delay);
  tlm::tlm_phase phase = tlm::END_REQ;
  sc_time d = delay;
  port_in[ext.initiator]->nb_transport_bw(trans, phase, d);
}

void address_router::take_response(route_ext& ext, tlm::tlm_generic_payload& trans, const sc_time& delay) {
  trans.set_address(ext.global);
  m_resp_peq.notify(trans, delay + m_latency);
}

void address_router::request_method() {
  while (tlm::tlm_generic_payload* t = m_req_peq.get_next_transaction()) {
    route_ext* ext = t->get_extension<route_ext>();
    m_targets[static_cast<size_t>(ext->target)].queue.push_back({t, ext});
  }
  for (size_t i = 0; i < m_targets.size(); ++i) send_requests(static_cast<int>(i));
}

void address_router::send_requests(int target) {
  target_side& side = m_targets[static_cast<size_t>(target)];
  const sc_time now = sc_core::sc_time_stamp();
  while (!side.open && !side.queue.empty()) {
    if (now < side.free_at) {
      m_retry_req.notify(side.free_at - now);
      return;
    }
    tlm::tlm_generic_payload* t = side.queue.front().trans;
    route_ext& ext = *side.queue.front().ext;
    side.queue.pop_front();
    side.open = t;
    tlm::tlm_phase phase = tlm::BEGIN_REQ;
    sc_time delay = SC_ZERO_TIME;
    const tlm::tlm_sync_enum s = mem_out[target]->nb_transport_fw(*t, phase, delay);
    if (s == tlm::TLM_ACCEPTED) continue;  // END_REQ / BEGIN_RESP come on the backward path
    if (side.open == t) end_request(ext, *t, delay);
    if (s == tlm::TLM_COMPLETED || phase == tlm::BEGIN_RESP) {
      if (s == tlm::TLM_UPDATED) {  // the target wants END_RESP; the response is buffered here
        tlm::tlm_phase end = tlm::END_RESP;
        sc_time d = SC_ZERO_TIME;
        mem_out[target]->nb_transport_fw(*t, end, d);
      }
      take_response(ext, *t, delay);
    }
  }
}

void address_router::response_method() {
  while (tlm::tlm_generic_payload* t = m_resp_peq.get_next_transaction()) {
    route_ext* ext = t->get_extension<route_ext>();
    m_initiators[static_cast<size_t>(ext->initiator)].queue.push_back(t);
    t->clear_extension(ext);
    m_ext_free.push_back(ext);
  }
  for (size_t i = 0; i < m_initiators.size(); ++i) send_responses(static_cast<int>(i));
}

void address_router::send_responses(int initiator) {
  initiator_side& side = m_initiators[static_cast<size_t>(initiator)];
  while (!side.open && !side.queue.empty()) {
    tlm::tlm_generic_payload* t = side.queue.front();
    side.queue.pop_front();
    side.open = t;
    tlm::tlm_phase phase = tlm::BEGIN_RESP;
    sc_time delay = SC_ZERO_TIME;
    if (port_in[initiator]->nb_transport_bw(*t, phase, delay) == tlm::TLM_ACCEPTED) continue;
    side.open = nullptr;  // TLM_COMPLETED or END_RESP: done with this payload
    if (t->has_mm()) t->release();
  }
}

void address_router::describe_pending(std::string& out) const {
  std::string held;
  for (size_t t = 0; t < m_targets.size(); ++t)
    if (!m_targets[t].queue.empty() || m_targets[t].open)
      held += " target " + std::to_string(t) + ": " + std::to_string(m_targets[t].queue.size()) + " queued" +
              (m_targets[t].open ? " + END_REQ pending" : "") + ";";
  for (size_t i = 0; i < m_initiators.size(); ++i)
    if (!m_initiators[i].queue.empty() || m_initiators[i].open)
      held += " initiator " + std::to_string(i) + ": " + std::to_string(m_initiators[i].queue.size()) +
              " responses queued" + (m_initiators[i].open ? " + END_RESP pending" : "") + ";";
  if (!held.empty()) out += "\n  " + std::string(name()) + ":" + held;
}

void address_router::report_stats(stats_writer& out) const {
  const std::string g = name();
  out.scalar(g, "requests", static_cast<double>(m_requests), "requests", "requests routed (b_transport and AT)");
  out.scalar(g, "decode_errors", static_cast<double>(m_decode_errors), "requests",
             "requests to unmapped or straddling addresses, answered with TLM_ADDRESS_ERROR_RESPONSE");
  out.text(g, "timing_model",
           "fixed latency per direction; per-target request FIFO; unbounded response buffer; no bandwidth limit",
           "what the fabric models");
}

}  // namespace npuvp
