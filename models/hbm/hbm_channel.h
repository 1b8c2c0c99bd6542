// One HBM channel (JEDEC sense) behind a TLM-2.0 target socket.
//
// AT mode (hbm.mode: at): 4-phase base protocol. A request is split into
// bursts (one column access of one pseudo-channel each); the request queue
// holds queue_depth requests, and when it is full END_REQ is delayed
// (back-pressure). An open-page controller per pseudo-channel keeps the open
// row of every bank. It issues PRE for a queued burst as soon as the bank
// allows, ACT when it can issue, and column commands in scheduling order at
// the earliest cycle the JEDEC constraints allow (tRCD, tRP, tRAS, tCL, tWL,
// tBURST, tCCD_S/L, tRRD_S/L, tFAW, tWR, tWTR_S/L, tRTP, tRTW); all-bank
// refresh blocks the channel for tRFC every tREFI. Scheduling: FR-FCFS
// (Rixner et al. ISCA 2000: ready bursts first, row hits win, then oldest) or
// FCFS; up to `lookahead` row hits per pseudo-channel are scheduled ahead of
// their column command. Nothing ticks per cycle: an SC_METHOD wakes only at
// decision points (a bank or the bus becomes free). One response per request,
// when its last burst's data has moved.
//
// LT mode (hbm.mode: lt): b_transport adds a calibrated latency plus the wait
// for a bandwidth occupancy window (peak * efficiency); it ignores bank
// conflicts, row-buffer state and refresh, and says so in its statistics.
//
// Functional mode moves real bytes through a backing_store in both modes.
// Addresses are channel-local: 0 .. capacity_bytes().
#pragma once

#include <tlm_utils/peq_with_cb_and_phase.h>
#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <deque>
#include <queue>
#include <string>
#include <systemc>
#include <tlm>
#include <vector>

#include "models/common/backing_store.h"
#include "models/common/fifo_buffer.h"
#include "platform/base/stats.h"
#include "platform/base/trace.h"
#include "platform/config/hbm_config.h"
#include "platform/hbm_address_mapper.h"

namespace npuvp {

class hbm_channel : public sc_core::sc_module, public stats_source {
 public:
  tlm_utils::simple_target_socket<hbm_channel> port_in;

  hbm_channel(sc_core::sc_module_name name, const hbm_config& cfg, bool functional, trace_writer* trace);

  uint64_t capacity_bytes() const { return m_capacity; }
  void report_stats(stats_writer& out) const override;
  // What it holds (queued bursts, responses not yet sent, a BEGIN_REQ waiting
  // for a queue slot), one line appended to `out`, nothing when idle: the
  // chip's deadlock report.
  void describe_pending(std::string& out) const;

 private:
  static constexpr int64_t never = -(int64_t{1} << 40);

  struct request {
    tlm::tlm_generic_payload* trans = nullptr;
    sc_core::sc_event* blocking_done = nullptr;  // set for b_transport callers in AT mode
    double arrival_ns = 0;
    int64_t done = 0;  // cycle the last data beat has moved
    int bursts_unscheduled = 0;
    bool read = true;
  };
  struct burst {
    int req;
    int bank;  // bg * banks_per_group + ba
    int bg;
    bool read;  // copy of the request's direction
    int64_t row;
  };
  struct bank_state {
    int64_t open_row = -1;
    int64_t earliest_act = 0, earliest_pre = 0, earliest_cas = 0;
    int queued = 0;         // queued bursts for this bank
    int hits = 0;           // queued bursts for the open row
    bool conflict = false;  // precharged for another row: the next ACT is a conflict
  };
  struct pc_state {
    std::vector<bank_state> banks;
    fifo_buffer<burst> queue;          // arrival order
    fifo_buffer<int64_t> pending_cas;  // column commands scheduled but not yet issued
    int64_t last_act = never, last_cas = never, last_rd = never, last_wr_end = never, data_free = 0;
    std::vector<int64_t> last_act_bg, last_cas_bg, last_wr_end_bg;
    int64_t faw[4] = {never, never, never, never};
    int faw_next = 0;
    int hits = 0;    // queued row hits over all banks
    int closed = 0;  // queued bursts to closed banks (candidates for an ACT)
    // Banks holding a row while bursts for other rows are queued (bit per
    // bank): the only banks the FR-FCFS precharge pass has to look at.
    std::vector<uint64_t> pre_wanted;
    // Bit per bank (the first 64): closed, and holding queued row hits (the
    // banks a scheduler scan can pick from).
    uint64_t closed_banks = ~uint64_t{0}, hit_banks = 0;
  };
  struct plan {
    bool hit;          // row hit: no ACT
    int64_t act, cas;  // act < 0 for a hit
  };
  struct response {
    int64_t done;
    uint64_t seq;
    int req;
    bool operator>(const response& o) const { return done != o.done ? done > o.done : seq > o.seq; }
  };

