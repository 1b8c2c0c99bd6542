#include "perfmodel/perfmodel.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <queue>
#include <set>
#include <sstream>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "models/npu_core/core_timing.h"
#include "perfmodel/hbm_rows.h"
#include "platform/base/error.h"
#include "platform/memory_map.h"

namespace npuvp::perf {

using namespace kernels;

bound breakdown_row::bounded_by() const {
  auto largest = [](const bound_times& t) { return std::max_element(t.begin(), t.end()) - t.begin(); };
  if (*std::max_element(critical_ns.begin(), critical_ns.end()) > 0) return static_cast<bound>(largest(critical_ns));
  if (*std::max_element(bound_ns.begin(), bound_ns.end()) > 0) return static_cast<bound>(largest(bound_ns));
  return bound::sync;
}

double mean_bursts_per_row(uint64_t burst_bytes, uint64_t src, uint64_t dst, uint64_t run, uint64_t rows,
                           uint64_t src_stride, uint64_t dst_stride) {
  const uint64_t B = burst_bytes;
  auto cuts = [&](uint64_t a) { return (a % B + run - 1) / B; };
  const uint64_t period = B / std::gcd(B, std::gcd(src_stride % B, dst_stride % B));
  const uint64_t n = std::min(rows, period), full = rows / n, rest = rows % n;
  double bursts = 0;
  for (uint64_t r = 0; r < n; ++r) {
    const uint64_t s = src + r * src_stride, d = dst + r * dst_stride;
    bursts += double(1 + cuts(s) + (s % B == d % B ? 0 : cuts(d))) * double(full + (r < rest ? 1 : 0));
  }
  return bursts / double(rows);
}

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr int engines = 3;  // dma, matrix, vector: the queued engines (sync runs in the dispatcher)

// Command kinds of the breakdown: fixed ids so the per-command work is a table lookup.
enum kind_id : int {
  k_dma_load,
  k_dma_store,
  k_dma_copy,
  k_dma_hbm_copy,
  k_matmul,
  k_send,
  k_recv,
  k_wait,
  k_signal,
  k_barrier,
  k_end,
  k_vector0
};
// One row per possible vector_op value (its underlying type), so that an
// operation added to kernels/command.h can never index past the table (a
// stale "last op" bound here wrote out of bounds: the heap corruption of
// bench roofline --perfmodel); rows without commands are not reported.
constexpr int kind_count = k_vector0 + (1 << (8 * sizeof(vector_op)));
std::string kind_name(int k) {
  static const char* names[] = {"dma load", "dma store", "dma copy", "dma hbm copy", "matmul", "send",
                                "recv",     "wait",      "signal",   "barrier",      "end"};
  if (k < k_vector0) return names[k];
  return std::string("vector ") + vector_op_name(static_cast<vector_op>(k - k_vector0));
}
int kind_of_command(const command& c) {
  if (auto* d = std::get_if<dma_cmd>(&c)) {
    if (d->src_space == mem_space::hbm) return d->dst_space == mem_space::hbm ? k_dma_hbm_copy : k_dma_load;
    return d->dst_space == mem_space::hbm ? k_dma_store : k_dma_copy;
  }
  if (std::holds_alternative<matmul_cmd>(c)) return k_matmul;
  if (auto* v = std::get_if<vector_cmd>(&c)) return k_vector0 + static_cast<int>(v->op);
  if (std::holds_alternative<send_cmd>(c)) return k_send;
  if (std::holds_alternative<recv_cmd>(c)) return k_recv;
  if (std::holds_alternative<wait_cmd>(c)) return k_wait;
  if (std::holds_alternative<signal_cmd>(c)) return k_signal;
  if (std::holds_alternative<barrier_cmd>(c)) return k_barrier;
  return k_end;
}

// Group of every command of one program (perfmodel.h, by_group): compute
// commands form runs of one kind; commands that feed compute (loads, copies,
// recv, wait) join the next run, the others (stores, sends, signals,
// barriers, end) the previous one.
std::vector<int> group_of_commands(const program& p, std::vector<int>& group_kind) {
  const size_t n = p.size();
  std::vector<int> g(n, -1);
  int current = -1, last_kind = -1;
  for (size_t i = 0; i < n; ++i) {
    const int k = kind_of_command(p[i]);
    if (k != k_matmul && k < k_vector0) continue;
    if (k != last_kind) {
      ++current;
      last_kind = k;
      if (static_cast<int>(group_kind.size()) <= current) group_kind.push_back(k);
    }
    g[i] = current;
  }
  const int groups = current + 1;
  int next = groups > 0 ? groups - 1 : 0;
  for (size_t j = n; j-- > 0;) {
    if (g[j] >= 0) {
      next = g[j];
      continue;
    }
    const int k = kind_of_command(p[j]);
    const bool feeds = k == k_dma_load || k == k_dma_copy || k == k_dma_hbm_copy || k == k_recv || k == k_wait;
    if (feeds) g[j] = next;
  }
  int prev = 0;
  for (size_t i = 0; i < n; ++i) {
    if (g[i] >= 0) {
      prev = g[i];
      continue;
    }
    g[i] = prev;
  }
  return g;
}

// Resources of one transfer being planned, each once (usage summed):
// slot[r] is r's index in `uses`, -1 when absent, and bit r of `present` is
// set when present. Reused for every transfer.
struct path_builder {
  std::vector<usage> uses;
  std::vector<int> slot;
  std::vector<uint64_t> present;
  void resize(size_t resources) {
    slot.assign(resources, -1);
    present.assign((resources + 63) / 64, 0);
  }
  // The usages by resource id (as the flow network's sums add them), in
  // the order of the set bits (no sort); empties the builder.
  std::vector<usage> take_sorted() {
    std::vector<usage> sorted;
    sorted.reserve(uses.size());
    for (size_t w = 0; w < present.size(); ++w) {
      for (uint64_t bits = present[w]; bits != 0; bits &= bits - 1) {
        const size_t r = w * 64 + size_t(__builtin_ctzll(bits));  // the lowest set bit (C++17 has no <bit>)
        sorted.push_back(uses[size_t(slot[r])]);
        slot[r] = -1;
      }
      present[w] = 0;
    }
    uses.clear();
    return sorted;
  }
};

// FNV-1a over 64-bit words.
uint64_t fnv1a(std::initializer_list<uint64_t> words) {
  uint64_t h = 1469598103934665603ull;
  for (uint64_t v : words) h = (h ^ v) * 1099511628211ull;
  return h;
}

// What a transfer's resources depend on (route_of) and what they are.
struct route_key {
  int rc, sc, dc, ss, ds;
  uint64_t src, dst, run, rows, src_stride, dst_stride;
  bool operator==(const route_key& o) const {
    return std::tie(rc, sc, dc, ss, ds, src, dst, run, rows, src_stride, dst_stride) ==
           std::tie(o.rc, o.sc, o.dc, o.ss, o.ds, o.src, o.dst, o.run, o.rows, o.src_stride, o.dst_stride);
  }
};
struct route_key_hash {
  size_t operator()(const route_key& k) const {
    return size_t(fnv1a({uint64_t(k.rc), uint64_t(k.sc), uint64_t(k.dc), uint64_t(k.ss), uint64_t(k.ds), k.src, k.dst,
                         k.run, k.rows, k.src_stride, k.dst_stride}));
  }
};
struct route {
  int path = -1;  // in the flow network
  double read_rtt = 0, write_rtt = 0;  // round trip of one burst to each side (ns)
  double hbm_read = 0, hbm_write = 0;
  double row_cap = 0;  // transfer_plan::row_cap
};

struct transfer_plan {
  int path = -1;  // in the flow network
  double bytes = 0, cap = 0, tail_ns = 0;
  double window = 0;  // bytes in flight at most (max_outstanding bursts); the round trip is tail_ns unloaded
  double hbm_read = 0, hbm_write = 0;
  uint64_t stream = 0;     // HBM stream identity: transfers of the same HBM range share rows
  uint64_t row_group = 0;  // HBM row group (model::row_group): its strided reads share DRAM rows
  // Rate (bytes/ns) at which the HBM rows it reads or writes one block per
  // row let one stream go, over the channel's share of its bytes: the rate
  // of consecutive blocks (hbm_stride_base_fraction x peak, measured) x its
  // row locality (relative to them; the class efficiency is the channel's,
  // not the lone stream's); infinity: no limit (other patterns).
  double row_cap = std::numeric_limits<double>::infinity();
};

class model {
 public:
  model(const hw_config& hw, const std::vector<program>& programs, const perf_params& p,
        const evaluate_options& options)
      : m_hw(hw),
        m_programs(programs),
        m_p(p),
        m_repeat(options.repeat_segments),
        m_w(hw.mesh.width),
        m_h(hw.mesh.height),
        m_cores(hw.mesh.width * hw.mesh.height),
        m_channels(hw.hbm.channels),
        m_xy(hw.noc.routing == "xy"),
        m_rows(hw.hbm) {
    if (programs.size() > static_cast<size_t>(m_cores))
      throw error("perfmodel: " + std::to_string(programs.size()) + " programs for " + std::to_string(m_cores) +
                  " cores");
    for (size_t c = 0; c < programs.size(); ++c) {
      if (programs[c].size() > UINT32_MAX)  // command indices are kept in 32 bits
        throw error("perfmodel: core " + std::to_string(c) + " runs more than 2^32 commands");
      for (size_t i = 0; i < programs[c].size(); ++i) try {
          check_command(programs[c][i], std::string());
        } catch (const error&) {  // the location string only for the message (building it costs ~30 %)
          check_command(programs[c][i], "core " + std::to_string(c) + " command " + std::to_string(i));
        }
    }
    const auto routers = hbm_channel_routers(hw);
    for (const auto& r : routers) m_channel_router.push_back(r[1] * m_w + r[0]);
    build_resources();
  }

  perf_result run();

