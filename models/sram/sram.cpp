#include "models/sram/sram.h"

#include <algorithm>
#include <cstring>

namespace npuvp {

using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

sram::sram(sc_core::sc_module_name name, const sram_config& cfg, double clock_ghz, bool functional, trace_writer* trace)
    : sc_module(name),
      port_in("port_in"),
      m_cfg(cfg),
      m_functional(functional),
      m_at(cfg.mode == "at"),
      m_period(1.0 / clock_ghz, sc_core::SC_NS),
      m_capacity(cfg.capacity_bytes()),
      m_bank_free(static_cast<size_t>(cfg.banks), 0),
      m_bank_bytes(static_cast<size_t>(cfg.banks), 0),
      m_trace(trace) {
  port_in.register_b_transport(this, &sram::b_transport);
  port_in.register_nb_transport_fw(this, &sram::nb_transport_fw);
  port_in.register_transport_dbg(this, &sram::transport_dbg);
  SC_HAS_PROCESS(sram);
  SC_METHOD(response_method);
  sensitive << m_resp_peq.get_event() << m_resp_free;
  dont_initialize();
  if (m_trace) {
    m_track = m_trace->track(this->name());
    m_ev_read = m_trace->name("read");
    m_ev_write = m_trace->name("write");
  }
}

sc_time sram::reserve_banks(uint64_t addr, uint64_t len, const sc_time& arrival) {
  // In SystemC time units: m_period * n rounds period * n to a whole unit,
  // which the integer product is already (exact below 2^53 units).
  const uint64_t t = arrival.value(), period = m_period.value();
  const uint64_t bpc = static_cast<uint64_t>(m_cfg.bank_bytes_per_cycle);
  uint64_t done = t, conflict = 0;
  // A bank moves all the bytes of the access that fall in it back to back.
  auto occupy = [&](uint64_t bank, uint64_t bytes) {
    const uint64_t start = std::max(t, m_bank_free[bank]);
    conflict += start - t;
    m_bank_free[bank] = start + period * ((bytes + bpc - 1) / bpc);
    done = std::max(done, m_bank_free[bank]);
  };
  const uint64_t il = static_cast<uint64_t>(m_cfg.bank_interleave_bytes);
  const uint64_t banks = m_bank_bytes.size();
  uint64_t chunk = addr / il;
  const uint64_t last = (addr + len - 1) / il;
  if (last - chunk < banks) {
    // At most one interleave chunk per bank (the usual burst): chunk by chunk.
    for (uint64_t end = addr + len; chunk <= last; ++chunk)
      occupy(chunk % banks, std::min(end, (chunk + 1) * il) - std::max(addr, chunk * il));
  } else {
    // Bytes per bank: a partial head chunk, whole interleave chunks dealt
    // round-robin from the next bank, a partial tail chunk.
    std::fill(m_bank_bytes.begin(), m_bank_bytes.end(), 0);
    const uint64_t head = std::min(len, il - addr % il);
    m_bank_bytes[chunk % banks] += head;
    len -= head;
    ++chunk;
    const uint64_t whole = len / il;
    for (uint64_t b = 0; b < banks; ++b) {
      const uint64_t k = (b + banks - chunk % banks) % banks;  // b is the k-th bank from `chunk`
      m_bank_bytes[b] += (whole / banks + (k < whole % banks ? 1 : 0)) * il;
    }
    chunk += whole;
    if (len % il) m_bank_bytes[chunk % banks] += len % il;
    for (uint64_t b = 0; b < banks; ++b)
      if (m_bank_bytes[b]) occupy(b, m_bank_bytes[b]);
  }
  m_conflict += sc_time::from_value(conflict);
  return sc_time::from_value(done);
}

sc_time sram::access(tlm::tlm_generic_payload& trans, const sc_time& arrival) {
  const uint64_t addr = trans.get_address();
  const uint64_t len = trans.get_data_length();
  const sc_time pipeline = m_period * static_cast<double>(m_cfg.access_cycles);
  if (trans.get_byte_enable_ptr()) {
    trans.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    ++m_errors;
    return pipeline;
  }
  if (trans.get_streaming_width() < len) {
    trans.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
    ++m_errors;
    return pipeline;
  }
  if (addr >= m_capacity || len > m_capacity - addr) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    ++m_errors;
    return pipeline;
  }
  const bool is_write = trans.is_write();
  if (trans.get_command() == tlm::TLM_IGNORE_COMMAND || len == 0) {
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
    return SC_ZERO_TIME;
  }
  if (m_functional) {
    if (is_write)
      m_store.write(addr, trans.get_data_ptr(), len);
    else
      m_store.read(addr, trans.get_data_ptr(), len);
  }
  sc_time end;
  if (m_at) {
    end = reserve_banks(addr, len, arrival) + pipeline;
  } else {
    const uint64_t bw = static_cast<uint64_t>(m_cfg.banks) * static_cast<uint64_t>(m_cfg.bank_bytes_per_cycle);
    end = arrival + pipeline + m_period * static_cast<double>((len + bw - 1) / bw);
  }
  const sc_time latency = end - arrival;
  if (is_write) {
    ++m_writes;
    m_write_bytes += len;
  } else {
    ++m_reads;
    m_read_bytes += len;
  }
  m_busy += end - std::min(end, std::max(arrival, m_busy_until));
  m_busy_until = std::max(m_busy_until, end);
  m_latency_ns.add(latency.to_seconds() * 1e9);
  if (m_trace)
    m_trace->complete(m_track, is_write ? m_ev_write : m_ev_read, arrival.to_seconds() * 1e9,
                      latency.to_seconds() * 1e9);
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
  return latency;
}

