// Fluid model of concurrent transfers over shared resources (NoC links and
// ports, HBM channels, SRAMs): each active flow moves its remaining bytes at a
// rate given by weighted max-min fairness (progressive filling; Bertsekas &
// Gallager, "Data Networks", 1992, sec. 6.5.2), recomputed whenever a flow
// starts or ends. A DMA keeps a window of bursts in flight, and window-limited
// flows sharing a queue get throughput in proportion to window / round trip
// (Little's law): a flow's weight is window / (its loaded round trip + the
// queueing delay of a saturated resource, set_share_queue_ns), its cap window /
// loaded round trip. With a long queue the shares of a saturated HBM channel are
// nearly equal, and identical cores that start together stay in lockstep on it
// for a while; the nearer core still gains a little per tile, gets ahead, moves
// on to the next channel alone and the cores spread, as on the TLM chip
// (docs/perfmodel.md, "Sharing"). A flow uses resource r at `coef` units of r's
// capacity per byte moved (a DMA spread over 8 HBM channels uses each at 1/8 of
// its rate), and has its own rate cap (the DMA engine's issue limit).
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace npuvp::perf {

// What limits a piece of work; `latency` is the fixed part of a transfer
// (setup and round trip), `sync` time spent blocked on semaphores/recv/barriers.
enum class bound : uint8_t { compute, hbm, noc, sram, dma_issue, latency, sync };
constexpr int bound_count = 7;
const char* bound_name(bound b);
using bound_times = std::array<double, bound_count>;

struct usage {
  int resource = 0;
  double coef = 1.0;   // capacity units per byte of the flow
  double share = 1.0;  // fraction of the flow's bytes crossing the resource (for byte counts)
  // Below 1: the row locality of a lone stream of this flow on the resource (an
  // HBM channel), already in `coef`; flows of the same row group on it share
  // their DRAM rows (flow_network::set_row_sharing).
  double locality = 1.0;
};

class flow_network {
 public:
  // capacity in bytes/ns; `penalty`: with n streams (flows with distinct
  // stream keys) on it the capacity is divided by 1 + penalty * (n - 1);
  // `flow_penalty`: with f flows crossing it (whatever their keys), by
  // 1 + flow_penalty * (f - 1) as well (both terms add); `link`: a link
  // between routers (set_series_loss).
  int add_resource(double capacity, bound kind, double penalty = 0.0, double flow_penalty = 0.0, bool link = false);
  // Queueing on resource r: every stream on it beyond the first adds
  // `ns_per_stream` to the round trip of the flows crossing it (weighted by
  // their share of bytes through it), which lowers window-limited caps.
  // Set before any path is added (a path notes its queueing resources).
  void set_stream_latency(int r, double ns_per_stream);
  // Queueing delay added to every window-limited flow's round trip for its
  // weight, not its cap (0: weights equal the caps). Set before any flow starts.
  void set_share_queue_ns(double ns) { m_share_queue_ns = ns; }
  // Links in series: a NoC-bound flow whose data crosses k >= 2 saturated
  // links (resources added with `link`), each loaded by a different set of
  // flows, moves at 1 / (1 + loss * (1 - 1/k)) of its filled rate; the
  // capacity it leaves is lost, not given to other flows. On the TLM chip's
  // 1-flit links such a send loses 10 % with 2 and 13 % with 3 links where
  // each link alone costs only its fluid share (docs/perfmodel.md, "Links in series").
  void set_series_loss(double loss) { m_series_loss = loss; }
  // Rows shared: n flows of the same row group (start's `row_group`, not 0)
  // on a resource where their usage has a lone-stream locality l < 1 read the
  // same DRAM rows, so an activation serves n of them: each has the locality
  // l_n = n l / (n l + 1 - l) (l at n = 1, towards 1 with many). A usage's
  // coef is that of a lone stream, divided by l^exponent (exponent
  // 1 - hbm_row_overlap): it becomes coef x (l / l_n)^exponent =
  // coef x (l + (1 - l) / n)^exponent while n flows of its group are on the
  // resource. Set before any flow starts.
  void set_row_sharing(double exponent) { m_row_exponent = exponent; }
  // HBM refresh: every `interval_ns` every channel is blocked for `blocked_ns`
  // (all-bank refresh, all channels in step). A flow crossing a channel
  // (resource of kind hbm) that no channel bounds stalls with it; the data
  // its window holds keeps its bottleneck busy for window / rate of the
  // stall, so it keeps 1 - max(0, blocked - window / rate) / interval of its
  // filled rate, and a second filling gives what it leaves to the flows
  // sharing its bottleneck. Flows bound by a channel pay refresh in its
  // efficiencies. interval 0: off.
  void set_refresh(double interval_ns, double blocked_ns) {
    m_refresh_interval = interval_ns;
    m_refresh_blocked = blocked_ns;
  }

  // Registers the resources a flow crosses (each once) for the flows that
  // start on it; returns its id. Paths stay for the network's life: a
  // transfer planned once starts its flows without copying its path.
  // `owner` (>= 0): the flows of one owner never run at once (a core's DMA
  // engine moves one transfer at a time), and none of them has a rate cap
  // above `max_rate` (seal()).
  int add_path(std::vector<usage> path, int owner = -1, double max_rate = std::numeric_limits<double>::infinity());
  // With every path added: a resource that the owners' flows could not make
  // tight together, each at the largest max_rate of its paths through it and
  // with every penalty at its worst, never takes part in a filling, so the
  // flows leave it out (its bytes are still counted). Rates and limits stay
  // bit-identical: such a resource's sums never changed anything but its own
  // state. Resources crossed by a path without owner and queueing resources
  // (set_stream_latency) stay. No path may be added afterwards, and a flow
  // breaking its path's promise (a second flow of an owner, a cap above
  // max_rate) is an error.
  void seal();
  // Starts a flow on path `path` at `now` (after advancing every flow to
  // `now`); returns its id. Flows with the same `stream` key (e.g. reads of
  // the same HBM range) count as one stream for the penalty of the resources
  // they share.
  // A window-limited flow (window > 0 bytes in flight, zero-load round trip
  // rtt0 ns) runs at most at min(cap, window / (rtt0 + queueing on its path)),
  // re-evaluated with its rate (Little's law); with window 0 the cap is fixed.
  int start(int path, double bytes, double cap, double now, uint64_t stream = 0, double window = 0, double rtt0 = 0,
            uint64_t row_group = 0);
  // Room for n flows in all (no reallocation while they start).
  void reserve_flows(std::size_t n) { m_flows.reserve(n); }
  // No flow is active.
  bool idle() const { return m_active.empty(); }
  // Bytes that crossed each resource (resource_bytes), and adding to them
  // (a segment accounted as a repeat of one measured before).
  const std::vector<double>& bytes() const { return m_bytes; }
  void add_bytes(const std::vector<double>& bytes, double times);
  // Time at which the next active flow drains; infinity when none.
  double next_finish() const;
  // Advances every flow to `now` and removes the drained ones, returning their
  // ids (valid until the next call).
  const std::vector<int>& finish_drained(double now);

  // Per flow, after it drained: time spent at each bottleneck.
  const bound_times& flow_bound_times(int id) const { return m_flows[id].times; }
  // Bytes that crossed resource r (by share), counted as their flows drain.
  double resource_bytes(int r) const { return m_bytes[r]; }
  int resources() const { return static_cast<int>(m_res.size()); }
  // How many of path p's resources its flows take part in (seal()).
  std::size_t resources_in_play(int p) const { return m_paths[size_t(p)].live; }

 private:
  // What recompute() needs of the active flows is kept up to date as flows
  // start and end (users, streams, per-resource flow lists), and the sums are
  // redone only for the resources whose flows or caps changed, in the same
  // order as a full recomputation adds them: the rates are bit-identical to
  // recomputing everything at every event, at a fraction of the cost. A
  // resource that its flows could not make tight even at their issue caps
  // skips even that sum (only its tightness is needed), whatever happens to
  // their caps. Such a resource without stream penalty, queueing or shared
  // rows (`lazy`, after seal(): most NoC links) keeps only a count of its
  // flows and their load at the issue caps; when it stops being clearly
  // slack it lists its users, from the active flows, and keeps the list up
  // to date until it has none.
  struct user {
    int flow;
    int pos;  // index in the flow's path
    double coef;
  };
  struct resource {
    double capacity = 0;
    bound kind = bound::noc;
    double penalty = 0, flow_penalty = 0, stream_latency = 0;
    bool link = false;  // a link between routers (apply_series_loss)
    bool lazy = false;  // lists its users only from the time it stops being clearly slack until it has none
    bool listing = true;      // `users` kept
    int flows = 0;            // active flows crossing it
    std::vector<user> users;  // active flows crossing it, by id (the order their loads are added in)
    std::vector<std::pair<uint64_t, int>> streams;  // distinct stream keys and their flows (penalised resources only)
    std::vector<std::pair<uint64_t, int>> groups;   // row groups and their flows (usages with locality < 1)
    double free_capacity = 0;                       // capacity after the penalties of its streams and flows
    double wload = 0;                               // sum of coef x weight over `users` (exact, id order)
    double upper_load = 0;                          // coef x issue cap over its flows, a running sum (rounded)
    int unsafe_at = -1;                             // index in m_unsafe; -1: slack whatever the caps
    bool stale = false;                             // load to be redone
    bool tight = false;                             // may saturate or bound a step (recompute())
    bool listed = false;                            // in m_tight
    // scratch of recompute(): capacity left, load of the unfrozen flows, unfrozen flows
    double rem = 0, level_load = 0;
    int unfrozen = 0;
  };
  struct path_info {
    std::vector<usage> uses;  // by resource id; after seal() those that may be tight first
    size_t live = 0;          // how many of `uses` the flows take part in (all until seal())
    // The resources with a stream latency, each with share x stream latency
    // (the queueing a stream beyond the first adds to the round trip).
    std::vector<std::pair<int, double>> queueing;
    int owner = -1;
    double max_rate = 0;
    bool hbm = false;     // crosses an HBM channel
    bool sorted = false;  // its first `live` usages in resource-id order (seal())
  };
  // A path's first n usages.
  struct uses_view {
    const usage* first;
    size_t n;
    const usage* begin() const { return first; }
    const usage* end() const { return first + n; }
    size_t size() const { return n; }
    const usage& operator[](size_t k) const { return first[k]; }
  };
  struct flow {
    int path = -1;  // in m_paths
    double remaining = 0, total = 0, cap = 0, rate = 0;
    double issue_cap = 0, window = 0, rtt0 = 0;  // cap = min(issue_cap, window / loaded round trip)
    double weight = 0;                           // min(issue_cap, window / (loaded round trip + share queue))
    double cap_level = 1;                        // cap / weight: the filling level at which it reaches its cap
    uint64_t stream = 0, row_group = 0;
    bound limit = bound::dma_issue;
    bound_times times{};
    bool active = false, frozen = false, marked = false;
    bool refresh_capped = false;             // cap lowered by a refresh stall (stall_refreshed())
    bound refresh_limit = bound::dma_issue;  // what bounded it before
    int first_saturated = 0;  // scratch of recompute(): index in path of the first saturated resource
  };
  // Index of resource ri among the usages flow f takes part in; -1: none.
  int position(const flow& f, int ri) const;
  void advance(double now);
  void attach(int id);
  void detach(int id);
  void mark_stale(int r);
  void changed(int r);
  void set_unsafe(int r, bool unsafe);  // joins or leaves m_unsafe (a lazy resource joining lists its users)
  // The capacity a resource keeps is its capacity / this (penalties of its streams and flows).
  static double penalty_divisor(const resource& r) {
    const double streams = r.streams.empty() ? 1.0 : double(r.streams.size());
    return 1.0 + r.penalty * (streams - 1) + r.flow_penalty * (double(r.flows) - 1);
  }
  void apply_series_loss();
  void fill();
  bool stall_refreshed();
  // p.queueing from the first p.live usages.
  void note_queueing(path_info& p) const;
  // Rows shared (set_row_sharing): the usage's coef with n flows of its group
  // on the resource, the coef of a lone stream times row_factor(locality, n).
  double row_factor(double locality, int n) const { return std::pow(locality + (1 - locality) / n, m_row_exponent); }
  double shared_coef(const usage& u, int n) const { return n <= 1 ? u.coef : u.coef * row_factor(u.locality, n); }
  bool grouped(const flow& f, const usage& u) const { return f.row_group != 0 && u.locality < 1; }
  int group_count(const resource& r, uint64_t group) const;
  // The flows of `group` on resource ri, now n of them, take their coef for n.
  void regroup(int ri, uint64_t group, int n);
  void recompute();
  // The usages a flow takes part in.
  uses_view uses_of(const flow& f) const {
    const path_info& p = m_paths[size_t(f.path)];
    return {p.uses.data(), p.live};
  }

  std::vector<resource> m_res;
  std::vector<double> m_bytes;  // per resource: bytes that crossed it
  std::vector<path_info> m_paths;
  std::vector<int> m_unsafe;  // the resources not slack whatever their flows' caps (changed())
  std::vector<flow> m_flows;
  bool m_sealed = false;
  std::vector<int> m_owner_flow;  // after seal(): by owner, its active flow (-1: none)
  std::vector<int> m_active;                      // by id: flows start in id order and leave it in place
  std::vector<int> m_stale;                       // resources whose loads are to be summed
  std::vector<int> m_tight;                       // the tight resources, and some that were (any order)
  std::vector<int> m_work, m_freezing, m_capped;  // scratch of recompute()
  std::vector<int> m_done;                        // returned by finish_drained()
  double m_now = 0, m_share_queue_ns = 0, m_series_loss = 0, m_row_exponent = 1;
  double m_refresh_interval = 0, m_refresh_blocked = 0;
  std::vector<int> m_series;  // scratch of apply_series_loss()
  std::vector<std::pair<int, double>> m_stalled;  // scratch of stall_refreshed(): flow, rate through the refreshes
};

}  // namespace npuvp::perf