 private:
  enum class ev : uint8_t { compute_done, setup_done, transfer_done, network, sem_add, arrival, barrier_open };
  struct event {
    double t;
    uint64_t seq;
    ev kind;
    int core, engine;
    int64_t a, b, c;
    bool operator>(const event& o) const { return t != o.t ? t > o.t : seq > o.seq; }
  };
  struct queued {  // 16 bytes: every engine command passes through a queue
    double since;
    uint32_t index;
    int dispatch_rec;  // the sync command that let it be dispatched (-1: none)
  };
  // What let a command start: the latest of its dependencies, as the time it
  // was satisfied and the executed command that satisfied it (critical path).
  struct dep {
    double t = -1;
    int rec = -1;
  };
  static dep latest(std::initializer_list<dep> deps) {
    dep best;
    for (const dep& d : deps)
      if (d.rec >= 0 && d.t > best.t) best = d;
    return best;
  }
  dep done_dep(int rec) const { return rec < 0 ? dep{} : dep{m_recs[rec].end, rec}; }
  // An executed command (critical path). Its busy time by limit (busy_of) is
  // kept aside only when it is not all zero or all compute (a transfer's): the
  // records stay small, one per command.
  struct exec_rec {
    double start, end;
    uint32_t index;
    int core, pred;
    int busy;  // -1: none; -2: compute, end - start; else its entry in m_rec_busy
  };
  // A record's nonzero busy times, by limit: none, the whole command as
  // compute (most records), or the entries kept aside; returns how many.
  int busy_entries(const exec_rec& x, int (&limits)[bound_count], double (&times)[bound_count]) const {
    if (x.busy == -2) {
      limits[0] = static_cast<int>(bound::compute);
      times[0] = x.end - x.start;
      return 1;
    }
    if (x.busy < 0) return 0;
    const bound_times& kept = m_rec_busy[size_t(x.busy)];
    int n = 0;
    for (int b = 0; b < bound_count; ++b)
      if (kept[b] != 0) limits[n] = b, times[n++] = kept[b];
    return n;
  }
  bound_times busy_of(const exec_rec& x) const {
    bound_times b{};
    int limits[bound_count];
    double times[bound_count];
    for (int k = 0, n = busy_entries(x, limits, times); k < n; ++k) b[limits[k]] = times[k];
    return b;
  }
  struct arrival {
    uint32_t bytes;
    dep from;
  };
  // Sends from one core to another with one tag: arrived (notice received) and in flight.
  struct mailbox {
    uint32_t tag;
    std::deque<arrival> arrived;
    std::deque<uint32_t> pending;  // bytes of the sends whose notice is in flight
  };
  struct semaphore {
    int64_t value = 0;
    dep src;  // its latest increment
  };
  struct running_cmd {
    bool used = false;
    int engine = 0;
    size_t index = 0;
    double ready = 0, start = 0;
    int rec = -1;
    transfer_plan plan;
    int flow = -1;
    bound_times flow_times{};
  };
  struct core_state {
    size_t pc = 0;
    std::deque<queued> q[engines];
    int in_flight[engines] = {};  // commands started, not completed
    bool issuing = false;         // a transfer of the DMA engine is in setup or flowing
    dep issue_free;               // when and by which transfer the DMA issue stage was freed
    double dma_done_at = 0;       // completion of the latest transfer
    double dma_retired_at = 0;    // retirement of the latest transfer (per-op engine time)
    std::vector<running_cmd> slots;
    double idle_since[engines] = {};
    double busy_since[engines] = {};
    double busy_ns[engines] = {};
    std::vector<semaphore> sems;  // by id, grown on first use
    std::map<uint16_t, uint64_t> barrier_gen;
    bool at_barrier = false, ended = false;
    int last_rec[engines] = {-1, -1, -1};  // last command executed by each engine
    int last_sync = -1;                    // last sync command executed by the dispatcher
    size_t end_index = SIZE_MAX;           // the end command, once dispatched
    bool finished = false;
    double sync_since = -1;  // the sync command at pc became the head of dispatch
    double end_ns = 0;
    struct {  // the matrix unit's latest timed matmul (core_timing::matmul_follow_cycles)
      double end = -1;
      uint64_t m = 0, drain_cycles = 0;
    } last_matmul;
    uint64_t pokes = 0;  // poke() calls: its state changes only in one (repeated segments)
    bool done() const {
      for (int e = 0; e < engines; ++e)
        if (in_flight[e] || !q[e].empty()) return false;
      return ended;
    }
  };

  // ---- resources
  int link(int from_node, int dir) const { return from_node * 4 + dir; }
  int core_inject(int c) const { return 4 * m_cores + c; }
  int core_eject(int c) const { return 5 * m_cores + c; }
  int channel_inject(int ch) const { return 6 * m_cores + ch; }
  int channel_eject(int ch) const { return 6 * m_cores + m_channels + ch; }
  int channel(int ch) const { return 6 * m_cores + 2 * m_channels + ch; }
  int sram(int c) const { return 6 * m_cores + 3 * m_channels + c; }

  void build_resources() {
    // A link moves link_flits_per_cycle flits of flit_bytes per NoC cycle; the payload is a fraction of it.
    const double link_bw = m_hw.noc.link_bytes_per_ns() * m_p.noc_payload_efficiency;
    // Links between routers (the first 4 x cores resources), then the cores'
    // and channels' ports. Wormhole links and ports may lose throughput as
    // packets of several flows interleave on them (Dally & Towles 2004 ch. 23):
    // noc_stream_penalty; links in series: noc_series_loss.
    for (int i = 0; i < 6 * m_cores + 2 * m_channels; ++i)
      m_net.add_resource(link_bw, bound::noc, 0.0, m_p.noc_stream_penalty, i < 4 * m_cores);
    m_net.set_series_loss(m_p.noc_series_loss);
    m_net.set_refresh(m_p.hbm_refresh_interval_ns, m_p.hbm_refresh_blocked_ns);
    m_net.set_row_sharing(1 - m_p.hbm_row_overlap);
    m_channel_peak = m_hw.hbm.peak_gbps();
    m_net.set_share_queue_ns(m_p.share_queue_ns);
    for (int i = 0; i < m_channels; ++i)
      m_net.set_stream_latency(m_net.add_resource(m_channel_peak, bound::hbm, m_p.hbm_stream_penalty),
                               m_p.hbm_stream_latency_ns);
    m_sram_bw = double(m_hw.core.sram.banks) * m_hw.core.sram.bank_bytes_per_cycle * m_hw.core.clock_ghz;
    for (int i = 0; i < m_cores; ++i) m_net.add_resource(m_sram_bw, bound::sram);
    m_link_bw = link_bw;
    m_path.resize(size_t(m_net.resources()));
  }

  // Bytes per HBM channel of `rows` runs of `run` bytes at addr + i * stride
  // (channel of global block b = b mod channels, docs/memory_path.md).
  void hbm_spread(uint64_t addr, uint64_t run, uint64_t rows, uint64_t stride, std::vector<double>& bytes) const {
    const hbm_interleave il{static_cast<uint64_t>(m_hw.hbm.interleave_bytes), static_cast<uint64_t>(m_channels)};
    const uint64_t I = il.bytes, C = il.channels;
    auto one = [&](uint64_t a, uint64_t len, double weight) {
      while (len > 0 && a % I != 0) {  // leading partial block
        const uint64_t piece = std::min(len, I - a % I);
        bytes[il.channel(a)] += piece * weight;
        a += piece;
        len -= piece;
      }
      const uint64_t blocks = len / I;
      const uint64_t rounds = blocks / C;
      if (rounds)
        for (uint64_t c = 0; c < C; ++c) bytes[c] += double(rounds * I) * weight;
      a += rounds * C * I;
      len -= rounds * C * I;
      while (len > 0) {
        const uint64_t piece = std::min(len, I);
        bytes[il.channel(a)] += piece * weight;
        a += piece;
        len -= piece;
      }
    };
    if (rows == 1 || stride == run) {
      one(addr, run * rows, 1.0);
    } else if (stride % (I * C) == 0) {  // every row sees the same channels
      one(addr, run, double(rows));
    } else {
      // Row r's channels depend on (addr + r x stride) mod (I x C): they repeat
      // every `period` rows, so one period is spread and weighted.
      const uint64_t period = channel_period(stride);
      const uint64_t full = rows / period, rest = rows % period;
      for (uint64_t r = 0; r < std::min(rows, period); ++r)
        one(addr + r * stride, run, double(full) + (r < rest ? 1.0 : 0.0));
    }
  }

  // Bytes after which HBM addresses map to the same channels again.
  uint64_t interleave_period() const { return uint64_t(m_hw.hbm.interleave_bytes) * uint64_t(m_channels); }
  // Rows of `stride` bytes return to the channels of the first one every this many rows.
  uint64_t channel_period(uint64_t stride) const {
    const uint64_t wrap = interleave_period();
    return wrap / std::gcd(stride % wrap, wrap);
  }
  // A descriptor's access-pattern class ("Access patterns" in docs/perfmodel.md).
  enum class pattern { sequential, strided, random };
  pattern pattern_of(uint64_t run, uint64_t rows, uint64_t stride) const {
    if (rows == 1 || stride == run) return pattern::sequential;
    return run < static_cast<uint64_t>(m_hw.hbm.interleave_bytes) ? pattern::random : pattern::strided;
  }
  // The pattern's class efficiency (calibrated). Rows shorter than an
  // interleave block pay a row activation each in hbm_efficiency_random.
  double hbm_efficiency(uint64_t run, uint64_t rows, uint64_t stride) const {
    switch (pattern_of(run, rows, stride)) {
      case pattern::sequential: return m_p.hbm_efficiency_sequential;
      case pattern::random: return m_p.hbm_efficiency_random;
      case pattern::strided: break;
    }
    return m_p.hbm_efficiency_strided;
  }
  // Row locality of a strided descriptor read as one stream (measured, else
  // walked: hbm_rows.h); 1 for the other classes. It limits the stream, not
  // the channel: a stream that waits for one bank's row cycles leaves the
  // other banks to the streams sharing the channel, so several such streams
  // fill it as the TLM channel shows (docs/perfmodel.md, "Row locality").
  double row_locality(uint64_t addr, uint64_t run, uint64_t rows, uint64_t stride) const {
    if (pattern_of(run, rows, stride) != pattern::strided) return 1.0;
    const double measured = measured_locality(addr, run, stride);
    return measured > 0 ? measured : m_rows.locality(addr, run, rows, stride);
  }
  // hbm_stride_locality at the channel-local stride of a descriptor whose
  // rows are one aligned interleave block each (interpolated linearly, the
  // end values beyond the table); 0 for other shapes or without a table. Row
  // r + p lands in the channel of row r, p x stride bytes further, which is
  // p x stride / channels bytes into the channel.
  double measured_locality(uint64_t addr, uint64_t run, uint64_t stride) const {
    const auto& table = m_p.hbm_stride_locality;
    const uint64_t I = static_cast<uint64_t>(m_hw.hbm.interleave_bytes), C = static_cast<uint64_t>(m_channels);
    if (table.empty() || run != I || addr % I != 0 || stride % I != 0) return 0;
    const double local = double(channel_period(stride) * stride / C);
    const auto above = std::find_if(table.begin(), table.end(),
                                    [&](const stride_locality& e) { return double(e.stride_bytes) >= local; });
    if (above == table.begin()) return above->locality;
    if (above == table.end()) return table.back().locality;
    const stride_locality& below = *(above - 1);
    const double f = (local - double(below.stride_bytes)) / double(above->stride_bytes - below.stride_bytes);
    return below.locality + f * (above->locality - below.locality);
  }

  // Identity of an HBM access stream: start address, shape and direction
  // (FNV-1a; 0 is left for transfers without HBM).
  static uint64_t hbm_stream(uint64_t addr, uint64_t run, uint64_t rows, uint64_t stride, bool reading) {
    return fnv1a({addr, run, rows, stride, uint64_t(reading)}) | 1;
  }
  // Row group of a strided HBM access: descriptors of the same shape (rows,
  // stride, direction) starting in the same row window (the bytes of one DRAM
  // row index in every bank of every channel: every mapping puts the row
  // above the other fields) move through the same DRAM rows together, e.g.
  // cores reading their columns of the same weight rows. 0: none (the other
  // patterns lose no locality).
  uint64_t row_group(uint64_t addr, uint64_t run, uint64_t rows, uint64_t stride, bool reading) const {
    if (pattern_of(run, rows, stride) != pattern::strided) return 0;
    return fnv1a({addr / m_hw.hbm.row_window_bytes(), rows, stride, uint64_t(reading)}) | 1;
  }
  // The HBM side's stream and row group, for every transfer (its planned route is shared).
  void hbm_identity(transfer_plan& plan, uint64_t addr, uint64_t run, uint64_t rows, uint64_t stride,
                    bool reading) const {
    plan.stream = hbm_stream(addr, run, rows, stride, reading);
    plan.row_group = row_group(addr, run, rows, stride, reading);
  }

