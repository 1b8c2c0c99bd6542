// Synthetic traffic for one HBM channel (used by `npuvp bench hbm`): an AT
// 4-phase initiator issuing seq / random / stride requests, either open loop at
// an offered load (Poisson arrivals, seeded) or closed loop with K requests
// outstanding. Read latency is measured from the time a request was generated,
// so source queueing beyond saturation shows up in it.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>

#include <cstdint>
#include <deque>
#include <queue>
#include <random>
#include <string>
#include <systemc>
#include <tlm>
#include <unordered_map>
#include <vector>

#include "models/common/payload_pool.h"
#include "platform/base/stats.h"

namespace npuvp {

struct hbm_traffic_config {
  std::string pattern = "seq";  // seq | random | stride
  double read_ratio = 1.0;      // fraction of reads
  uint64_t request_bytes = 64;
  double load = 0;       // > 0: open loop at this fraction of peak_gbps
  int outstanding = 32;  // closed loop (load == 0)
  uint64_t requests = 200000;
  uint64_t seed = 1;
  uint64_t stride = 4096;  // B between requests for pattern stride
  uint64_t capacity = 0;   // channel-local address range
  double peak_gbps = 0;    // channel peak, for the offered load
};

class hbm_traffic_gen : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<hbm_traffic_gen> mem_out;

  hbm_traffic_gen(sc_core::sc_module_name name, const hbm_traffic_config& cfg);

  uint64_t completed() const { return m_completed; }
  uint64_t bytes() const { return m_bytes; }
  double first_issue_ns() const { return m_first_issue_ns; }
  double last_done_ns() const { return m_last_done_ns; }
  const sample_stats& read_latency() const { return m_read_latency; }

 private:
  struct in_flight {
    double generated_ns = 0;
    bool read = false;
    bool active = false;
  };
  struct lt_done {  // completion annotated by a target that returned TLM_COMPLETED
    uint64_t at;    // time value
    tlm::tlm_generic_payload* trans;
    bool operator>(const lt_done& o) const { return at > o.at; }
  };

  void issue();  // SC_METHOD
  uint64_t next_address();
  void complete(tlm::tlm_generic_payload& trans, double now_ns);
  tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase, sc_core::sc_time& delay);

  const hbm_traffic_config m_cfg;
  const bool m_random, m_stride;
  std::mt19937_64 m_rng;
  std::exponential_distribution<double> m_gap_ns;
  std::bernoulli_distribution m_is_read;
  payload_pool m_pool;
  std::vector<unsigned char> m_buffer;
  sc_core::sc_event m_issue_event;
  std::deque<double> m_backlog;  // generation times not yet issued (open loop)
  // In-flight state by slot; a pooled payload keeps its slot for the whole run,
  // so nothing is allocated per request.
  std::unordered_map<const tlm::tlm_generic_payload*, size_t> m_slot;
  std::vector<in_flight> m_in_flight;
  std::priority_queue<lt_done, std::vector<lt_done>, std::greater<lt_done>> m_lt_done;
  tlm::tlm_generic_payload* m_req_busy = nullptr;  // BEGIN_REQ sent, END_REQ not yet seen
  uint64_t m_generated = 0, m_issued = 0, m_completed = 0, m_bytes = 0, m_index = 0;
  const double m_ns_per_unit;
  uint64_t m_next_gen = 0;  // time value of the next arrival (open loop)
  double m_first_issue_ns = -1, m_last_done_ns = 0;
  sample_stats m_read_latency;
};

}  // namespace npuvp
