#include "models/dma/dma_engine.h"

#include <algorithm>

#include "platform/base/error.h"

namespace npuvp {

using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

dma_engine::dma_engine(sc_core::sc_module_name name, const dma_config& cfg, double clock_ghz, bool functional,
                       trace_writer* trace)
    : sc_module(name),
      mem_out("mem_out"),
      m_cfg(cfg),
      m_functional(functional),
      m_period(1.0 / clock_ghz, sc_core::SC_NS),
      m_slot_shift(slot_shift(cfg.burst_bytes)),
      m_buffers(static_cast<size_t>(cfg.max_outstanding) << m_slot_shift),
      m_bursts_in_flight(static_cast<size_t>(cfg.max_outstanding)),
      m_trace(trace) {
  for (int i = cfg.max_outstanding - 1; i >= 0; --i)
    m_free_buffers.push_back(m_buffers.data() + (static_cast<size_t>(i) << m_slot_shift));
  mem_out.register_nb_transport_bw(this, &dma_engine::nb_transport_bw);
  SC_HAS_PROCESS(dma_engine);
  SC_THREAD(issue_thread);
  SC_METHOD(response_method);
  sensitive << m_resp_peq.get_event();
  dont_initialize();
  if (m_trace) {
    m_track = m_trace->track(this->name());
    m_ev_desc = m_trace->name("descriptor");
  }
}

int dma_engine::slot_shift(int burst_bytes) {
  int shift = 0;
  while ((int64_t{1} << shift) < burst_bytes) ++shift;
  return shift;
}

uint64_t dma_engine::submit(const dma_descriptor& d, callback on_done) {
  if (d.row_bytes == 0 || d.rows == 0)
    throw error(std::string(name()) + ": DMA descriptor with row_bytes " + std::to_string(d.row_bytes) + " and rows " +
                std::to_string(d.rows) + " moves nothing");
  const uint64_t id = m_next_id++;
  if (m_descs.empty()) m_busy_since = sc_core::sc_time_stamp();
  desc_state& ds = m_descs[id];
  ds.d = d;
  ds.on_done = std::move(on_done);
  ds.c.id = id;
  ds.c.submitted = sc_core::sc_time_stamp();
  m_queue.push_back(id);
  m_wakeup.notify(SC_ZERO_TIME);
  return id;
}

dma_completion dma_engine::run(const dma_descriptor& d) {
  dma_completion result;
  bool finished = false;
  submit(d, [&](const dma_completion& c) {
    result = c;
    finished = true;
  });
  while (!finished) wait(m_done_ev);
  return result;
}

void dma_engine::wait_for(uint64_t id) {
  while (!done(id)) wait(m_done_ev);
}

bool dma_engine::pop_completion(dma_completion& out) {
  if (m_completions.empty()) return false;
  out = m_completions.front();
  m_completions.pop_front();
  return true;
}

void dma_engine::issue_thread() {
  for (;;) {
    const sc_time now = sc_core::sc_time_stamp();
    if (m_req_open) {  // request exclusion: wait for END_REQ
      wait(m_wakeup);
      continue;
    }
    if (now < m_next_issue) {
      wait(m_next_issue - now);
      continue;
    }
    if (!m_writes.empty()) {  // writes first: they free buffers
      tlm::tlm_generic_payload* t = m_writes.front();
      m_writes.pop_front();
      send(t);
      continue;
    }
    if (!m_issuing && !m_queue.empty()) {
      m_issuing = m_queue.front();
      m_queue.pop_front();
      m_descs.at(m_issuing).c.started = now;
      m_setup_done = now + m_period * static_cast<double>(m_cfg.setup_cycles);
      continue;
    }
    if (m_issuing && now < m_setup_done) {
      wait(m_setup_done - now, m_wakeup);
      continue;
    }
    if (m_issuing && !m_free_buffers.empty()) {
      issue_read(m_descs.at(m_issuing));
      continue;
    }
    wait(m_wakeup);
  }
}

void dma_engine::issue_read(desc_state& ds) {
  const dma_descriptor& d = ds.d;
  const uint64_t max_len = static_cast<uint64_t>(m_cfg.burst_bytes);
  const uint64_t src = d.src + ds.row * d.src_stride + ds.offset;
  const uint64_t dst = d.dst + ds.row * d.dst_stride + ds.offset;
  const uint64_t len = std::min({d.row_bytes - ds.offset, max_len - src % max_len, max_len - dst % max_len});
  ds.offset += len;
  if (ds.offset == d.row_bytes) {
    ds.offset = 0;
    if (++ds.row == d.rows) {
      ds.all_issued = true;
      m_issuing = 0;
    }
  }
  ++ds.in_flight;
  ++m_bursts;

  tlm::tlm_generic_payload* t = m_pool.allocate();
  unsigned char* buf = m_free_buffers.back();
  m_free_buffers.pop_back();
  burst& b = m_bursts_in_flight[static_cast<size_t>(buf - m_buffers.data()) >> m_slot_shift];
  b = burst{};
  b.trans = t;
  b.desc = ds.c.id;
  b.dst = dst;
  b.buf = buf;
  t->set_command(tlm::TLM_READ_COMMAND);
  t->set_address(src);
  t->set_data_ptr(b.buf);
  t->set_data_length(static_cast<unsigned int>(len));
  t->set_streaming_width(static_cast<unsigned int>(len));
  t->set_byte_enable_ptr(nullptr);
  t->set_dmi_allowed(false);
  t->set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  send(t);
}

void dma_engine::send(tlm::tlm_generic_payload* t) {
  const sc_time now = sc_core::sc_time_stamp();
  tlm::tlm_phase phase = tlm::BEGIN_REQ;
  sc_time delay = SC_ZERO_TIME;
  m_req_open = t;
  m_next_issue = now + m_period;
  const tlm::tlm_sync_enum s = mem_out->nb_transport_fw(*t, phase, delay);
  if (s == tlm::TLM_ACCEPTED) return;  // END_REQ or BEGIN_RESP will come on the backward path
  if (m_req_open == t) m_req_open = nullptr;
  m_next_issue = std::max(m_next_issue, now + delay);
  if (s == tlm::TLM_COMPLETED || phase == tlm::BEGIN_RESP) {
    burst_of(*t).owe_end_resp = (s == tlm::TLM_UPDATED);
    m_resp_peq.notify(*t, delay);
  }
}

tlm::tlm_sync_enum dma_engine::nb_transport_bw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase, sc_time& delay) {
  if (phase != tlm::END_REQ && phase != tlm::BEGIN_RESP) {
    SC_REPORT_ERROR(name(), "nb_transport_bw: unexpected phase (TLM base protocol violation)");
    return tlm::TLM_COMPLETED;
  }
  if (&trans == m_req_open) {  // END_REQ, or BEGIN_RESP standing for it
    m_req_open = nullptr;
    m_next_issue = std::max(m_next_issue, sc_core::sc_time_stamp() + delay);
    m_wakeup.notify(delay);
  }
  if (phase == tlm::END_REQ) return tlm::TLM_ACCEPTED;
  m_resp_peq.notify(trans, delay);
  return tlm::TLM_COMPLETED;  // the response needs no END_RESP
}