  // One side of a transfer. `reading`: data flows from the location to the DMA's core.
  // Returns the round trip of one burst to it (ns).
  double endpoint(int rc, mem_space space, int core, uint64_t addr, uint64_t run, uint64_t rows, uint64_t stride,
                  bool reading, path_builder& path, transfer_plan& plan) {
    if (space == mem_space::sram) {
      add_usage(path, sram(core), 1.0, 1.0);
      if (core == rc && !m_p.local_sram_via_noc) return m_p.sram_access_ns;
      add_usage(path, reading ? core_inject(core) : core_inject(rc), 1.0, 1.0);
      add_usage(path, reading ? core_eject(rc) : core_eject(core), 1.0, 1.0);
      const int routers = reading ? route_into(core, rc, 1.0, path) : route_into(rc, core, 1.0, path);
      // The header-only packets the other way: read requests to `core`, write responses from it.
      const double k = control_coef();
      add_usage(path, reading ? core_inject(rc) : core_inject(core), k, 0.0);
      add_usage(path, reading ? core_eject(core) : core_eject(rc), k, 0.0);
      if (reading)
        route_into(rc, core, 0.0, path, k);
      else
        route_into(core, rc, 0.0, path, k);
      return 2 * routers * m_p.noc_hop_ns + m_p.sram_access_ns;
    }
    std::vector<double>& bytes = m_channel_bytes;  // scratch
    bytes.assign(size_t(m_channels), 0.0);
    hbm_spread(addr, run, rows, stride, bytes);
    const double total = double(run) * double(rows);
    const double eff = hbm_efficiency(run, rows, stride), locality = row_locality(addr, run, rows, stride);
    const double channel_div = eff * std::pow(locality, 1 - m_p.hbm_row_overlap);
    const bool strided = pattern_of(run, rows, stride) == pattern::strided;
    const double k = control_coef();
    int max_routers = 0;
    for (int ch = 0; ch < m_channels; ++ch) {
      if (bytes[ch] <= 0) continue;
      const double f = bytes[ch] / total;
      add_usage(path, channel(ch), f / channel_div, f, locality);
      if (strided)
        plan.row_cap = std::min(plan.row_cap, m_channel_peak * m_p.hbm_stride_base_fraction * locality / f);
      add_usage(path, reading ? channel_inject(ch) : channel_eject(ch), f, f);
      const int r =
          reading ? route_into(m_channel_router[ch], rc, f, path) : route_into(rc, m_channel_router[ch], f, path);
      max_routers = std::max(max_routers, r);
      // Header-only packets the other way: read requests to the channel, write responses from it.
      add_usage(path, reading ? channel_eject(ch) : channel_inject(ch), f * k, 0.0);
      if (reading)
        route_into(rc, m_channel_router[ch], 0.0, path, f * k);
      else
        route_into(m_channel_router[ch], rc, 0.0, path, f * k);
    }
    add_usage(path, reading ? core_eject(rc) : core_inject(rc), 1.0, 1.0);
    add_usage(path, reading ? core_inject(rc) : core_eject(rc), k, 0.0);
    (reading ? plan.hbm_read : plan.hbm_write) += total;
    hbm_identity(plan, addr, run, rows, stride, reading);
    return 2 * max_routers * m_p.noc_hop_ns + (reading ? m_p.hbm_read_latency_ns : m_p.hbm_write_latency_ns);
  }
  // Capacity a transfer's header-only packets use per byte it moves: one flit
  // per burst (a read request, a write response: models/noc/noc_interface.cpp)
  // on the route opposite to the data. Capacities are in payload bytes
  // (raw x noc_payload_efficiency), so a flit of flit_bytes per burst_bytes
  // of payload costs efficiency x flit_bytes / burst_bytes. A ring of sends
  // (each core sends to the next while receiving from the previous) puts the
  // responses of one send on the port the next send's data uses.
  double control_coef() const {
    return m_p.noc_payload_efficiency * double(m_hw.noc.flit_bytes) / double(m_hw.core.dma.burst_bytes);
  }
  // `locality` < 1: a channel read or written with that lone-stream row
  // locality, whose rows flows of the same row group share (two usages of one
  // channel, an HBM-to-HBM copy, share none).
  static void add_usage(path_builder& path, int res, double coef, double share, double locality = 1.0) {
    int& at = path.slot[size_t(res)];
    if (at < 0) {
      at = static_cast<int>(path.uses.size());
      path.uses.push_back(usage{res, coef, share, locality});
      path.present[size_t(res) / 64] |= uint64_t(1) << (res % 64);
    } else {
      path.uses[size_t(at)].coef += coef;
      path.uses[size_t(at)].share += share;
      path.uses[size_t(at)].locality = 1.0;
    }
  }
  // Dimension-order route (hw.noc.routing) from router a to router b: adds the
  // links crossed; returns the number of routers passed (Manhattan distance + 1).
  // `coef`: capacity used per byte of the transfer (default: its share).
  int route_into(int a, int b, double share, path_builder& path, double coef = -1) const {
    if (coef < 0) coef = share;
    int x = a % m_w, y = a / m_w;
    const int tx = b % m_w, ty = b / m_w;
    const int routers = std::abs(tx - x) + std::abs(ty - y) + 1;
    auto step_x = [&] {
      for (; x != tx; x += tx > x ? 1 : -1) add_usage(path, link(y * m_w + x, tx > x ? 0 : 1), coef, share);
    };
    auto step_y = [&] {
      for (; y != ty; y += ty > y ? 1 : -1) add_usage(path, link(y * m_w + x, ty > y ? 2 : 3), coef, share);
    };
    if (m_xy) {
      step_x();
      step_y();
    } else {
      step_y();
      step_x();
    }
    return routers;
  }

  // A 2-D copy run by the DMA engine of core rc (dma_cmd, or send as a 1-D
  // copy; as_copy): its route, planned on first use.
  const route& route_of(int rc, mem_space ss, int sc, uint64_t src, mem_space ds, int dc, uint64_t dst, uint64_t run,
                        uint64_t rows, uint64_t src_stride, uint64_t dst_stride) {
    // The resources depend on an HBM address only modulo the interleave
    // period (the channels it maps to), not on an SRAM address: transfers
    // alike in all else share them (planned once).
    const uint64_t period = interleave_period();
    const route_key key{rc,
                        sc,
                        dc,
                        static_cast<int>(ss),
                        static_cast<int>(ds),
                        ss == mem_space::hbm ? src % period : 0,
                        ds == mem_space::hbm ? dst % period : 0,
                        run,
                        rows,
                        src_stride,
                        dst_stride};
    auto [it, fresh] = m_routes.try_emplace(key);
    route& rt = it->second;
    if (!fresh) return rt;
    transfer_plan made;  // what the endpoints find
    rt.read_rtt = endpoint(rc, ss, sc, src, run, rows, src_stride, true, m_path, made);
    rt.write_rtt = endpoint(rc, ds, dc, dst, run, rows, dst_stride, false, m_path, made);
    // No transfer on this route moves faster than bursts of burst_bytes
    // allow (plan_copy's cap: a mean burst is at most that long).
    const double max_rate = issue_limit(double(m_hw.core.dma.burst_bytes), rt.read_rtt + rt.write_rtt, made.row_cap);
    // By resource id, as an ordered map gave them (the flow network's sums
    // then add in the same order: results do not depend on the route order).
    rt.path = m_net.add_path(m_path.take_sorted(), rc, max_rate);
    rt.hbm_read = made.hbm_read;
    rt.hbm_write = made.hbm_write;
    rt.row_cap = made.row_cap;
    return rt;
  }
  // Fills `plan` (fresh) for the copy.
  void plan_copy(transfer_plan& plan, int rc, mem_space ss, int sc, uint64_t src, mem_space ds, int dc, uint64_t dst,
                 uint64_t run, uint64_t rows, uint64_t src_stride, uint64_t dst_stride) {
    const route& rt = route_of(rc, ss, sc, src, ds, dc, dst, run, rows, src_stride, dst_stride);
    plan.hbm_read = rt.hbm_read;
    plan.hbm_write = rt.hbm_write;
    plan.row_cap = rt.row_cap;
    if (ss == mem_space::hbm) hbm_identity(plan, src, run, rows, src_stride, true);
    if (ds == mem_space::hbm) hbm_identity(plan, dst, run, rows, dst_stride, false);
    const double read_rtt = rt.read_rtt, write_rtt = rt.write_rtt;
    plan.path = rt.path;
    plan.bytes = double(run) * double(rows);
    // The mean burst (moves_nothing() transfers are never planned: run > 0).
    const double burst_bytes = double(run) / mean_bursts_per_row(uint64_t(m_hw.core.dma.burst_bytes), src, dst, run,
                                                                 rows, src_stride, dst_stride);
    plan.cap = issue_limit(burst_bytes, read_rtt + write_rtt, plan.row_cap);
    plan.tail_ns = read_rtt + write_rtt;
    plan.window = m_hw.core.dma.max_outstanding * burst_bytes;
  }
  // A DMA's rate limit with bursts of `burst_bytes` and a round trip of `rtt`
  // ns: the request channel sends one request per dma_request_ns (a core
  // cycle unloaded), two per burst (read then write); at most max_outstanding
  // bursts are in flight from the read request to the write response; and
  // the row cap of what it reads.
  double issue_limit(double burst_bytes, double rtt, double row_cap) const {
    const double req_rate = burst_bytes / (2.0 * m_p.dma_request_ns);
    const double out_rate = m_hw.core.dma.max_outstanding * burst_bytes / rtt;
    return std::min({req_rate, out_rate, row_cap});
  }

  void push(double t, ev kind, int core, int engine, int64_t a = 0, int64_t b = 0, int64_t c = -1) {
    m_events.push(event{t, m_seq++, kind, core, engine, a, b, c});
  }
  void schedule_network() {
    const double t = m_net.next_finish();
    ++m_net_version;
    if (t < inf) push(t, ev::network, -1, -1, static_cast<int64_t>(m_net_version));
  }

  int target_core(int core, uint16_t field, size_t i) const {
    const int id = field == self_core ? core : field;
    if (id >= static_cast<int>(m_programs.size())) no_program(core, id, i);
    return id;
  }
  [[noreturn]] void no_program(int core, int id, size_t i) const {
    throw error(where(core, i) + ": core " + std::to_string(id) + " runs no program");
  }
  std::string where(int core, size_t i) const {
    return "core " + std::to_string(core) + " command " + std::to_string(i) + " (" + to_text(m_programs[core][i]) + ")";
  }
  int hop_routers(int a, int b) const { return std::abs(a % m_w - b % m_w) + std::abs(a / m_w - b / m_w) + 1; }
  // A one-flit message between cores (remote signal, arrival notice).
  double message_ns(int from, int to) const { return hop_routers(from, to) * m_p.noc_hop_ns + m_p.signal_overhead_ns; }

  semaphore& sem(int core, uint16_t id) {
    std::vector<semaphore>& v = m_st[core].sems;
    if (v.size() <= id) v.resize(size_t(id) + 1);
    return v[id];
  }
  mailbox* find_mail(int from, int to, uint32_t tag) {
    for (mailbox& m : m_mail[size_t(from) * m_programs.size() + size_t(to)])
      if (m.tag == tag) return &m;
    return nullptr;
  }
  mailbox& mail(int from, int to, uint32_t tag) {
    if (mailbox* m = find_mail(from, to, tag)) return *m;
    auto& box = m_mail[size_t(from) * m_programs.size() + size_t(to)];
    box.push_back({tag, {}, {}});
    return box.back();
  }
  bool is_compute(int core, size_t i) const {
    const int k = m_kind[core][i];
    return k == k_matmul || k >= k_vector0;
  }
  bool is_transfer(int core, size_t i) const {
    const int k = m_kind[core][i];
    return k <= k_dma_hbm_copy || k == k_send;
  }
  // A transfer of no bytes (a lowering's empty chunk): the VP never hands it
  // to the DMA engine. An empty dma completes as the engine reaches it; an
  // empty send takes a descriptor slot and retires in order, when its arrival
  // notice goes out (models/npu_core/npu_core.cpp, run_dma and issue_dma).
  bool moves_nothing(int core, size_t i) const {
    const command& c = m_programs[core][i];
    if (auto* d = std::get_if<dma_cmd>(&c)) return d->row_bytes == 0;  // rows >= 1 (check_command)
    if (auto* sd = std::get_if<send_cmd>(&c)) return sd->bytes == 0;
    return false;
  }

