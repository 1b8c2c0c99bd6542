// Stub initiator and stub target for testing TLM modules alone: both speak
// the AT 4-phase base protocol, record what happens and when.
#pragma once

#include <tlm_utils/peq_with_get.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <memory>
#include <systemc>
#include <tlm>
#include <unordered_map>
#include <vector>

#include "models/common/backing_store.h"

namespace npuvp::test {

// Sends a planned list of requests (AT, in plan order, each not before its
// time and not before the previous END_REQ) and records END_REQ/BEGIN_RESP.
struct stub_initiator : sc_core::sc_module {
  struct request {
    sc_core::sc_time at;
    tlm::tlm_command cmd;
    uint64_t addr;
    unsigned len;
  };
  struct result {
    sc_core::sc_time sent, end_req, begin_resp;
    tlm::tlm_response_status status = tlm::TLM_INCOMPLETE_RESPONSE;
    int responses = 0;
  };

  tlm_utils::simple_initiator_socket<stub_initiator> mem_out;
  std::vector<request> plan;
  std::vector<result> results;
  std::vector<std::vector<unsigned char>> data;  // one buffer per request
  // 0: complete the response at BEGIN_RESP; else send END_RESP this much later.
  sc_core::sc_time end_resp_delay = sc_core::SC_ZERO_TIME;

  SC_HAS_PROCESS(stub_initiator);
  explicit stub_initiator(sc_core::sc_module_name n) : sc_module(n), mem_out("mem_out"), m_end_resp_peq("peq") {
    mem_out.register_nb_transport_bw(this, &stub_initiator::nb_transport_bw);
    SC_THREAD(run);
    SC_METHOD(end_resp_method);
    sensitive << m_end_resp_peq.get_event();
    dont_initialize();
  }

  void add(double at_ns, tlm::tlm_command cmd, uint64_t addr, unsigned len) {
    plan.push_back({sc_core::sc_time(at_ns, sc_core::SC_NS), cmd, addr, len});
  }
  double resp_ns(size_t i) const { return results.at(i).begin_resp.to_seconds() * 1e9; }

 private:
  void run() {
    results.resize(plan.size());
    data.resize(plan.size());
    for (size_t i = 0; i < plan.size(); ++i) {
      const request& r = plan[i];
      if (sc_core::sc_time_stamp() < r.at) wait(r.at - sc_core::sc_time_stamp());
      while (m_open) wait(m_end_req_ev);
      m_payloads.push_back(std::make_unique<tlm::tlm_generic_payload>());
      tlm::tlm_generic_payload* t = m_payloads.back().get();
      m_index[t] = i;
      data[i].resize(r.len);
      t->set_command(r.cmd);
      t->set_address(r.addr);
      t->set_data_ptr(data[i].data());
      t->set_data_length(r.len);
      t->set_streaming_width(r.len);
      t->set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
      results[i].sent = sc_core::sc_time_stamp();
      m_open = t;
      tlm::tlm_phase phase = tlm::BEGIN_REQ;
      sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
      const tlm::tlm_sync_enum s = mem_out->nb_transport_fw(*t, phase, delay);
      if (s == tlm::TLM_ACCEPTED) continue;
      if (m_open == t) m_open = nullptr;
      results[i].end_req = sc_core::sc_time_stamp() + delay;
      if (s == tlm::TLM_COMPLETED || phase == tlm::BEGIN_RESP) response(*t, delay, s == tlm::TLM_UPDATED);
    }
  }

  tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload& t, tlm::tlm_phase& phase, sc_core::sc_time& delay) {
    const size_t i = m_index.at(&t);
    if (m_open == &t) {
      m_open = nullptr;
      results[i].end_req = sc_core::sc_time_stamp() + delay;
      m_end_req_ev.notify(delay);
    }
    if (phase == tlm::END_REQ) return tlm::TLM_ACCEPTED;
    return response(t, delay, true) ? tlm::TLM_ACCEPTED : tlm::TLM_COMPLETED;
  }

  // Returns true when END_RESP will be sent later.
  bool response(tlm::tlm_generic_payload& t, const sc_core::sc_time& delay, bool may_defer) {
    result& r = results[m_index.at(&t)];
    r.begin_resp = sc_core::sc_time_stamp() + delay;
    r.status = t.get_response_status();
    ++r.responses;
    if (!may_defer || end_resp_delay == sc_core::SC_ZERO_TIME) return false;
    m_end_resp_peq.notify(t, delay + end_resp_delay);
    return true;
  }

