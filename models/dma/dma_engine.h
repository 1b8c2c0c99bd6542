// DMA engine of one core, a TLM-2.0 AT initiator.
//
// Descriptors (dma_descriptor.h) are taken in submission order. Each costs
// setup_cycles before its first burst, then is split into bursts of at most
// burst_bytes that never cross a row nor a multiple of burst_bytes in the
// source or the destination (so bursts stay inside one HBM interleave block
// when burst_bytes divides hbm.interleave_bytes). Each burst reads its bytes
// from src into an internal buffer, then writes them to dst; at most
// max_outstanding bursts are in flight. Requests go out on mem_out with the
// 4-phase base protocol, at most one BEGIN_REQ per core cycle and never
// before the previous END_REQ; the next descriptor's setup overlaps the
// previous one's bursts. A descriptor completes when all its writes are
// answered (with ok = false if any request got an error response).
//
// Completion: submit() with a callback, or without one and read the
// completion queue (pop_completion); completion_event() is notified on every
// completion; run() submits and waits (from an SC_THREAD).
#pragma once

#include <tlm_utils/simple_initiator_socket.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <systemc>
#include <tlm>
#include <vector>

#include "models/common/fifo_buffer.h"
#include "models/common/payload_event_queue.h"
#include "models/common/payload_pool.h"
#include "models/dma/dma_descriptor.h"
#include "platform/base/stats.h"
#include "platform/base/trace.h"
#include "platform/config/hw_config.h"

namespace npuvp {

struct dma_completion {
  uint64_t id = 0;
  bool ok = true;              // false: some request got an error response
  sc_core::sc_time submitted;  // when submit() was called
  sc_core::sc_time started;    // when setup began
  sc_core::sc_time finished;   // when the last write was answered
};

class dma_engine : public sc_core::sc_module, public stats_source {
 public:
  tlm_utils::simple_initiator_socket<dma_engine> mem_out;

  using callback = std::function<void(const dma_completion&)>;

  // clock_ghz: the core clock; functional: the bursts carry real bytes (the
  // buffer is always passed; targets copy only in functional mode).
  dma_engine(sc_core::sc_module_name name, const dma_config& cfg, double clock_ghz, bool functional,
             trace_writer* trace = nullptr);

  // Non-blocking, from any process or before sc_start. Returns the id
  // (1, 2, ...). on_done runs in the engine's process when the descriptor
  // completes; without it the completion goes to the completion queue.
  // Throws npuvp::error for an empty descriptor.
  uint64_t submit(const dma_descriptor& d, callback on_done = {});
  // Blocking, from an SC_THREAD: submit and wait for completion.
  dma_completion run(const dma_descriptor& d);
  // From an SC_THREAD: wait until descriptor `id` has completed.
  void wait_for(uint64_t id);
  bool done(uint64_t id) const { return id != 0 && id < m_next_id && !m_descs.count(id); }
  bool idle() const { return m_descs.empty(); }
  // Notified (one delta later) after each completion.
  const sc_core::sc_event& completion_event() const { return m_done_ev; }
  // Oldest unread completion of a descriptor submitted without callback.
  bool pop_completion(dma_completion& out);

  void report_stats(stats_writer& out) const override;
  // Descriptors and bursts not completed, one line appended to `out` (nothing
  // when idle): the chip's deadlock report.
  void describe_pending(std::string& out) const;
  uint64_t bursts() const { return m_bursts; }

 private:
  struct desc_state {
    dma_descriptor d;
    callback on_done;
    dma_completion c;
    uint64_t row = 0, offset = 0;  // next burst to issue
    uint64_t in_flight = 0;
    bool all_issued = false;
  };
  struct burst {
    tlm::tlm_generic_payload* trans = nullptr;  // null: the slot is free
    uint64_t desc = 0;
    uint64_t dst = 0;
    bool writing = false;
    bool owe_end_resp = false;  // target answered BEGIN_REQ with BEGIN_RESP
    unsigned char* buf = nullptr;
  };

  void issue_thread();
  void issue_read(desc_state& ds);
  void send(tlm::tlm_generic_payload* t);
  tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase, sc_core::sc_time& delay);
  void response_method();
  void finish_burst(tlm::tlm_generic_payload* t, burst& b);

  const dma_config m_cfg;
  const bool m_functional;
  const sc_core::sc_time m_period;
  payload_pool m_pool;
  // Burst buffers, one per outstanding burst, 2^m_slot_shift >= burst_bytes
  // bytes apart: the slot of a data pointer is a shift, not a division.
  static int slot_shift(int burst_bytes);
  const int m_slot_shift;
  std::vector<unsigned char> m_buffers;
  std::vector<unsigned char*> m_free_buffers;
  // Bursts in flight by buffer slot: a payload's data pointer names its burst.
  std::vector<burst> m_bursts_in_flight;
  burst& burst_of(tlm::tlm_generic_payload& t);

  uint64_t m_next_id = 1;
  std::deque<uint64_t> m_queue;            // submitted, setup not begun
  std::map<uint64_t, desc_state> m_descs;  // submitted, not completed
  uint64_t m_issuing = 0;                  // descriptor whose bursts are being issued (0: none)
  sc_core::sc_time m_setup_done;
  fifo_buffer<tlm::tlm_generic_payload*> m_writes;  // reads answered, writes to send
  tlm::tlm_generic_payload* m_req_open = nullptr;  // BEGIN_REQ sent, END_REQ pending
  sc_core::sc_time m_next_issue;                   // request channel: one BEGIN_REQ per cycle
  sc_core::sc_event m_wakeup, m_done_ev;
  payload_event_queue<tlm::tlm_generic_payload> m_resp_peq;
  std::deque<dma_completion> m_completions;

  uint64_t m_descriptors = 0, m_bursts = 0, m_bytes = 0, m_errors = 0;
  sc_core::sc_time m_busy, m_busy_since;
  sample_stats m_desc_latency_ns;
  trace_writer* m_trace;
  uint32_t m_track = 0, m_ev_desc = 0;
};

}  // namespace npuvp