  // `rec`: the executed signal command.
  void signal(int core, const signal_cmd& s, size_t i, int rec) {
    const int target = target_core(core, s.core, i);
    if (target == core) {
      semaphore& x = sem(core, s.sem);
      x.value += s.count;
      x.src = {m_now, rec};
      return;
    }
    push(m_now + message_ns(core, target), ev::sem_add, target, -1, s.sem, s.count, rec);
  }

  // Accounts a finished (or instantly executed) command; returns its record.
  int account(int core, size_t i, double ready, double start, double end, const bound_times& busy_bounds, double bytes,
              int pred) {
    const int rec = begin_rec(core, i, start, pred);
    finish_rec(rec, ready, end, busy_bounds, bytes);
    return rec;
  }
  int begin_rec(int core, size_t i, double start, int pred) {
    m_recs.push_back({start, start, static_cast<uint32_t>(i), core, pred, -1});
    return static_cast<int>(m_recs.size()) - 1;
  }
  void finish_rec(int rec, double ready, double end, const bound_times& busy_bounds, double bytes,
                  int engine_index = -1, double engine_ns = 0) {
    exec_rec& x = m_recs[rec];
    x.end = end;
    x.busy = keep_busy(busy_bounds, end - x.start);
    if (!m_cuts.empty() && size_t(rec) >= m_notes_base) {  // since the oldest kept cut (repeated segments)
      const size_t k = size_t(rec) - m_notes_base;
      if (m_notes.size() <= k) m_notes.resize(k + 1);
      m_notes[k] = {ready, bytes, engine_ns, engine_index};
    }
    account_rows(x, ready, bytes, engine_index, engine_ns);
  }
  // Where a record keeps its busy times (exec_rec::busy).
  int keep_busy(const bound_times& busy_bounds, double len) {
    const int compute = static_cast<int>(bound::compute);
    int n_limits = 0;
    for (double t : busy_bounds) n_limits += t != 0;
    if (n_limits == 0) return -1;
    if (n_limits == 1 && busy_bounds[compute] != 0 && busy_bounds[compute] == len) return -2;
    m_rec_busy.push_back(busy_bounds);
    return static_cast<int>(m_rec_busy.size()) - 1;
  }
  // What accounting adds to a row: one finished command (account_rows), or
  // the records of a repeated segment that go to the same rows (repeat_segment).
  struct row_add {
    uint64_t commands = 0;
    double busy = 0, blocked = 0, bytes = 0, flops = 0, elements = 0;
    double first_start = std::numeric_limits<double>::infinity(), last_end = -first_start;
    int n_limits = 0;  // the nonzero busy times (adding 0 would leave a sum as it is)
    int limits[bound_count];
    double times[bound_count];
    int engine_index = -1;
    double engine_ns = 0;
    // Adds the figures of another command of the same rows and engine.
    void merge(const row_add& o) {
      commands += o.commands;
      busy += o.busy;
      blocked += o.blocked;
      bytes += o.bytes;
      flops += o.flops;
      elements += o.elements;
      first_start = std::min(first_start, o.first_start);
      last_end = std::max(last_end, o.last_end);
      engine_ns += o.engine_ns;
      for (int k = 0; k < o.n_limits; ++k) {
        int at = 0;
        while (at < n_limits && limits[at] != o.limits[k]) ++at;
        if (at == n_limits) limits[n_limits++] = o.limits[k], times[at] = 0;
        times[at] += o.times[k];
      }
    }
  };
  // A command's arithmetic: flops (2 m k n per matmul) and vector elements.
  static std::pair<double, double> work_of(const command& c) {
    if (auto* m = std::get_if<matmul_cmd>(&c)) return {2.0 * m->m * m->k * m->n, 0.0};
    if (auto* v = std::get_if<vector_cmd>(&c)) return {0.0, double(v->rows) * v->cols};
    return {0.0, 0.0};
  }
  // What a finished command adds to its rows, with the busy times its record keeps.
  row_add record_add(const exec_rec& x, double ready, double bytes, int engine_index, double engine_ns) const {
    row_add a;
    a.commands = 1;
    a.busy = x.end - x.start;
    a.blocked = x.start - ready;
    a.first_start = x.start;
    a.last_end = x.end;
    a.bytes = bytes;
    std::tie(a.flops, a.elements) = work_of(m_programs[x.core][x.index]);
    a.n_limits = busy_entries(x, a.limits, a.times);
    a.engine_index = engine_index;
    a.engine_ns = engine_ns;
    return a;
  }
  // Adds a finished command to its kind, group and operator rows and to the totals.
  void account_rows(const exec_rec& x, double ready, double bytes, int engine_index, double engine_ns) {
    add_rows(x.core, x.index, record_add(x, ready, bytes, engine_index, engine_ns), 0.0);
  }
  // Adds `a` to the rows of command i of `core` and to the totals; its
  // interval moved on by `shift`.
  void add_rows(int core, size_t i, const row_add& a, double shift) {
    breakdown_row* rows[3] = {&m_kind_rows[m_kind[core][i]], &m_group_rows[m_group[core][i]],
                              &m_op_rows[m_op[core][i]]};
    const double start = a.first_start + shift, end = a.last_end + shift;
    for (breakdown_row* r : rows) {
      r->commands += a.commands;
      r->busy_ns += a.busy;
      r->blocked_ns += a.blocked;
      r->first_start_ns = r->first_start_ns < 0 ? start : std::min(r->first_start_ns, start);
      r->last_end_ns = std::max(r->last_end_ns, end);
      r->bytes += a.bytes;
      r->flops += a.flops;
      r->vector_elements += a.elements;
      for (int k = 0; k < a.n_limits; ++k) r->bound_ns[a.limits[k]] += a.times[k];
      if (a.engine_index >= 0) r->engine_busy_ns[a.engine_index] += a.engine_ns;
    }
    m_result.flops += a.flops;
    m_result.vector_elements += a.elements;
    m_result.commands += a.commands;
  }

  // Runs the dispatcher and starts idle engines until nothing more can happen at m_now.
  void poke(int core) {
    core_state& s = m_st[core];
    ++s.pokes;
    const program& prog = m_programs[core];
    // Dispatch, then the engines, again after an engine ran a wait, signal
    // or recv (a semaphore or an emptied queue may let the dispatcher or
    // another engine go on); a started compute or transfer changes nothing the
    // others wait for.
    for (bool again = true; again;) {
      again = false;
      while (!s.ended && s.pc < prog.size()) {
        const engine e = static_cast<engine>(m_engine[core][s.pc]);
        if (e != engine::sync) {
          s.q[static_cast<int>(e)].push_back({m_now, static_cast<uint32_t>(s.pc++), s.last_sync});
          continue;
        }
        if (s.sync_since < 0) s.sync_since = m_now;
        dep why;
        if (!run_sync(core, s.pc, why)) break;
        if (s.ended) {  // end: accounted when the engines have drained
          s.end_index = s.pc++;
          break;
        }
        const int rec =
            account(core, s.pc, s.sync_since, m_now, m_now, {}, 0, latest({why, done_dep(s.last_sync)}).rec);
        s.last_sync = rec;
        if (auto* sg = std::get_if<signal_cmd>(&prog[s.pc])) signal(core, *sg, s.pc, rec);
        s.sync_since = -1;
        ++s.pc;
      }
      if (!s.ended && s.pc == prog.size()) s.ended = true;
      for (int e = 0; e < engines; ++e)
        while (!s.q[e].empty()) {
          if (!can_start(core, e)) break;
          if (start_command(core, e)) again = true;
        }
    }
    if (s.done() && !s.finished) {
      s.finished = true;
      s.end_ns = m_now;
      if (s.end_index < prog.size())
        account(
            core, s.end_index, m_now, m_now, m_now, {}, 0,
            latest({done_dep(s.last_rec[0]), done_dep(s.last_rec[1]), done_dep(s.last_rec[2]), done_dep(s.last_sync)})
                .rec);
    }
  }

  // Executes the sync command at the head of dispatch if it can proceed (a
  // signal is sent by the caller); `why` is what it waited for.
  bool run_sync(int core, size_t i, dep& why) {
    core_state& s = m_st[core];
    const command& c = m_programs[core][i];
    if (auto* w = std::get_if<wait_cmd>(&c)) {
      semaphore& x = sem(core, w->sem);
      if (x.value < int64_t(w->count)) return false;
      x.value -= w->count;
      why = x.src;
    } else if (auto* b = std::get_if<barrier_cmd>(&c)) {
      for (int e = 0; e < engines; ++e)
        if (s.in_flight[e] || !s.q[e].empty()) return false;
      const auto key = std::make_pair(b->group, s.barrier_gen[b->group]);
      if (!s.at_barrier) {
        s.at_barrier = true;
        dep& last = m_barrier_dep[key];
        last = latest(
            {last, done_dep(s.last_rec[0]), done_dep(s.last_rec[1]), done_dep(s.last_rec[2]), done_dep(s.last_sync)});
        const uint32_t arrived = ++m_barrier_arrivals[key];
        m_barrier_waiters[key].push_back(core);
        if (arrived > b->participants)
          throw error(where(core, i) + ": " + std::to_string(arrived) + " cores reached a barrier for " +
                      std::to_string(b->participants));
        if (arrived == b->participants)
          push(m_now + m_p.barrier_release_ns, ev::barrier_open, -1, -1, key.first, static_cast<int64_t>(key.second));
      }
      if (!m_barrier_open.count(key)) return false;
      why = m_barrier_dep[key];
      s.at_barrier = false;
      ++s.barrier_gen[b->group];
    } else if (std::holds_alternative<end_cmd>(c)) {
      s.ended = true;
    }
    return true;
  }

  // Commands an engine may have in flight: the DMA engine overlaps the tails of
  // dma_descriptors_in_flight transfers (one in setup or flowing at a time);
  // matrix and vector run one command at a time.
  int depth(int e) const { return e == 0 ? m_p.dma_descriptors_in_flight : 1; }

  int new_slot(core_state& s, int e) {
    s.in_flight[e]++;
    if (s.in_flight[e] == 1) s.busy_since[e] = m_now;
    for (size_t k = 0; k < s.slots.size(); ++k)
      if (!s.slots[k].used) {
        s.slots[k] = running_cmd{};
        s.slots[k].used = true;
        s.slots[k].engine = e;
        return static_cast<int>(k);
      }
    s.slots.push_back(running_cmd{});
    s.slots.back().used = true;
    s.slots.back().engine = e;
    return static_cast<int>(s.slots.size()) - 1;
  }

  // Whether the head command of engine e can start now.
  bool can_start(int core, int e) {
    const core_state& s = m_st[core];
    const size_t i = s.q[e].front().index;
    const int kind = m_kind[core][i];
    // The matrix and vector engines run one command at a time, in order. The
    // DMA engine's thread only submits: a transfer waits for a free
    // descriptor slot and for the engine's issue stage (one transfer in setup
    // or flowing at a time); a wait or recv behind it runs as soon as it is
    // the head of the queue, while the transfers before it are in flight
    // (models/npu_core/npu_core.cpp, issue_dma). An empty dma waits for
    // nothing; an empty send waits like a transfer, so that every transfer
    // before it has its completion time (start_command).
    if (e != 0 && s.in_flight[e] >= depth(e)) return false;
    if (is_transfer(core, i) && (s.issuing || s.in_flight[e] >= depth(e)) &&
        !(kind != k_send && moves_nothing(core, i)))
      return false;
    // A signal counts every earlier command of its engine as done.
    if (kind == k_signal) return s.in_flight[e] == 0;
    if (kind == k_wait) {
      const wait_cmd& w = std::get<wait_cmd>(m_programs[core][i]);
      return sem(core, w.sem).value >= int64_t(w.count);
    }
    if (kind == k_recv) {
      const recv_cmd& rv = std::get<recv_cmd>(m_programs[core][i]);
      const mailbox* m = find_mail(target_core(core, rv.peer, i), core, rv.tag);
      return m && !m->arrived.empty();
    }
    return true;
  }