  void end_resp_method() {
    while (tlm::tlm_generic_payload* t = m_end_resp_peq.get_next_transaction()) {
      tlm::tlm_phase phase = tlm::END_RESP;
      sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
      mem_out->nb_transport_fw(*t, phase, delay);
    }
  }

  tlm::tlm_generic_payload* m_open = nullptr;
  sc_core::sc_event m_end_req_ev;
  tlm_utils::peq_with_get<tlm::tlm_generic_payload> m_end_resp_peq;
  std::vector<std::unique_ptr<tlm::tlm_generic_payload>> m_payloads;
  std::unordered_map<tlm::tlm_generic_payload*, size_t> m_index;
};

// Memory answering every request after a fixed latency; counts requests,
// responses and concurrency, and flags request-exclusion violations.
struct stub_memory : sc_core::sc_module {
  tlm_utils::simple_target_socket<stub_memory> port_in;
  sc_core::sc_time latency;
  uint64_t size;
  // >0: BEGIN_REQ is accepted (END_REQ sent) only after this long.
  sc_core::sc_time accept_delay = sc_core::SC_ZERO_TIME;
  backing_store store;
  bool functional = true;
  uint64_t requests = 0, responses = 0, in_flight = 0, max_in_flight = 0, violations = 0;
  std::vector<uint64_t> addresses;
  std::vector<sc_core::sc_time> arrivals;

  SC_HAS_PROCESS(stub_memory);
  stub_memory(sc_core::sc_module_name n, double latency_ns, uint64_t bytes)
      : sc_module(n),
        port_in("port_in"),
        latency(latency_ns, sc_core::SC_NS),
        size(bytes),
        m_resp_peq("resp_peq"),
        m_end_req_peq("end_req_peq") {
    port_in.register_nb_transport_fw(this, &stub_memory::nb_transport_fw);
    port_in.register_b_transport(this, &stub_memory::b_transport);
    port_in.register_transport_dbg(this, &stub_memory::transport_dbg);
    SC_METHOD(respond);
    sensitive << m_resp_peq.get_event();
    dont_initialize();
    SC_METHOD(end_req);
    sensitive << m_end_req_peq.get_event();
    dont_initialize();
  }

 private:
  void serve(tlm::tlm_generic_payload& t) {
    addresses.push_back(t.get_address());
    arrivals.push_back(sc_core::sc_time_stamp());
    if (t.get_address() + t.get_data_length() > size) {
      t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
      return;
    }
    if (functional && t.is_write()) store.write(t.get_address(), t.get_data_ptr(), t.get_data_length());
    if (functional && t.is_read()) store.read(t.get_address(), t.get_data_ptr(), t.get_data_length());
    t.set_response_status(tlm::TLM_OK_RESPONSE);
  }
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& t, tlm::tlm_phase& phase, sc_core::sc_time& delay) {
    if (phase == tlm::END_RESP) return tlm::TLM_COMPLETED;
    if (m_open) ++violations;
    ++requests;
    max_in_flight = std::max(max_in_flight, ++in_flight);
    serve(t);
    m_resp_peq.notify(t, delay + latency);
    if (accept_delay == sc_core::SC_ZERO_TIME) {
      phase = tlm::END_REQ;
      return tlm::TLM_UPDATED;
    }
    m_open = &t;
    m_end_req_peq.notify(t, delay + accept_delay);
    return tlm::TLM_ACCEPTED;
  }
  void end_req() {
    while (tlm::tlm_generic_payload* t = m_end_req_peq.get_next_transaction()) {
      m_open = nullptr;
      tlm::tlm_phase phase = tlm::END_REQ;
      sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
      port_in->nb_transport_bw(*t, phase, delay);
    }
  }
  void respond() {
    while (tlm::tlm_generic_payload* t = m_resp_peq.get_next_transaction()) {
      --in_flight;
      ++responses;
      tlm::tlm_phase phase = tlm::BEGIN_RESP;
      sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
      port_in->nb_transport_bw(*t, phase, delay);
    }
  }
  void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
    ++requests;
    ++responses;
    serve(t);
    delay += latency;
  }
  unsigned int transport_dbg(tlm::tlm_generic_payload& t) {
    if (t.is_write()) store.write(t.get_address(), t.get_data_ptr(), t.get_data_length());
    if (t.is_read()) store.read(t.get_address(), t.get_data_ptr(), t.get_data_length());
    return t.get_data_length();
  }

  tlm::tlm_generic_payload* m_open = nullptr;
  tlm_utils::peq_with_get<tlm::tlm_generic_payload> m_resp_peq, m_end_req_peq;
};

}  // namespace npuvp::test