void sram::b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) {
  delay += access(trans, sc_core::sc_time_stamp() + delay);
}

tlm::tlm_sync_enum sram::nb_transport_fw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase, sc_time& delay) {
  if (phase == tlm::BEGIN_REQ) {
    if (trans.has_mm()) trans.acquire();
    m_resp_peq.notify(trans, delay + access(trans, sc_core::sc_time_stamp() + delay));
    phase = tlm::END_REQ;
    return tlm::TLM_UPDATED;
  }
  if (phase == tlm::END_RESP && &trans == m_resp_open) {
    m_resp_open = nullptr;
    if (trans.has_mm()) trans.release();
    m_resp_free.notify(SC_ZERO_TIME);
    return tlm::TLM_COMPLETED;
  }
  SC_REPORT_ERROR(name(), "nb_transport_fw: unexpected phase (TLM base protocol violation)");
  return tlm::TLM_COMPLETED;
}

void sram::response_method() {
  while (tlm::tlm_generic_payload* t = m_resp_peq.get_next_transaction()) m_ready.push_back(t);
  send_responses();
}

void sram::send_responses() {
  while (!m_resp_open && !m_ready.empty()) {
    tlm::tlm_generic_payload* t = m_ready.front();
    m_ready.pop_front();
    tlm::tlm_phase phase = tlm::BEGIN_RESP;
    sc_time delay = SC_ZERO_TIME;
    if (port_in->nb_transport_bw(*t, phase, delay) == tlm::TLM_ACCEPTED) {
      m_resp_open = t;
    } else if (t->has_mm()) {
      t->release();  // TLM_COMPLETED or TLM_UPDATED with END_RESP: transaction over
    }
  }
}

unsigned int sram::transport_dbg(tlm::tlm_generic_payload& trans) {
  const uint64_t addr = trans.get_address();
  uint64_t len = trans.get_data_length();
  if (!m_functional || addr >= m_capacity) return 0;
  len = std::min(len, m_capacity - addr);
  if (trans.is_write())
    m_store.write(addr, trans.get_data_ptr(), len);
  else if (trans.is_read())
    m_store.read(addr, trans.get_data_ptr(), len);
  return static_cast<unsigned int>(len);
}

void sram::report_stats(stats_writer& out) const {
  const std::string g = name();
  out.text(g, "timing_model",
           m_at ? "at: per-bank occupancy, bank conflicts serialise"
                : "lt: fixed latency plus len/(banks*bank_bytes_per_cycle); ignores bank conflicts and contention",
           "how SRAM access time is computed");
  out.scalar(g, "reads", static_cast<double>(m_reads), "requests", "read accesses served");
  out.scalar(g, "writes", static_cast<double>(m_writes), "requests", "write accesses served");
  out.scalar(g, "read_bytes", static_cast<double>(m_read_bytes), "B", "bytes read");
  out.scalar(g, "write_bytes", static_cast<double>(m_write_bytes), "B", "bytes written");
  out.scalar(g, "errors", static_cast<double>(m_errors), "requests",
             "accesses answered with an error (address, burst or byte-enable)");
  out.scalar(g, "bank_conflict_cycles", bank_conflict_cycles(), "cycles",
             "summed over accesses and banks: cycles an access waited for a busy bank (0 in lt mode)");
  out.scalar(g, "busy_ns", m_busy.to_seconds() * 1e9, "ns", "time with at least one access in service");
  out.distribution(g, "latency", m_latency_ns, "ns", "access latency from arrival to response");
}

}  // namespace npuvp