  // Starts the head command of engine e (can_start); true if it ran at once (wait, signal, recv).
  bool start_command(int core, int e) {
    core_state& s = m_st[core];
    const queued head = s.q[e].front();
    const size_t i = head.index;
    const command& c = m_programs[core][i];
    const int kind = m_kind[core][i];
    const bool transfer = is_transfer(core, i), empty = transfer && moves_nothing(core, i);
    const bool at_once = kind == k_wait || kind == k_recv || kind == k_signal || (empty && kind != k_send);
    // Waits, signals and recvs run at once; `why`: what they waited for.
    dep why;
    if (kind == k_wait) {
      const wait_cmd& w = std::get<wait_cmd>(c);
      semaphore& x = sem(core, w.sem);
      x.value -= w.count;
      why = x.src;
    } else if (kind == k_recv) {
      const recv_cmd& rv = std::get<recv_cmd>(c);
      std::deque<arrival>& arrived = find_mail(target_core(core, rv.peer, i), core, rv.tag)->arrived;
      if (arrived.front().bytes != rv.bytes)
        throw error(where(core, i) + ": the matching send wrote " + std::to_string(arrived.front().bytes) + " bytes");
      why = arrived.front().from;
      arrived.pop_front();
    }
    const double ready = std::max(head.since, s.idle_since[e]);
    const dep order =
        latest({done_dep(s.last_rec[e]), done_dep(head.dispatch_rec), transfer && !at_once ? s.issue_free : dep{}});
    if (at_once) {
      s.q[e].pop_front();
      s.idle_since[e] = m_now;
      const int rec = s.last_rec[e] = account(core, i, ready, m_now, m_now, {}, 0, latest({why, order}).rec);
      if (kind == k_signal) signal(core, std::get<signal_cmd>(c), i, rec);
      return true;
    }
    s.q[e].pop_front();
    const int slot = new_slot(s, e);
    if (transfer) {
      running_cmd& r = s.slots[slot];
      r.index = i;
      r.ready = ready;
      r.start = m_now;
      r.rec = begin_rec(core, i, m_now, order.rec);
      if (empty) {  // a send of nothing, behind the transfers before it
        s.dma_done_at = std::max(m_now, s.dma_done_at);
        push(s.dma_done_at, ev::transfer_done, core, e, slot);
        return false;
      }
      as_copy(core, i, [&](auto... copy) { plan_copy(r.plan, copy...); });
      s.issuing = true;
      push(m_now + m_p.command_overhead_ns + m_p.dma_setup_ns, ev::setup_done, core, e, slot);
    } else {
      run_compute(core, e, slot, i, ready, order);
    }
    return false;
  }
  // End of compute command i of `core` started at `start`.
  double compute_end(int core, size_t i, double start) {
    core_state& s = m_st[core];
    const command& c = m_programs[core][i];
    const double t0 = start + m_p.command_overhead_ns;
    const double clock = m_hw.core.clock_ghz;
    if (auto* m = std::get_if<matmul_cmd>(&c)) {
      // Folds back to back with double-buffered weights, overlapping the previous matmul when right
      // behind it (as models/npu_core/npu_core.cpp does).
      uint64_t cycles = core_timing::matmul_command_cycles(m->m, m->k, m->n, m_hw.core.matrix);
      if (cycles) {
        if (s.last_matmul.m > 0 && start == s.last_matmul.end)
          cycles = core_timing::matmul_follow_cycles(cycles, m->k, s.last_matmul.m, s.last_matmul.drain_cycles,
                                                     m_hw.core.matrix);
        s.last_matmul = {t0 + cycles / clock, m->m,
                         core_timing::matmul_drain_cycles(m->m, m->k, m->n, m_hw.core.matrix)};
      }
      return t0 + cycles / clock;
    }
    const vector_cmd& v = std::get<vector_cmd>(c);
    const uint64_t elems = uint64_t(v.rows) * v.cols;
    return t0 + core_timing::vector_cycles(elems, core_timing::vector_kind_of(v.op), m_hw.core.vector) / clock;
  }
  // Runs compute command i on engine e (matrix or vector) from m_now, and
  // the compute commands queued right behind it: each starts as the one
  // before ends, and nothing else can start or delay them (the engine runs
  // its queue in order; a signal or wait behind them ends the run). They
  // are accounted at once, with the additions an event per command would
  // make; the last takes `slot` and ends with an event.
  void run_compute(int core, int e, int slot, size_t i, double ready, dep order) {
    core_state& s = m_st[core];
    double start = m_now;
    for (;;) {
      const double end = compute_end(core, i, start);
      const int rec = begin_rec(core, i, start, order.rec);
      const bool more = !s.q[e].empty() && is_compute(core, s.q[e].front().index);
      if (!more) {
        running_cmd& r = s.slots[slot];
        r.index = i;
        r.ready = ready;
        r.start = start;
        r.rec = rec;
        push(end, ev::compute_done, core, e, slot);
        return;
      }
      bound_times b{};
      b[static_cast<int>(bound::compute)] = end - start;
      s.busy_ns[e] += end - s.busy_since[e];
      s.busy_since[e] = end;
      s.idle_since[e] = end;
      finish_rec(rec, ready, end, b, 0, e, end - start);
      s.last_rec[e] = rec;
      const queued head = s.q[e].front();
      s.q[e].pop_front();
      i = head.index;
      ready = std::max(head.since, end);
      order = latest({done_dep(rec), done_dep(head.dispatch_rec)});
      start = end;
    }
  }
  // Calls f with transfer command i of `core` as the arguments of a 2-D copy
  // (route_of, plan_copy): a dma, or a send as a 1-D copy.
  template <class F>
  void as_copy(int core, size_t i, F&& f) const {
    const command& c = m_programs[core][i];
    if (auto* d = std::get_if<dma_cmd>(&c)) {
      const int sc = d->src_space == mem_space::sram ? target_core(core, d->src_core, i) : 0;
      const int dc = d->dst_space == mem_space::sram ? target_core(core, d->dst_core, i) : 0;
      f(core, d->src_space, sc, d->src, d->dst_space, dc, d->dst, d->row_bytes, d->rows, d->src_stride, d->dst_stride);
    } else if (auto* sd = std::get_if<send_cmd>(&c)) {
      const int peer = target_core(core, sd->peer, i);
      f(core, mem_space::sram, core, sd->src, mem_space::sram, peer, sd->dst, uint64_t(sd->bytes), uint64_t(1),
        uint64_t(sd->bytes), uint64_t(sd->bytes));
    }
  }

  void finish_command(int core, int slot, const bound_times& bounds) {
    core_state& s = m_st[core];
    running_cmd& r = s.slots[slot];
    const int e = r.engine;
    r.used = false;
    if (--s.in_flight[e] == 0) s.busy_ns[e] += m_now - s.busy_since[e];
    s.idle_since[e] = m_now;
    double engine_ns = m_now - r.start;
    if (e == 0) {  // transfers retire in order: each gets the time since the previous retirement
      engine_ns = m_now - std::max(r.start, s.dma_retired_at);
      s.dma_retired_at = m_now;
    }
    finish_rec(r.rec, r.ready, m_now, bounds, r.plan.bytes, e, engine_ns);
    s.last_rec[e] = r.rec;
    if (auto* sd = std::get_if<send_cmd>(&m_programs[core][r.index])) {
      // The arrival notice is a message to the peer, like a remote signal.
      const int to = target_core(core, sd->peer, r.index);
      push(m_now + message_ns(core, to), ev::arrival, to, -1, core, sd->tag, r.rec);
      mail(core, to, sd->tag).pending.push_back(sd->bytes);
    }
    m_wake.push_back(core);
  }

  void handle(const event& ev) {
    switch (ev.kind) {
      case ev::compute_done: {
        bound_times b{};
        b[static_cast<int>(bound::compute)] = m_now - m_st[ev.core].slots[ev.a].start;
        finish_command(ev.core, static_cast<int>(ev.a), b);
        break;
      }
      case ev::setup_done: {
        running_cmd& r = m_st[ev.core].slots[ev.a];
        r.flow =
            m_net.start(r.plan.path, r.plan.bytes, r.plan.cap, m_now, r.plan.stream, r.plan.window, r.plan.tail_ns,
                        r.plan.row_group);
        if (m_flow_owner.size() <= size_t(r.flow)) m_flow_owner.resize(size_t(r.flow) + 1);
        m_flow_owner[size_t(r.flow)] = {ev.core, static_cast<int>(ev.a)};
        m_result.hbm_read_bytes += r.plan.hbm_read;
        m_result.hbm_write_bytes += r.plan.hbm_write;
        schedule_network();
        break;
      }
      case ev::network: {
        if (static_cast<uint64_t>(ev.a) != m_net_version) break;  // superseded
        for (int id : m_net.finish_drained(m_now)) {
          const auto [core, slot] = m_flow_owner[size_t(id)];
          core_state& s = m_st[core];
          running_cmd& r = s.slots[slot];
          r.flow_times = m_net.flow_bound_times(id);
          // The last burst is issued: the next transfer may start while this one's tail completes.
          s.issuing = false;
          s.issue_free = {m_now, r.rec};
          m_wake.push_back(core);
          // Transfers complete in order (the engine's queue is in order).
          s.dma_done_at = std::max(m_now + r.plan.tail_ns, s.dma_done_at);
          push(s.dma_done_at, ev::transfer_done, core, r.engine, slot);
        }
        schedule_network();
        break;
      }
      case ev::transfer_done: {
        const running_cmd& r = m_st[ev.core].slots[ev.a];
        bound_times b = r.flow_times;
        double flow_ns = 0;
        for (double t : b) flow_ns += t;
        b[static_cast<int>(bound::latency)] += (m_now - r.start) - flow_ns;
        finish_command(ev.core, static_cast<int>(ev.a), b);
        break;
      }
      case ev::arrival: {
        mailbox& m = mail(static_cast<int>(ev.a), ev.core, static_cast<uint32_t>(ev.b));
        m.arrived.push_back({m.pending.front(), {m_now, static_cast<int>(ev.c)}});
        m.pending.pop_front();
        m_wake.push_back(ev.core);
        break;
      }
      case ev::barrier_open: {
        const auto key = std::make_pair(static_cast<uint16_t>(ev.a), static_cast<uint64_t>(ev.b));
        m_barrier_open.insert(key);
        m_barrier_dep[key] = {m_now, m_barrier_dep[key].rec};
        for (int c : m_barrier_waiters[key]) m_wake.push_back(c);
        break;
      }
      case ev::sem_add: {
        semaphore& x = sem(ev.core, static_cast<uint16_t>(ev.a));
        x.value += ev.b;
        x.src = {m_now, static_cast<int>(ev.c)};
        m_wake.push_back(ev.core);
        break;
      }
    }
  }

  void deadlock() const {
    std::string report = "perfmodel deadlock: no core can proceed";
    for (size_t c = 0; c < m_st.size(); ++c) {
      const core_state& s = m_st[c];
      if (s.done()) continue;
      report += "\n  core " + std::to_string(c) + ":";
      if (!s.ended && s.pc < m_programs[c].size())
        report += "\n    dispatch blocked at " + where(static_cast<int>(c), s.pc);
      for (int e = 0; e < engines; ++e)
        if (!s.q[e].empty())
          report += "\n    " + std::string(engine_name(engine(e))) + " blocked at " +
                    where(static_cast<int>(c), s.q[e].front().index);
    }
    throw simulation_error(report);
  }