  // TLM interface.
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase, sc_core::sc_time& delay);
  void on_fw_phase(tlm::tlm_generic_payload& trans, const tlm::tlm_phase& phase);
  // Debug access (no time, no statistics): moves bytes in functional mode only.
  unsigned int transport_dbg(tlm::tlm_generic_payload& trans);

  // LT mode: the delay to add for this transaction.
  void lt_access(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  // Checks address/byte enables and moves data in functional mode; false on error.
  bool access_data(tlm::tlm_generic_payload& trans);

  // AT mode.
  bool queue_full() const { return m_queued >= m_cfg.queue_depth; }
  int accept(tlm::tlm_generic_payload& trans, sc_core::sc_event* blocking_done);
  void schedule();  // SC_METHOD at decision points
  void set_hits(pc_state& p, int bank, int hits);
  void update_pre_wanted(pc_state& p, int bank);
  void precharge(pc_state& p, int bank, int64_t t);
  plan plan_burst(const pc_state& p, const burst& b, bool read, int64_t t) const;
  // Issues burst `index` with its plan from plan_burst(.., t).
  void commit(pc_state& p, size_t index, plan pl, int64_t t);
  void refresh(int64_t due);
  void finish_request(int r, bool queued);
  void send_responses();  // SC_METHOD at response times
  void drain_responses();
  void response_done(int r);

  int64_t now_cycle() const;
  sc_core::sc_time at_cycle(int64_t c) const;
  double cycles_ns(int64_t c) const { return static_cast<double>(c) * m_cfg.timing.tck_ns; }

  const hbm_config m_cfg;
  const hbm_timing& m_t;
  const bool m_functional, m_lt, m_fr_fcfs;
  const uint64_t m_capacity;
  const int m_burst_bytes;
  hbm_address_mapper m_mapper;
  backing_store m_store;
  trace_writer* m_trace;
  uint32_t m_track = 0, m_ev_read = 0, m_ev_write = 0, m_ev_refresh = 0;
  uint64_t m_tck_res = 1;  // tCK in units of the SystemC time resolution

  tlm_utils::peq_with_cb_and_phase<hbm_channel> m_fw_peq;
  std::vector<pc_state> m_pcs;
  std::vector<request> m_reqs;
  std::vector<int> m_free_reqs;
  int m_queued = 0;                               // requests with bursts still unscheduled
  tlm::tlm_generic_payload* m_blocked = nullptr;  // BEGIN_REQ waiting for a queue slot
  sc_core::sc_event m_wake, m_slot_freed, m_resp_event;
  int m_slot_waiters = 0;             // b_transport callers waiting for m_slot_freed
  uint64_t m_scan = 0;                // number of the current scheduler scan
  std::vector<uint64_t> m_miss_seen;  // per (bank group, read): scan that planned such a miss
  std::priority_queue<response, std::vector<response>, std::greater<response>> m_responses;
  std::deque<int> m_resp_ready;  // due, waiting for the response channel
  bool m_resp_busy = false;      // BEGIN_RESP sent, END_RESP not yet received
  int m_resp_inflight = -1;
  uint64_t m_seq = 0;
  int64_t m_next_refresh = 0;

  // LT mode.
  double m_lt_latency_ns = 0, m_lt_ns_per_byte = 0;
  sc_core::sc_time m_lt_next_free;

  // Statistics.
  uint64_t m_reads = 0, m_writes = 0, m_bytes = 0, m_errors = 0;
  uint64_t m_hits = 0, m_misses = 0, m_conflicts = 0, m_refreshes = 0;
  double m_first_arrival_ns = -1, m_last_done_ns = 0;
  sample_stats m_read_latency;
};

}  // namespace npuvp
