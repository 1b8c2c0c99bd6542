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

void noc_initiator_ni::report_stats(stats_writer& out) const {
  const std::string g = name();
  out.scalar(g, "reads", static_cast<double>(m_reads), "transactions", "read requests sent into the mesh");
  out.scalar(g, "writes", static_cast<double>(m_writes), "transactions", "write requests sent into the mesh");
  out.distribution(g, "round_trip", m_round_trip, "ns", "request sent to response's last flit received");
}

// ---------------------------------------------------------------- target side

noc_target_ni::noc_target_ni(const sc_core::sc_module_name& name, noc_mesh& mesh, noc_endpoint at, int workers)
    : sc_module(name), mem_out("mem_out"), m_mesh(mesh), m_at(at) {
  mesh.attach(at, *this, noc_class::request);
  for (int i = 0; i < workers; ++i)
    sc_core::sc_spawn(sc_bind(&noc_target_ni::worker, this), sc_core::sc_gen_unique_name("worker"));
}

void noc_target_ni::packet_delivered(const noc_packet& p, uint64_t /*cycle*/) {
  m_queue.push_back({static_cast<noc_transaction*>(p.user), p.src});
  m_arrived.notify();
}

void noc_target_ni::worker() {
  for (;;) {
    while (m_queue.empty()) wait(m_arrived);
    const request r = m_queue.front();
    m_queue.pop_front();
    tlm::tlm_generic_payload& gp = *r.t->gp;
    const uint64_t global = gp.get_address();
    gp.set_address(r.t->local_addr);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    mem_out->b_transport(gp, delay);
    gp.set_address(global);
    ++m_served;
    const bool read = gp.get_command() == tlm::TLM_READ_COMMAND;
    const uint32_t flits = 1 + (read ? noc_data_flits(gp.get_data_length(), m_mesh.config().flit_bytes) : 0);
    // The target's annotated delay passes before the response header leaves.
    m_mesh.send(m_at, r.reply_to, flits, noc_class::response, 0, r.t, delay);
  }
}

void noc_target_ni::report_stats(stats_writer& out) const {
  out.scalar(name(), "served", static_cast<double>(m_served), "transactions", "requests issued to the target");
}

}  // namespace npuvp