  // ---- repeated segments (evaluate_options::repeat_segments)
  //
  // A cut: the only pending event releases a barrier and no transfer flows,
  // so every core waits (at the barrier, or for a semaphore or a message the
  // released cores will give). What happens until the next cut depends only
  // on the state visited below and on the commands the cores run. When two
  // cuts A and B find the same state (times relative to the release, records
  // mapped), and the commands after B repeat those run between A and B, the
  // segment from B runs as the one from A did: its records, sums and state
  // changes are those of segment A-B, shifted by B - A in time, command
  // indices and record ids. A decoder layer after the one before is such a
  // segment (docs/perfmodel.md, "Repeated segments").
  struct rec_note {  // what finish_rec() was given besides the record (segment since the last cut)
    double ready = 0, bytes = 0, engine_ns = 0;
    int engine_index = -1;
  };
  // The state of one core, or the barrier's arrival.
  struct state_part {
    std::vector<int64_t> exact;  // what a repeat must find equal (command indices relative to pc)
    std::vector<double> times;
    std::vector<int> recs_of;  // records the state refers to
  };
  struct cut {
    double t = 0;                   // the release
    int64_t barrier = 0;            // the group it releases
    size_t recs = 0;                // records before it
    std::vector<size_t> pc, first;  // per core: dispatch position, first command still to run
    std::vector<uint64_t> pokes;    // per core: core_state::pokes
    // Per core; a core not poked since the last cut shares that cut's part
    // (its queued commands, often a whole layer on a core waiting for its
    // stage's input, are not copied).
    std::vector<std::shared_ptr<const state_part>> cores;
    state_part release;
    std::vector<double> counters;  // sums a repeat adds to: busy time per core and engine, HBM bytes
    std::vector<double> bytes;     // per flow-network resource
  };
  // Every field of the state of core c that the next segment depends on, in
  // a fixed order: f.exact(v) values, f.index(i, core) queued command
  // indices, f.time(t) times, f.rec(r) record ids (what the critical path
  // links to); visit_release(): the barrier's arrival.
  template <class F>
  void visit_core(int c, F& f) {
    core_state& s = m_st[c];
    f.exact(s.at_barrier);
    f.exact(s.ended);
    f.exact(s.finished);
    f.exact(s.issuing);
    f.exact(static_cast<int64_t>(s.end_index == SIZE_MAX ? -1 : static_cast<int64_t>(s.end_index)));
    for (int e = 0; e < engines; ++e) {
      f.exact(static_cast<int64_t>(s.q[e].size()));
      for (queued& q : s.q[e]) {
        f.index(q.index, c);
        f.time(q.since);
        f.rec(q.dispatch_rec);
      }
      f.exact(s.in_flight[e]);
      f.time(s.idle_since[e]);
      f.rec(s.last_rec[e]);
    }
    f.time(s.issue_free.t);
    f.rec(s.issue_free.rec);
    f.time(s.dma_done_at);
    f.time(s.dma_retired_at);
    f.exact(static_cast<int64_t>(s.sems.size()));
    for (semaphore& x : s.sems) {
      f.exact(x.value);
      f.time(x.src.t);
      f.rec(x.src.rec);
    }
    f.rec(s.last_sync);
    f.time(s.sync_since);
    f.time(s.last_matmul.end);
    f.exact(static_cast<int64_t>(s.last_matmul.m));
    f.exact(static_cast<int64_t>(s.last_matmul.drain_cycles));
  }
  template <class F>
  void visit_release(F& f) {
    const event& release = m_events.top();
    dep& arrived = m_barrier_dep[{static_cast<uint16_t>(release.a), static_cast<uint64_t>(release.b)}];
    f.time(arrived.t);
    f.rec(arrived.rec);
  }
  bool at_cut() const {
    if (!m_repeat || m_events.size() != 1 || m_events.top().kind != ev::barrier_open || !m_net.idle()) return false;
    for (const auto& boxes : m_mail)
      for (const mailbox& m : boxes)
        if (!m.arrived.empty() || !m.pending.empty()) return false;
    return true;
  }
  cut take_cut() {
    cut k;
    k.t = m_events.top().t;
    k.barrier = m_events.top().a;
    k.recs = m_recs.size();
    for (const core_state& s : m_st) {
      k.pc.push_back(s.pc);
      k.pokes.push_back(s.pokes);
      size_t first = s.pc;
      for (const auto& q : s.q)
        if (!q.empty()) first = std::min<size_t>(first, q.front().index);
      k.first.push_back(first);
      for (double b : s.busy_ns) k.counters.push_back(b);
    }
    k.counters.push_back(m_result.hbm_read_bytes);
    k.counters.push_back(m_result.hbm_write_bytes);
    k.bytes = m_net.bytes();
    struct reader {
      model& m;
      state_part& k;
      void exact(int64_t v) { k.exact.push_back(v); }
      void index(uint32_t& i, int core) { k.exact.push_back(int64_t(i) - int64_t(m.m_st[core].pc)); }
      void time(double& t) { k.times.push_back(t); }
      void rec(int& r) { k.recs_of.push_back(r); }
    };
    for (size_t c = 0; c < m_st.size(); ++c) {
      if (!m_cuts.empty() && m_cuts.back().pokes[c] == m_st[c].pokes) {  // its state only changes in poke()
        k.cores.push_back(m_cuts.back().cores[c]);
        continue;
      }
      auto part = std::make_shared<state_part>();
      reader r{*this, *part};
      visit_core(static_cast<int>(c), r);
      k.cores.push_back(std::move(part));
    }
    reader r{*this, k.release};
    visit_release(r);
    return k;
  }
  // Whether cut b finds the state of cut a, one segment on; `roles` maps
  // each record a's state refers to onto the one b's state has in its place
  // (a core whose part is shared keeps its records).
  static bool same_state(const cut& a, const cut& b, std::unordered_map<int, int>& roles) {
    for (size_t c = 0; c < a.cores.size(); ++c)
      if (a.cores[c] != b.cores[c] && !same_part(a, b, *a.cores[c], *b.cores[c], roles)) return false;
    return same_part(a, b, a.release, b.release, roles);
  }
  static bool same_part(const cut& a, const cut& b, const state_part& x, const state_part& y,
                        std::unordered_map<int, int>& roles) {
    if (x.exact != y.exact || x.times.size() != y.times.size() || x.recs_of.size() != y.recs_of.size()) return false;
    const double tol = 1e-12 * (1.0 + b.t);  // rounding of times about b.t
    for (size_t i = 0; i < x.times.size(); ++i)
      if (x.times[i] != y.times[i] && std::abs((y.times[i] - b.t) - (x.times[i] - a.t)) > tol) return false;
    for (size_t i = 0; i < x.recs_of.size(); ++i) {
      const int p = x.recs_of[i], q = y.recs_of[i];
      if (p != q && q < static_cast<int>(a.recs)) return false;  // a change refers to the segment
      const auto [it, fresh] = roles.try_emplace(p, q);
      if (!fresh && it->second != q) it->second = -2;  // one record, two fates: not usable as a link
    }
    return true;
  }
  // Keys that must correspond one to one between a segment and its repeat,
  // checked as the comparison meets them: two open-addressing tables (segment
  // key -> repeat key and back) kept from pass to pass; a slot is empty unless
  // stamped with the current pass, so a new pass clears nothing.
  class key_pairs {
   public:
    void next_pass() {
      ++m_pass;
      m_forward.count = m_backward.count = 0;
    }
    // Whether a and b still correspond one to one (pairs them if new).
    bool operator()(uint64_t a, uint64_t b) { return m_forward.map(a, b, m_pass) && m_backward.map(b, a, m_pass); }

