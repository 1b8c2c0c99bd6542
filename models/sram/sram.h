// Banked software-managed scratchpad of one core, a TLM-2.0 target.
//
// at mode: an access is split over the banks it touches (bank =
//   (addr / bank_interleave_bytes) % banks). Each bank moves
//   bank_bytes_per_cycle per cycle and serves its accesses in arrival order,
//   so accesses to a busy bank wait (bank conflicts serialise) while accesses
//   to different banks proceed in parallel. An access arriving at t ends at
//     max over touched banks b of (max(t, free_b) + ceil(bytes_b / bank_bytes_per_cycle)) + access_cycles
//   i.e. access_cycles + bytes-per-bank / bank_bytes_per_cycle when unloaded.
// lt mode: access_cycles + ceil(len / (banks * bank_bytes_per_cycle)), no
//   state: ignores bank conflicts and contention between accesses (the
//   statistics say so).
//
// Both modes serve b_transport (latency added to the delay) and the AT
// 4-phase nb_transport_fw (END_REQ at once, BEGIN_RESP when the access ends;
// responses are sent one at a time, honouring END_RESP). Out-of-range
// accesses get TLM_ADDRESS_ERROR_RESPONSE after access_cycles. In functional
// mode real bytes live in a backing_store; otherwise data is not touched.
#pragma once

#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <systemc>
#include <tlm>
#include <vector>

#include "models/common/backing_store.h"
#include "models/common/fifo_buffer.h"
#include "models/common/payload_event_queue.h"
#include "platform/base/stats.h"
#include "platform/base/trace.h"
#include "platform/config/hw_config.h"

namespace npuvp {

class sram : public sc_core::sc_module, public stats_source {
 public:
  tlm_utils::simple_target_socket<sram> port_in;

  // clock_ghz: the core clock; functional: keep real bytes; trace may be null.
  sram(sc_core::sc_module_name name, const sram_config& cfg, double clock_ghz, bool functional,
       trace_writer* trace = nullptr);

  void report_stats(stats_writer& out) const override;

  uint64_t reads() const { return m_reads; }
  uint64_t writes() const { return m_writes; }
  // Summed over accesses and banks: time an access waited for a busy bank.
  double bank_conflict_cycles() const { return m_conflict / m_period; }

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase, sc_core::sc_time& delay);
  unsigned int transport_dbg(tlm::tlm_generic_payload& trans);
  // Checks, moves data, counts; returns the service time of an access
  // arriving at `arrival` and sets the response status.
  sc_core::sc_time access(tlm::tlm_generic_payload& trans, const sc_core::sc_time& arrival);
  // at mode: reserves the banks [addr, addr + len) touches; returns when the
  // last of them has moved its bytes.
  sc_core::sc_time reserve_banks(uint64_t addr, uint64_t len, const sc_core::sc_time& arrival);
  void response_method();
  void send_responses();

  const sram_config m_cfg;
  const bool m_functional;
  const bool m_at;
  const sc_core::sc_time m_period;
  const uint64_t m_capacity;
  backing_store m_store;

  // at mode: time at which each bank has moved all bytes queued on it.
  std::vector<uint64_t> m_bank_free;   // SystemC time units
  std::vector<uint64_t> m_bank_bytes;  // scratch: bytes of the current access per bank

  payload_event_queue<tlm::tlm_generic_payload> m_resp_peq;
  fifo_buffer<tlm::tlm_generic_payload*> m_ready;   // responses due, waiting for the response channel
  tlm::tlm_generic_payload* m_resp_open = nullptr;  // BEGIN_RESP sent, END_RESP pending
  sc_core::sc_event m_resp_free;

  uint64_t m_reads = 0, m_writes = 0, m_read_bytes = 0, m_write_bytes = 0, m_errors = 0;
  sc_core::sc_time m_conflict, m_busy, m_busy_until;
  sample_stats m_latency_ns;

  trace_writer* m_trace;
  uint32_t m_track = 0, m_ev_read = 0, m_ev_write = 0;
};

}  // namespace npuvp
