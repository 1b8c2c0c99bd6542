// Synthetic traffic for the mesh (Dally & Towles 2004, sec. 3.2 and 23.1):
// every core port injects packets by a Bernoulli process, seeded, into an
// unbounded source queue, so the offered load is what was asked for even past
// saturation. Packets created in the measurement window are measured; the run
// ends when all of them are delivered (sources keep injecting meanwhile, so
// the measured packets see the same load), or after `max_drain_cycles`.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "models/noc/noc_mesh.h"
#include "platform/base/stats.h"

namespace npuvp {

struct noc_synthetic_config {
  std::string pattern = "uniform";  // uniform | transpose | bitcomp | hotspot | neighbor
  double rate = 0.1;                // flits per node per cycle
  int packet_flits = 4;
  uint64_t warmup_cycles = 1000;
  uint64_t measure_cycles = 3000;
  uint64_t max_drain_cycles = 100000;
  uint64_t seed = 1;
  bool stop_when_done = true;  // sc_stop() at the end instead of letting the network drain
};

// The patterns by name, for --help and validation.
const std::vector<std::string>& noc_patterns();

class noc_synthetic_traffic : public noc_traffic, public noc_sink {
 public:
  // Attaches itself to every core port of `mesh` and drives it.
  noc_synthetic_traffic(noc_mesh& mesh, const noc_synthetic_config& cfg);

  bool generate(uint64_t cycle) override;
  void packet_delivered(const noc_packet& p, uint64_t cycle) override;

  // Destination core of a packet from (x, y) (random for uniform and hotspot).
  int destination(int x, int y);

  // Results over the measurement window.
  double offered_rate() const;    // flits created / (nodes x measure cycles)
  double accepted_rate() const;   // flits delivered in the window / (nodes x measure cycles)
  const sample_stats& latency() const { return m_latency; }  // measured packets, cycles
  bool drained() const { return m_measured_left == 0; }
  uint64_t packets_created() const { return m_delivered.size(); }
  // Conservation: packets delivered twice, or with a flit count that differs
  // from the packet's, and packets never delivered.
  uint64_t duplicates() const { return m_duplicates; }
  uint64_t undelivered() const;

 private:
  void schedule_next(size_t node, uint64_t after);

  noc_mesh& m_mesh;
  noc_synthetic_config m_cfg;
  int m_pattern;
  std::mt19937_64 m_rng;
  std::geometric_distribution<uint64_t> m_gap;
  double m_p;
  // Next injection (cycle, node) of every node on a calendar: slot = cycle
  // modulo its size (a later cycle waits in its slot until due). The nodes due
  // in a cycle are served in ascending order, so the random draws follow node
  // order.
  using injection = std::pair<uint64_t, uint32_t>;
  static constexpr size_t calendar_slots = 1024;  // a power of two
  std::vector<std::vector<injection>> m_calendar;
  std::vector<uint32_t> m_due;  // nodes due this cycle (scratch)
  size_t m_nodes;
  bool m_injecting = true;
  std::vector<uint8_t> m_delivered;  // per packet: times delivered
  uint64_t m_measured_left = 0, m_window_created_flits = 0, m_window_accepted_flits = 0, m_duplicates = 0;
  sample_stats m_latency;
};

}  // namespace npuvp