   private:
    struct slot {
      uint64_t key = 0, value = 0;
      uint32_t pass = 0;
    };
    struct table {
      std::vector<slot> slots;
      size_t count = 0;  // keys of this pass
      // Maps k to v unless k maps to another value already.
      bool map(uint64_t k, uint64_t v, uint32_t pass) {
        if (2 * (count + 1) > slots.size()) grow(pass);
        const size_t mask = slots.size() - 1;
        for (size_t i = (k * 0x9e3779b97f4a7c15ull) >> 32 & mask;; i = (i + 1) & mask) {
          slot& s = slots[i];
          if (s.pass != pass) {
            s = {k, v, pass};
            ++count;
            return true;
          }
          if (s.key == k) return s.value == v;
        }
      }
      // Doubles the slots, keeping this pass's keys (no second growth: at most half of the old size).
      void grow(uint32_t pass) {
        std::vector<slot> old(std::max<size_t>(64, 2 * slots.size()));
        std::swap(old, slots);
        count = 0;
        for (const slot& s : old)
          if (s.pass == pass) map(s.key, s.value, pass);
      }
    };
    table m_forward, m_backward;
    uint32_t m_pass = 1;  // slots start at pass 0: empty
  };
  // Whether command b of `core` runs as command a does: the same but for the
  // operator label and HBM addresses at the same place in the interleave
  // period, with HBM streams, row groups, mailboxes and barrier groups in
  // one-to-one correspondence (`keys`).
  bool same_timing(int core, size_t a, size_t b, key_pairs& keys) const {
    const command& cx = m_programs[core][a];
    const command& cy = m_programs[core][b];
    if (cx.index() != cy.index()) return false;
    auto peer = [&](uint16_t field) { return uint64_t(field == self_core ? core : field); };
    return std::visit(
        [&](const auto& xr) {
          using T = std::decay_t<decltype(xr)>;
          T x = xr, y = std::get<T>(cy);
          x.op_id = y.op_id = 0;
          if constexpr (std::is_same_v<T, dma_cmd>) {
            const uint64_t period = interleave_period();
            auto hbm_side = [&](mem_space space, uint64_t& p, uint64_t& q, uint64_t stride, bool reading) {
              if (space != mem_space::hbm) return true;
              const bool same = p % period == q % period &&
                                keys(hbm_stream(p, x.row_bytes, x.rows, stride, reading),
                                     hbm_stream(q, x.row_bytes, x.rows, stride, reading)) &&
                                keys(row_group(p, x.row_bytes, x.rows, stride, reading),
                                     row_group(q, x.row_bytes, x.rows, stride, reading));
              p = q = 0;
              return same;
            };
            if (x.src_space != y.src_space || x.dst_space != y.dst_space || x.row_bytes != y.row_bytes ||
                x.rows != y.rows || x.src_stride != y.src_stride || x.dst_stride != y.dst_stride ||
                !hbm_side(x.src_space, x.src, y.src, x.src_stride, true) ||
                !hbm_side(x.dst_space, x.dst, y.dst, x.dst_stride, false))
              return false;
          } else if constexpr (std::is_same_v<T, send_cmd>) {
            if (!keys(fnv1a({uint64_t(core), peer(x.peer), x.tag}), fnv1a({uint64_t(core), peer(y.peer), y.tag})))
              return false;
            x.tag = y.tag = 0;
          } else if constexpr (std::is_same_v<T, recv_cmd>) {
            if (!keys(fnv1a({peer(x.peer), uint64_t(core), x.tag}), fnv1a({peer(y.peer), uint64_t(core), y.tag})))
              return false;
            x.tag = y.tag = 0;
          } else if constexpr (std::is_same_v<T, barrier_cmd>) {
            // A barrier group is an identity (each layer of a stage may take new ones).
            if (!keys(fnv1a({~uint64_t(0), x.group}), fnv1a({~uint64_t(0), y.group}))) return false;
            x.group = y.group = 0;
          }
          return x == y;
        },
        cx);
  }
  // How many times the segment from cut a to cut b repeats right after b:
  // each core runs again what it ran (from a's first command to the one b
  // waits at), shifted by its dispatch advance.
  size_t repeats(const cut& a, const cut& b) const {
    size_t n = 0;
    key_pairs keys;
    for (bool more = true; more; ++n) {
      keys.next_pass();
      bool active = false;
      for (size_t c = 0; c < m_st.size() && more; ++c) {
        const size_t step = b.pc[c] - a.pc[c], shift = (n + 1) * step;
        if (step == 0) continue;
        active = true;
        if (b.pc[c] + shift >= m_programs[c].size()) more = false;
        for (size_t i = a.first[c]; i <= b.pc[c] && more; ++i)
          more = same_timing(static_cast<int>(c), i, i + shift, keys);
      }
      if (!active) more = false;
      if (!more) break;
    }
    return n;
  }
  // At a cut: if the segment since one of the kept cuts repeats, accounts
  // its repeats. The latest cut is tried first; an earlier one matches when
  // a layer holds cuts of its own (barriers of its collectives), so that
  // consecutive cuts end different parts of it.
  void on_cut() {
    cut b = take_cut();
    for (size_t k = m_cuts.size(); k-- > 0;) {
      const cut& a = m_cuts[k];
      if (b.recs <= a.recs) break;  // nothing ran since
      // Barrier groups are matched as identities, but the one the cores wait
      // at must be the same group again (its generations go on after the repeats).
      if (a.barrier != b.barrier) continue;
      std::unordered_map<int, int> roles;
      bool ok = m_notes.size() == b.recs - m_notes_base && same_state(a, b, roles);
      for (size_t i = 0; ok && i < m_st.size(); ++i) ok = b.pc[i] >= a.pc[i];
      const int first = static_cast<int>(a.recs);
      for (size_t r = a.recs; ok && r < b.recs; ++r) {  // links out of the segment must have a successor
        const int p = m_recs[r].pred;
        if (p >= 0 && p < first) ok = roles.count(p) && roles[p] >= 0;
      }
      const size_t n = ok ? repeats(a, b) : 0;
      if (n > 0) {
        repeat_segment(a, b, roles, n);
        m_cuts.clear();  // their parts are not the shifted state's
        b = take_cut();
        break;
      }
    }
    m_cuts.push_back(std::move(b));
    if (m_cuts.size() > max_cuts) m_cuts.pop_front();
    const size_t base = m_cuts.front().recs;
    m_notes.erase(m_notes.begin(), m_notes.begin() + std::ptrdiff_t(std::min(m_notes.size(), base - m_notes_base)));
    m_notes_base = base;
  }
  // Accounts n repeats of the segment from cut a to cut b (the state is b's).
  void repeat_segment(const cut& a, const cut& b, const std::unordered_map<int, int>& roles, size_t n) {
    const double dt = b.t - a.t;
    const int first = static_cast<int>(a.recs), count = static_cast<int>(b.recs - a.recs);
    m_recs.reserve(m_recs.size() + n * size_t(count));
    // The rows: the segment's records summed by the rows they went to (and
    // their engine), each sum added once per repeat to the rows the repeat's
    // records go to (those of the next layer's operator) when every record of
    // the sum goes to the same ones (the usual case), else record by record.
    std::vector<row_add> sums;
    std::vector<int> sum_of(static_cast<size_t>(count));
    std::map<std::array<int, 4>, int> index;
    for (int r = first; r < first + count; ++r) {
      const exec_rec& x = m_recs[size_t(r)];
      const rec_note& note = m_notes[size_t(r) - m_notes_base];
      const std::array<int, 4> key{m_kind[x.core][x.index], m_group[x.core][x.index], m_op[x.core][x.index],
                                   note.engine_index};
      const int k = index.emplace(key, static_cast<int>(sums.size())).first->second;
      const row_add one = record_add(x, note.ready, note.bytes, note.engine_index, note.engine_ns);
      if (size_t(k) == sums.size())
        sums.push_back(one);
      else
        sums[size_t(k)].merge(one);
      sum_of[size_t(r - first)] = k;
    }
    std::vector<int> goes_to(sums.size());  // per sum: the repeat's record of its first record
    for (size_t j = 1; j <= n; ++j) {
      const double shift = double(j) * dt;
      std::fill(goes_to.begin(), goes_to.end(), -1);
      const size_t base = m_recs.size();  // this repeat's first record
      bool matched = true;
      for (int r = first; r < first + count; ++r) {
        const exec_rec x = m_recs[size_t(r)];
        exec_rec y = x;
        y.start += shift;
        y.end += shift;
        y.index += static_cast<uint32_t>(j * (b.pc[x.core] - a.pc[x.core]));
        if (x.pred >= first) {
          y.pred = x.pred + static_cast<int>(j) * count;
        } else if (x.pred >= 0) {  // the record in its place in the state the repeat starts from
          const int p = roles.at(x.pred);
          y.pred = p >= first ? p + static_cast<int>(j - 1) * count : p;
        }
        int& to = goes_to[size_t(sum_of[size_t(r - first)])];
        if (to < 0) {
          to = static_cast<int>(m_recs.size());
        } else if (matched) {  // the kind is the template's (the commands are the same)
          const exec_rec& z = m_recs[size_t(to)];
          matched =
              m_group[y.core][y.index] == m_group[z.core][z.index] && m_op[y.core][y.index] == m_op[z.core][z.index];
        }
        m_recs.push_back(y);  // its busy times are the template's (m_rec_busy entries are never changed)
      }
      if (matched) {
        for (size_t k = 0; k < sums.size(); ++k) {
          const exec_rec& z = m_recs[size_t(goes_to[k])];
          add_rows(z.core, z.index, sums[k], shift);
        }
        continue;
      }
      for (int r = first; r < first + count; ++r) {
        const rec_note& note = m_notes[size_t(r) - m_notes_base];
        account_rows(m_recs[base + size_t(r - first)], note.ready + shift, note.bytes, note.engine_index,
                     note.engine_ns);
      }
    }
    const double times = double(n);
    size_t k = 0;
    for (core_state& s : m_st)
      for (double& busy : s.busy_ns) busy += times * (b.counters[k] - a.counters[k]), ++k;
    m_result.hbm_read_bytes += times * (b.counters[k] - a.counters[k]);
    m_result.hbm_write_bytes += times * (b.counters[k + 1] - a.counters[k + 1]);
    std::vector<double> bytes(b.bytes.size());
    for (size_t r = 0; r < bytes.size(); ++r) bytes[r] = b.bytes[r] - a.bytes[r];
    m_net.add_bytes(bytes, times);
    // The fields that changed from a to b move on n segments.
    struct shifter {
      const cut &a, &b;
      size_t n;
      double dt;
      int count;
      const state_part *x = nullptr, *y = nullptr;  // the part at a and at b
      size_t ti = 0, ri = 0;
      void exact(int64_t) {}
      void index(uint32_t& i, int core) { i += static_cast<uint32_t>(n * (b.pc[core] - a.pc[core])); }
      void time(double& t) {
        if (x->times[ti] != y->times[ti]) t += double(n) * dt;
        ++ti;
      }
      void rec(int& r) {
        if (x->recs_of[ri] != y->recs_of[ri]) r += static_cast<int>(n) * count;
        ++ri;
      }
      void on(const state_part& p, const state_part& q) {
        x = &p;
        y = &q;
        ti = ri = 0;
      }
    } shift{a, b, n, dt, count};
    for (size_t c = 0; c < m_st.size(); ++c) {
      if (a.cores[c] == b.cores[c]) continue;  // not poked in the segment
      shift.on(*a.cores[c], *b.cores[c]);
      visit_core(static_cast<int>(c), shift);
    }
    shift.on(a.release, b.release);
    visit_release(shift);
    for (size_t c = 0; c < m_st.size(); ++c) m_st[c].pc += n * (b.pc[c] - a.pc[c]);
    const event release = m_events.top();
    m_events.pop();
    push(release.t + times * dt, release.kind, release.core, release.engine, release.a, release.b, release.c);
    m_result.repeated_segments += n;
  }

  void finish_result();