dma_engine::burst& dma_engine::burst_of(tlm::tlm_generic_payload& t) {
  // Wraps around to a huge slot for a pointer below the buffers.
  const size_t slot = static_cast<size_t>(reinterpret_cast<uintptr_t>(t.get_data_ptr()) -
                                          reinterpret_cast<uintptr_t>(m_buffers.data())) >>
                      m_slot_shift;
  if (slot >= m_bursts_in_flight.size() || m_bursts_in_flight[slot].trans != &t)
    throw simulation_error(std::string(name()) + ": a response for a transaction this engine has not sent");
  return m_bursts_in_flight[slot];
}

void dma_engine::response_method() {
  while (tlm::tlm_generic_payload* t = m_resp_peq.get_next_transaction()) {
    burst& b = burst_of(*t);
    if (b.owe_end_resp) {
      b.owe_end_resp = false;
      tlm::tlm_phase phase = tlm::END_RESP;
      sc_time delay = SC_ZERO_TIME;
      mem_out->nb_transport_fw(*t, phase, delay);
    }
    if (!t->is_response_ok()) {
      m_descs.at(b.desc).c.ok = false;
      ++m_errors;
      finish_burst(t, b);
    } else if (!b.writing) {  // the buffer now holds the source bytes
      b.writing = true;
      t->set_command(tlm::TLM_WRITE_COMMAND);
      t->set_address(b.dst);
      t->set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
      m_writes.push_back(t);
      m_wakeup.notify();
    } else {
      m_bytes += t->get_data_length();
      finish_burst(t, b);
    }
  }
}

void dma_engine::finish_burst(tlm::tlm_generic_payload* t, burst& b) {
  const uint64_t id = b.desc;
  m_free_buffers.push_back(b.buf);
  b.trans = nullptr;
  t->release();
  m_wakeup.notify();
  auto it = m_descs.find(id);
  desc_state& ds = it->second;
  if (--ds.in_flight || !ds.all_issued) return;

  const sc_time now = sc_core::sc_time_stamp();
  dma_completion c = ds.c;
  callback on_done = std::move(ds.on_done);
  m_descs.erase(it);
  c.finished = now;
  ++m_descriptors;
  m_desc_latency_ns.add((now - c.submitted).to_seconds() * 1e9);
  if (m_trace)
    m_trace->complete(m_track, m_ev_desc, c.started.to_seconds() * 1e9, (now - c.started).to_seconds() * 1e9);
  if (m_descs.empty()) m_busy += now - m_busy_since;
  m_done_ev.notify(SC_ZERO_TIME);
  if (on_done)
    on_done(c);
  else
    m_completions.push_back(c);
}

void dma_engine::describe_pending(std::string& out) const {
  if (m_descs.empty()) return;
  size_t bursts = 0;
  for (const burst& b : m_bursts_in_flight) bursts += b.trans != nullptr;
  out += "\n  " + std::string(name()) + ": " + std::to_string(m_descs.size()) + " descriptors not completed, " +
         std::to_string(bursts) + " bursts in flight, " + std::to_string(m_writes.size()) + " writes to send" +
         (m_req_open ? ", END_REQ pending" : "");
}

void dma_engine::report_stats(stats_writer& out) const {
  const std::string g = name();
  out.text(g, "data", m_functional ? "functional: bursts carry real bytes" : "timing only: bytes are not copied",
           "whether data moves");
  out.scalar(g, "descriptors", static_cast<double>(m_descriptors), "descriptors", "descriptors completed");
  out.scalar(g, "bursts", static_cast<double>(m_bursts), "bursts", "read+write bursts issued");
  out.scalar(g, "bytes", static_cast<double>(m_bytes), "B", "bytes copied (successful bursts)");
  out.scalar(g, "errors", static_cast<double>(m_errors), "requests", "requests answered with an error");
  out.scalar(g, "busy_ns", m_busy.to_seconds() * 1e9, "ns", "time with at least one descriptor not completed");
  out.distribution(g, "descriptor_latency", m_desc_latency_ns, "ns", "submit to completion of each descriptor");
}

}  // namespace npuvp