  const hw_config& m_hw;
  const std::vector<program>& m_programs;
  const perf_params m_p;
  const bool m_repeat;  // evaluate_options::repeat_segments
  const int m_w, m_h, m_cores, m_channels;
  const bool m_xy;  // hw.noc.routing: x first
  std::vector<int> m_channel_router;
  const hbm_rows m_rows;
  flow_network m_net;
  double m_channel_peak = 0, m_sram_bw = 0, m_link_bw = 0;
  std::vector<core_state> m_st;
  std::vector<std::vector<uint16_t>> m_kind;
  std::vector<std::vector<uint8_t>> m_engine;  // engine_of each command
  std::vector<std::vector<uint16_t>> m_op;     // op_of each command
  std::vector<std::vector<int>> m_group;
  std::vector<breakdown_row> m_kind_rows, m_group_rows, m_op_rows;
  std::priority_queue<event, std::vector<event>, std::greater<event>> m_events;
  uint64_t m_seq = 0, m_net_version = 0;
  double m_now = 0;
  std::vector<int> m_wake;
  std::vector<std::pair<int, int>> m_flow_owner;  // (core, slot) by flow id
  std::vector<std::vector<mailbox>> m_mail;       // by sender x programs + receiver
  std::vector<exec_rec> m_recs;
  std::vector<bound_times> m_rec_busy;  // busy times of the records that need them (exec_rec::busy)
  std::vector<double> m_channel_bytes;  // scratch of endpoint()
  path_builder m_path;                  // scratch of route_of()
  std::unordered_map<route_key, route, route_key_hash> m_routes;  // planned routes (route_of)
  std::map<std::pair<uint16_t, uint64_t>, dep> m_barrier_dep;     // latest arrival at (group, generation)
  std::set<std::pair<uint16_t, uint64_t>> m_barrier_open;         // released (group, generation)
  std::map<std::pair<uint16_t, uint64_t>, uint32_t> m_barrier_arrivals;
  std::map<std::pair<uint16_t, uint64_t>, std::vector<int>> m_barrier_waiters;
  perf_result m_result;
  // The last cuts (repeated segments), oldest first, and the notes of the
  // records since the oldest (by record id - m_notes_base).
  static constexpr size_t max_cuts = 8;
  std::deque<cut> m_cuts;
  std::vector<rec_note> m_notes;
  size_t m_notes_base = 0;
};

perf_result model::run() {
  const int n = static_cast<int>(m_programs.size());
  m_st.resize(n);
  m_kind.resize(n);
  m_mail.resize(size_t(n) * size_t(n));
  m_engine.resize(n);
  m_op.resize(n);
  m_group.resize(n);
  std::vector<int> group_kind;
  for (int c = 0; c < n; ++c) {
    m_kind[c].reserve(m_programs[c].size());
    m_engine[c].reserve(m_programs[c].size());
    m_op[c].reserve(m_programs[c].size());
    for (const command& cmd : m_programs[c]) {
      m_kind[c].push_back(static_cast<uint16_t>(kind_of_command(cmd)));
      m_engine[c].push_back(static_cast<uint8_t>(engine_of(cmd)));
      m_op[c].push_back(op_of(cmd));
    }
    m_group[c] = group_of_commands(m_programs[c], group_kind);
  }
  uint16_t max_op = 0;
  for (const auto& ops : m_op)
    for (uint16_t o : ops) max_op = std::max(max_op, o);
  m_op_rows.resize(size_t(max_op) + 1);
  for (size_t o = 0; o < m_op_rows.size(); ++o) m_op_rows[o].name = "op " + std::to_string(o);
  m_kind_rows.resize(kind_count);
  for (int k = 0; k < kind_count; ++k) m_kind_rows[k].name = kind_name(k);
  m_group_rows.resize(std::max<size_t>(1, group_kind.size()));
  for (size_t g = 0; g < m_group_rows.size(); ++g)
    m_group_rows[g].name =
        "group " + std::to_string(g) + ": " + (g < group_kind.size() ? kind_name(group_kind[g]) : "sync");

  size_t total = 0, transfers = 0;
  for (const program& p : m_programs) total += p.size();
  m_recs.reserve(total);
  // Every route planned before the first transfer starts, core by core in
  // program order: the flow network then leaves out the resources no set of
  // concurrent transfers can fill.
  for (int c = 0; c < n; ++c)
    for (size_t i = 0; i < m_programs[c].size(); ++i)
      if (is_transfer(c, i) && !moves_nothing(c, i)) {
        ++transfers;
        as_copy(c, i, [&](auto... copy) { route_of(copy...); });
      }
  m_net.seal();
  m_net.reserve_flows(transfers);
  for (int c = 0; c < n; ++c) poke(c);
  std::vector<int> wake;  // swapped with m_wake: both keep their capacity
  for (;;) {
    while (!m_wake.empty()) {
      wake.clear();
      wake.swap(m_wake);
      std::sort(wake.begin(), wake.end());
      wake.erase(std::unique(wake.begin(), wake.end()), wake.end());
      for (int c : wake) poke(c);
    }
    if (m_events.empty()) break;
    if (at_cut()) on_cut();
    const event e = m_events.top();
    m_events.pop();
    m_now = e.t;
    ++m_result.events;
    handle(e);
  }
  for (const core_state& s : m_st)
    if (!s.done()) deadlock();
  finish_result();
  return std::move(m_result);  // the model ends with the run
}

void model::finish_result() {
  perf_result& r = m_result;
  for (const core_state& s : m_st) {
    r.core_end_ns.push_back(s.end_ns);
    r.time_ns = std::max(r.time_ns, s.end_ns);
  }
  const double T = r.time_ns;
  // Critical path: from the command that ends last, follow what let each
  // command start. A command overlapping its successor (DMA tails) counts up
  // to the successor's start; gaps between commands count as sync.
  int cur = -1;
  for (size_t i = 0; i < m_recs.size(); ++i)
    if (cur < 0 || m_recs[i].end > m_recs[cur].end) cur = static_cast<int>(i);
  double cursor = cur >= 0 ? m_recs[cur].end : 0.0;
  while (cur >= 0) {
    const exec_rec& x = m_recs[cur];
    bound_times t{};
    const double len = x.end - x.start;
    const double counted = std::max(0.0, std::min(cursor, x.end) - x.start);
    if (len > 0) {
      const bound_times busy = busy_of(x);
      for (int b = 0; b < bound_count; ++b) t[b] = busy[b] * counted / len;
    }
    t[static_cast<int>(bound::sync)] += std::max(0.0, cursor - std::max(x.end, x.start));
    if (x.pred < 0) t[static_cast<int>(bound::sync)] += x.start;
    for (breakdown_row* row : {&m_kind_rows[m_kind[x.core][x.index]], &m_group_rows[m_group[x.core][x.index]],
                               &m_op_rows[m_op[x.core][x.index]]})
      for (int b = 0; b < bound_count; ++b) row->critical_ns[b] += t[b];
    for (int b = 0; b < bound_count; ++b) r.critical_path_ns[b] += t[b];
    cursor = std::min(cursor, x.start);
    cur = x.pred;
  }
  for (auto& row : m_kind_rows)
    if (row.commands) r.by_kind.push_back(row);
  for (auto& row : m_group_rows)
    if (row.commands) r.by_group.push_back(row);
  r.by_op = m_op_rows;
  for (const auto& row : r.by_kind)
    for (int b = 0; b < bound_count; ++b) r.bound_ns[b] += row.bound_ns[b];
  r.bounded_by = static_cast<bound>(std::max_element(r.critical_path_ns.begin(), r.critical_path_ns.end()) -
                                    r.critical_path_ns.begin());
  if (T <= 0) return;
  const double peak_flops = 2.0 * m_hw.core.matrix.rows * m_hw.core.matrix.cols *
                            m_hw.core.matrix.macs_per_pe_per_cycle * m_hw.core.clock_ghz * m_cores;
  r.compute_utilisation = r.flops / (T * peak_flops);
  for (const core_state& s : m_st) {
    r.dma_busy += s.busy_ns[0] / T / m_cores;
    r.matrix_busy += s.busy_ns[1] / T / m_cores;
    r.vector_busy += s.busy_ns[2] / T / m_cores;
  }
  double hbm_bytes = 0;
  for (int ch = 0; ch < m_channels; ++ch) {
    const double b = m_net.resource_bytes(channel(ch));
    hbm_bytes += b;
    r.hbm_channel_utilisation.push_back(b / (T * m_channel_peak));
  }
  r.hbm_utilisation = hbm_bytes / (T * m_channel_peak * m_channels);
  std::vector<link_load> links;
  int link_count = 0;
  for (int nd = 0; nd < m_cores; ++nd)
    for (int dir = 0; dir < 4; ++dir) {
      const int x = nd % m_w, y = nd / m_w;
      const bool exists =
          (dir == 0 && x + 1 < m_w) || (dir == 1 && x > 0) || (dir == 2 && y + 1 < m_h) || (dir == 3 && y > 0);
      if (!exists) continue;
      ++link_count;
      const double b = m_net.resource_bytes(link(nd, dir));
      r.noc_link_bytes += b;
      const double u = b / (T * m_link_bw);
      r.noc_link_utilisation_mean += u;
      r.noc_link_utilisation_max = std::max(r.noc_link_utilisation_max, u);
      if (b > 0) links.push_back({x, y, "EWSN"[dir], b, u});
    }
  if (link_count) r.noc_link_utilisation_mean /= link_count;
  // Busiest first; links equal to the byte (their sums round by the order
  // flows drain in) keep the order above.
  std::stable_sort(links.begin(), links.end(), [](const link_load& a, const link_load& b) {
    return std::llround(a.bytes) > std::llround(b.bytes);
  });
  if (links.size() > 8) links.resize(8);
  r.busiest_links = links;
}

nlohmann::json row_json(const breakdown_row& row) {
  nlohmann::json b;
  nlohmann::json crit;
  for (int i = 0; i < bound_count; ++i) {
    b[bound_name(static_cast<bound>(i))] = row.bound_ns[i];
    crit[bound_name(static_cast<bound>(i))] = row.critical_ns[i];
  }
  return {{"name", row.name},
          {"commands", row.commands},
          {"busy_ns", row.busy_ns},
          {"blocked_ns", row.blocked_ns},
          {"first_start_ns", row.first_start_ns},
          {"last_end_ns", row.last_end_ns},
          {"bytes", row.bytes},
          {"flops", row.flops},
          {"vector_elements", row.vector_elements},
          {"engine_busy_ns",
           {{"dma", row.engine_busy_ns[0]}, {"matrix", row.engine_busy_ns[1]}, {"vector", row.engine_busy_ns[2]}}},
          {"bound_ns", b},
          {"critical_path_ns", crit},
          {"bounded_by", bound_name(row.bounded_by())}};
}

}  // namespace

perf_result evaluate(const hw_config& hw, const std::vector<program>& programs, const perf_params& params,
                     const evaluate_options& options) {
  model m(hw, programs, params, options);
  return m.run();
}

nlohmann::json to_json(const perf_result& r) {
  nlohmann::json j;
  j["time_ns"] = r.time_ns;
  j["core_end_ns"] = r.core_end_ns;
  j["commands"] = r.commands;
  j["events"] = r.events;
  j["repeated_segments"] = r.repeated_segments;
  j["flops"] = r.flops;
  j["vector_elements"] = r.vector_elements;
  j["hbm_read_bytes"] = r.hbm_read_bytes;
  j["hbm_write_bytes"] = r.hbm_write_bytes;
  j["noc_link_bytes"] = r.noc_link_bytes;
  j["bounded_by"] = bound_name(r.bounded_by);
  for (int i = 0; i < bound_count; ++i) {
    j["bound_ns"][bound_name(static_cast<bound>(i))] = r.bound_ns[i];
    j["critical_path_ns"][bound_name(static_cast<bound>(i))] = r.critical_path_ns[i];
  }
  j["utilisation"] = {{"compute", r.compute_utilisation},
                      {"matrix_busy", r.matrix_busy},
                      {"vector_busy", r.vector_busy},
                      {"dma_busy", r.dma_busy},
                      {"hbm", r.hbm_utilisation},
                      {"hbm_channels", r.hbm_channel_utilisation},
                      {"noc_link_mean", r.noc_link_utilisation_mean},
                      {"noc_link_max", r.noc_link_utilisation_max}};
  j["busiest_links"] = nlohmann::json::array();
  for (const auto& l : r.busiest_links)
    j["busiest_links"].push_back(
        {{"x", l.x}, {"y", l.y}, {"dir", std::string(1, l.dir)}, {"bytes", l.bytes}, {"utilisation", l.utilisation}});
  j["by_kind"] = nlohmann::json::array();
  for (const auto& row : r.by_kind) j["by_kind"].push_back(row_json(row));
  j["by_op"] = nlohmann::json::array();
  for (const auto& row : r.by_op)
    if (row.commands) j["by_op"].push_back(row_json(row));
  j["by_group"] = nlohmann::json::array();
  for (const auto& row : r.by_group) j["by_group"].push_back(row_json(row));
  return j;
}

std::string summary(const perf_result& r) {
  std::ostringstream s;
  s.precision(4);
  s << "time " << r.time_ns / 1e3 << " us, bounded by " << bound_name(r.bounded_by) << "; " << r.flops / 1e9
    << " GFLOP, HBM " << (r.hbm_read_bytes + r.hbm_write_bytes) / 1e6 << " MB\n";
  s << "utilisation: compute " << 100 * r.compute_utilisation << "%, matrix busy " << 100 * r.matrix_busy << "%, HBM "
    << 100 * r.hbm_utilisation << "%, NoC links mean " << 100 * r.noc_link_utilisation_mean << "% max "
    << 100 * r.noc_link_utilisation_max << "%\n";
  s << "critical path:";
  for (int b = 0; b < bound_count; ++b)
    if (r.critical_path_ns[b] > 0)
      s << " " << bound_name(static_cast<bound>(b)) << " " << 100 * r.critical_path_ns[b] / r.time_ns << "%";
  s << "\n";
  auto critical = [](const breakdown_row& row) {
    double t = 0;
    for (double x : row.critical_ns) t += x;
    return t;
  };
  auto print = [&](const breakdown_row& row) {
    s << "  " << row.name << ": " << row.commands << " commands, busy " << row.busy_ns / 1e3 << " us, on critical path "
      << critical(row) / 1e3 << " us, " << row.bytes / 1e6 << " MB, " << row.flops / 1e9 << " GFLOP, bounded by "
      << bound_name(row.bounded_by()) << "\n";
  };
  s << "by command kind:\n";
  for (const auto& row : r.by_kind) print(row);
  // Groups: the ten with the most critical-path time, in program order.
  std::vector<size_t> order(r.by_group.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return critical(r.by_group[a]) > critical(r.by_group[b]); });
  if (order.size() > 10) order.resize(10);
  std::sort(order.begin(), order.end());
  s << "groups with the most critical-path time (" << order.size() << " of " << r.by_group.size() << "):\n";
  for (size_t i : order) print(r.by_group[i]);
  return s.str();
}

}  // namespace npuvp::perf
