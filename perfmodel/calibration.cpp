#include "perfmodel/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>
#include <type_traits>

#include "perfmodel/perfmodel.h"
#include "platform/base/error.h"
#include "platform/base/file_io.h"
#include "platform/memory_map.h"

namespace npuvp::perf {

perf_params parse_perf_params(const hw_config& hw, const std::string& yaml_text, const std::string& origin,
                              std::string& warning) {
  calibration_file f;
  f.params = first_principles_params(hw);
  config::yaml_reader r(config::parse_yaml(yaml_text, origin), origin, "");
  f.visit(r);
  r.finish();
  warning.clear();
  if (f.hw != hw.name)
    warning = "perfmodel: calibration " + origin + " was fitted on '" + f.hw + "', not on '" + hw.name +
              "'; its parameters may not fit this chip";
  return f.params;
}

perf_params load_perf_params(const hw_config& hw, const std::string& path, std::string& warning) {
  if (path.empty()) {
    warning =
        "perfmodel: no calibration file given; using first-principles parameters derived from the hardware "
        "config (uncalibrated)";
    return first_principles_params(hw);
  }
  return parse_perf_params(hw, read_file(path), path, warning);
}

namespace {

// Mesh hops between a core's router and channel 0's.
int hops_to_channel0(const hw_config& hw, int core) {
  const auto router = hbm_channel_routers(hw)[0];
  return std::abs(core % hw.mesh.width - router[0]) + std::abs(core / hw.mesh.width - router[1]);
}

// The first core (by index) at each distance from channel 0's router, nearest first, up to 4 distances.
std::vector<int> cores_by_distance(const hw_config& hw) {
  const int W = hw.mesh.width, H = hw.mesh.height;
  std::vector<int> by_distance;
  for (int d = 0; d < W + H && by_distance.size() < 4; ++d)
    for (int c = 0; c < W * H; ++c)
      if (hops_to_channel0(hw, c) == d) {
        by_distance.push_back(c);
        break;
      }
  return by_distance;
}

}  // namespace

std::vector<stride_probe> stride_probes(const hw_config& hw) {
  const uint64_t I = static_cast<uint64_t>(hw.hbm.interleave_bytes), C = static_cast<uint64_t>(hw.hbm.channels);
  const int N = hw.mesh.width * hw.mesh.height;
  const int nearest = cores_by_distance(hw).front();  // to channel 0's router
  std::vector<uint64_t> blocks;
  for (uint64_t k = 1; k <= 64; ++k) blocks.push_back(k);
  for (uint64_t k : {96, 128, 192, 256}) blocks.push_back(k);
  const uint64_t hbm_bytes = hw.hbm.capacity_bytes();
  std::vector<stride_probe> probes;
  for (uint64_t k : blocks) {
    const uint64_t stride = k * I * C;  // every row in channel 0, k blocks apart there
    // The `twice` run fits in a quarter of the SRAM and in half of the HBM.
    const uint64_t rows =
        std::min<uint64_t>({4096, hw.core.sram.capacity_bytes() / 4 / I / 2, hbm_bytes / 2 / stride / 2});
    if (rows < 8) break;
    stride_probe p;
    p.stride_bytes = k * I;
    p.row_count = rows;
    for (calibration_sample* s : {&p.rows, &p.twice}) {
      const uint64_t n = s == &p.rows ? rows : 2 * rows;
      s->name = "stride_" + std::to_string(k * I) + "_rows_" + std::to_string(n);
      s->programs.assign(static_cast<size_t>(N), kernels::program{kernels::end_cmd{}});
      kernels::dma_cmd d;
      d.row_bytes = static_cast<uint32_t>(I);
      d.rows = static_cast<uint32_t>(n);
      d.src_stride = stride;
      d.dst_stride = I;
      s->programs[static_cast<size_t>(nearest)] = {d, kernels::end_cmd{}};
    }
    probes.push_back(std::move(p));
  }
  return probes;
}

std::optional<link_probe> noc_link_probe(const hw_config& hw) {
  using namespace kernels;
  const int W = hw.mesh.width, H = hw.mesh.height;
  int at[4];
  if (W >= 4)
    for (int i = 0; i < 4; ++i) at[i] = i;
  else if (H >= 4)
    for (int i = 0; i < 4; ++i) at[i] = i * W;
  else
    return std::nullopt;
  const uint32_t bytes = static_cast<uint32_t>(std::min<uint64_t>(256 * 1024, hw.core.sram.capacity_bytes() / 8));
  link_probe probe;
  probe.extra_bytes = 2 * uint64_t(bytes / 2);  // each flow moves bytes / 2 more in `twice`
  for (calibration_sample* s : {&probe.once, &probe.twice}) {
    const uint32_t n = s == &probe.once ? bytes / 2 : bytes;
    s->name = "link_shared_" + std::to_string(n);
    s->programs.assign(static_cast<size_t>(W * H), program{end_cmd{}});
    for (const auto& [from, to] : {std::pair{at[0], at[2]}, std::pair{at[1], at[3]}}) {
      s->programs[size_t(from)] = {send_cmd{engine::dma, static_cast<uint16_t>(to), 0, 0, n, 1}, end_cmd{}};
      s->programs[size_t(to)] = {recv_cmd{engine::dma, static_cast<uint16_t>(from), 0, n, 1}, end_cmd{}};
    }
  }
  return probe;
}

double link_payload_efficiency(const hw_config& hw, const link_probe& measured) {
  const double streaming = measured.twice.measured_ns - measured.once.measured_ns;
  if (!(streaming > 0))
    throw error("perfmodel calibration: probe " + measured.twice.name + " took no longer than " + measured.once.name);
  return std::min(1.0, double(measured.extra_bytes) / streaming / hw.noc.link_bytes_per_ns());
}

namespace {
// A probe's streaming rate (bytes/ns; the fixed latency cancels out).
double probe_rate(const hw_config& hw, const stride_probe& p) {
  const double t = p.twice.measured_ns - p.rows.measured_ns;
  if (!(t > 0)) throw error("perfmodel calibration: probe " + p.twice.name + " took no longer than " + p.rows.name);
  return double(hw.hbm.interleave_bytes) * double(p.row_count) / t;
}

// The rate a probe's lone stream has between refreshes. The model stalls a
// DMA bound by its row cap for max(0, blocked - window / rate) of every
// refresh interval (flow_network::set_refresh), so a measured rate m comes
// from the rate r with r (1 - max(0, blocked - window / r) / interval) = m.
double unstalled_rate(const hw_config& hw, double measured) {
  const perf_params p = first_principles_params(hw);
  const double interval = p.hbm_refresh_interval_ns, blocked = p.hbm_refresh_blocked_ns;
  // A probe row is one interleave block, cut into DMA bursts (at most max_outstanding in flight).
  const uint64_t block = hw.hbm.interleave_bytes;
  const double burst =
      double(block) / mean_bursts_per_row(uint64_t(hw.core.dma.burst_bytes), 0, 0, block, 1, block, block);
  const double window = double(hw.core.dma.max_outstanding) * burst;
  if (!(interval > 0) || blocked * measured <= window) return measured;
  return (measured - window / interval) / (1 - blocked / interval);
}
}  // namespace

std::vector<stride_locality> stride_localities(const hw_config& hw, const std::vector<stride_probe>& measured) {
  std::vector<stride_locality> table;
  if (measured.empty()) return table;
  const double base = unstalled_rate(hw, probe_rate(hw, measured.front()));
  for (const stride_probe& p : measured)
    table.push_back({p.stride_bytes, std::min(1.0, unstalled_rate(hw, probe_rate(hw, p)) / base)});
  return table;
}

double stride_base_fraction(const hw_config& hw, const std::vector<stride_probe>& measured) {
  if (measured.empty()) return 1.0;
  return std::min(1.0, unstalled_rate(hw, probe_rate(hw, measured.front())) / hw.hbm.peak_gbps());
}

namespace {

// Lists every double parameter with its range (visit() table).
struct param_ref {
  std::string key;
  double* value;
  double lo, hi;
};
class param_collector {
 public:
  explicit param_collector(std::vector<param_ref>& out) : m_out(out) {}
  template <class T>
  void field(const char* key, T& value, const char*, const char*, double lo = -config::no_limit,
             double hi = config::no_limit) {
    if constexpr (std::is_same_v<T, double>) m_out.push_back({key, &value, lo, hi});
  }
  template <class S>
  void list(const char*, std::vector<S>&, const char*) {}  // measured, not fitted
  template <class F>
  void derive(F&&) {}
  void check(bool, const char*, const std::string&) const {}

 private:
  std::vector<param_ref>& m_out;
};

// "key: value, ..." of one list item (yaml_writer::list).
struct item_writer {
  std::ostringstream& out;
  bool first = true;
  template <class T>
  void field(const char* key, T& value, const char*, const char*, double = 0, double = 0) {
    out << (first ? "" : ", ") << key << ": " << config::to_text(value);
    first = false;
  }
};

// YAML lines "key: value  # unit, meaning" from the visit() table.
class yaml_writer {
 public:
  explicit yaml_writer(std::ostringstream& out) : m_out(out) {}
  template <class T>
  void field(const char* key, T& value, const char* unit, const char* doc, double = 0, double = 0) {
    m_out << "  " << key << ": " << config::to_text(value) << "  # " << (*unit ? std::string(unit) + ", " : "") << doc
          << "\n";
  }
  // A list of mappings, one flow mapping per line.
  template <class S>
  void list(const char* key, std::vector<S>& items, const char* doc) {
    m_out << "  " << key << ":" << (items.empty() ? " []" : "") << "  # " << doc << "\n";
    for (S& item : items) {
      m_out << "    - {";
      item_writer w{m_out};
      item.visit(w);
      m_out << "}\n";
    }
  }
  template <class F>
  void derive(F&&) {}
  void check(bool, const char*, const std::string&) const {}

 private:
  std::ostringstream& m_out;
};

}  // namespace

std::string calibration_yaml(const hw_config& hw, const perf_params& params, const fit_quality& fit) {
  std::ostringstream s;
  s.precision(10);
  s << "# npuvp perfmodel calibration (docs/perfmodel.md)\n";
  s << "hw: " << hw.name << "\n";
  s << "params:\n";
  yaml_writer w(s);
  const_cast<perf_params&>(params).visit(w);
  s << "fit:\n";
  const_cast<fit_quality&>(fit).visit(w);
  return s.str();
}

void write_calibration(const std::string& path, const hw_config& hw, const perf_params& params,
                       const fit_quality& fit) {
  write_file_atomically(path, calibration_yaml(hw, params, fit));
}

std::vector<calibration_sample> calibration_suite(const hw_config& hw) {
  using namespace kernels;
  const int W = hw.mesh.width, H = hw.mesh.height, N = W * H;
  const uint64_t I = static_cast<uint64_t>(hw.hbm.interleave_bytes), C = static_cast<uint64_t>(hw.hbm.channels);
  const uint64_t sram = hw.core.sram.capacity_bytes();
  const uint64_t big = std::min<uint64_t>(256 * 1024, sram / 4) / I * I;  // bytes of a bandwidth sample
  auto idle = [&] { return std::vector<program>(static_cast<size_t>(N), program{end_cmd{}}); };
  auto load = [&](uint64_t hbm, uint64_t row, uint64_t rows, uint64_t stride, uint64_t dst) {
    dma_cmd d;
    d.src = hbm;
    d.dst = dst;
    d.row_bytes = static_cast<uint32_t>(row);
    d.rows = static_cast<uint32_t>(rows);
    d.src_stride = stride;
    d.dst_stride = row;
    return d;
  };
  std::vector<calibration_sample> suite;
  auto add = [&](std::string name, std::vector<program> programs, std::vector<std::string> informs) {
    suite.push_back({std::move(name), std::move(programs), 0, std::move(informs)});
  };
  const uint64_t channel0_rows = std::min<uint64_t>(64, sram / 4 / I);
  for (int core : cores_by_distance(hw)) {
    const std::string d = std::to_string(hops_to_channel0(hw, core));
    auto p = idle();
    p[core] = {load(0, I, 1, I, 0), end_cmd{}};
    add("read_latency_d" + d, p, {"hbm_read_latency_ns", "noc_hop_ns", "dma_setup_ns"});
    dma_cmd st;
    st.src_space = mem_space::sram;
    st.dst_space = mem_space::hbm;
    st.row_bytes = static_cast<uint32_t>(I);
    p[core] = {st, end_cmd{}};
    add("write_latency_d" + d, p, {"hbm_write_latency_ns", "noc_hop_ns"});
    p[core] = {load(0, I, channel0_rows, C * I, 0), end_cmd{}};
    add("read_stream_d" + d, p, {"hbm_efficiency_strided"});
  }
  {
    auto seq = idle(), strided = idle(), random = idle();
    const uint64_t rows = big / I, run = std::max<uint64_t>(32, I / 4);
    // At most one stream per bank of a channel, spread over the mesh: with
    // more streams than banks every access of a channel conflicts (64 cores
    // on the 8x8's 32-bank channels: 3 % row hits, half the bandwidth of 32),
    // a regime the model does not represent.
    const int streams = std::min(N, hw.hbm.org.pseudo_channels * hw.hbm.org.banks());
    for (int i = 0; i < streams; ++i) {
      const int c = i * N / streams;
      seq[c] = {load(i * big, big, 1, big, 0), end_cmd{}};
      const uint64_t region = rows * (C + 1) * I;
      strided[c] = {load(i * region, I, rows, (C + 1) * I, 0), end_cmd{}};
      random[c] = {load(i * region, run, rows, (C + 1) * I, 0), end_cmd{}};
    }
    add("hbm_sequential_all", seq, {"hbm_efficiency_sequential"});
    add("hbm_strided_all", strided, {"hbm_efficiency_strided"});
    add("hbm_random_all", random, {"hbm_efficiency_random"});
  }
  // n cores of a 2x2 block stream their own contiguous regions at once: every
  // channel serves n interleaved streams, each core's DMA is window-limited
  // by the loaded round trip (hbm_stream_latency_ns).
  for (int n : {2, 4}) {
    if (n > N || W < 2) break;
    auto p = idle();
    for (int i = 0; i < n; ++i) {
      const int c = i % 2 + (i / 2) * W;
      p[c] = {load(uint64_t(i) * big, big, 1, big, 0), end_cmd{}};
    }
    add("hbm_streams_" + std::to_string(n), p, {"hbm_stream_latency_ns", "hbm_stream_penalty"});
  }
  for (int n : {1, 2, 4}) {
    if (n > N) break;
    auto p = idle();
    for (int c = 0; c < n; ++c) p[c] = {load(c * channel0_rows * C * I, I, channel0_rows, C * I, 0), end_cmd{}};
    add("streams_" + std::to_string(n), p, {"hbm_stream_penalty"});
  }
  // The streamed weight tiles of a wide GEMM (gate_up of Qwen3-1.7B: 128
  // bf16 columns of a 6144-column matrix, row stride 12 KiB = 6 x C x I):
  // every row lands in the same channel, one DRAM row apart, and the four
  // cores of a 2x2 block read their own tiles of that channel at once.
  if (N >= 4 && W >= 2) {
    auto p = idle();
    for (int i = 0; i < 4; ++i)
      p[i % 2 + (i / 2) * W] = {load(uint64_t(i) * channel0_rows * 6 * C * I, I, channel0_rows, 6 * C * I, 0),
                                end_cmd{}};
    add("streams_4_wide", p, {"hbm_efficiency_strided", "hbm_stream_latency_ns"});
  }
  // The four cores of a 2x2 block each read a tile of one interleave block
  // per row from channel 0 at once, at channel-local strides that cost a
  // single stream row cycles (the K slices of a wide matrix): how much the
  // streams recover of each other's loss.
  if (N >= 4 && W >= 2)
    for (uint64_t k : {12, 19}) {
      auto p = idle();
      for (uint64_t i = 0; i < 4; ++i)
        p[i % 2 + (i / 2) * W] = {load(i * channel0_rows * k * C * I, I, channel0_rows, k * C * I, 0), end_cmd{}};
      add("streams_4_rows_" + std::to_string(k * I), p, {"hbm_row_overlap"});
    }
  const int far = N - 1;
  for (int peer : {1, far}) {
    if (peer >= N || peer == 0) continue;
    const uint32_t bytes = static_cast<uint32_t>(big / 4);
    auto p = idle();
    p[0] = {send_cmd{engine::dma, static_cast<uint16_t>(peer), 0, 0, bytes, 1}, end_cmd{}};
    p[peer] = {recv_cmd{engine::dma, 0, 0, bytes, 1}, end_cmd{}};
    add("send_d" + std::to_string(peer % W + peer / W), p, {"noc_hop_ns"});
  }
  // n cores of row 0 send to the last core of the row at once: their packets
  // interleave on the links of the row and on its ejection port.
  for (int n : {2, 3}) {
    if (n >= W) break;
    const uint32_t bytes = static_cast<uint32_t>(big / 4);
    const uint16_t sink = static_cast<uint16_t>(W - 1);
    auto p = idle();
    p[sink].clear();
    for (int c = 0; c < n; ++c) {
      p[c] = {send_cmd{engine::dma, sink, 0, c * bytes, bytes, 1}, end_cmd{}};
      p[sink].push_back(recv_cmd{engine::dma, static_cast<uint16_t>(c), c * bytes, bytes, 1});
    }
    p[sink].push_back(end_cmd{});
    add("noc_shared_" + std::to_string(n), p, {"noc_stream_penalty"});
  }
  // A core's ejection port carrying HBM read data and a neighbour's send at
  // once (the mix of weight streaming and collectives).
  if (N > 1) {
    const uint32_t bytes = static_cast<uint32_t>(big / 4);
    auto p = idle();
    p[0] = {load(0, big, 1, big, 0), recv_cmd{engine::dma, 1, static_cast<uint32_t>(big), bytes, 1}, end_cmd{}};
    p[1] = {send_cmd{engine::dma, 0, 0, static_cast<uint32_t>(big), bytes, 1}, end_cmd{}};
    add("port_mixed", p, {"noc_stream_penalty"});
  }
  // The four cores of a 2x2 block each load from HBM and send to the next
  // core of the block (a ring all-gather running with weight streaming).
  if (W >= 2 && H >= 2) {
    const uint32_t bytes = static_cast<uint32_t>(big / 4);
    const int ring[4] = {0, 1, W + 1, W};
    auto p = idle();
    for (int i = 0; i < 4; ++i) {
      const int c = ring[i], next = ring[(i + 1) % 4], prev = ring[(i + 3) % 4];
      p[c] = {load(uint64_t(i) * big, big, 1, big, 0),
              send_cmd{engine::dma, static_cast<uint16_t>(next), 0, static_cast<uint32_t>(big), bytes, 1},
              recv_cmd{engine::dma, static_cast<uint16_t>(prev), static_cast<uint32_t>(big), bytes, 1}, end_cmd{}};
    }
    add("ring_mixed", p, {"noc_stream_penalty"});
  }
  // Four cores of row 0 in a ring, each sending to the next: every link
  // carries one send's data and another's write responses, and the
  // wrap-around send crosses three such links in series (noc_series_loss).
  if (W >= 4) {
    const uint32_t bytes = static_cast<uint32_t>(big / 4);
    auto p = idle();
    for (int c = 0; c < 4; ++c) {
      const int next = (c + 1) % 4, prev = (c + 3) % 4;
      p[c] = {send_cmd{engine::dma, static_cast<uint16_t>(next), 0, bytes, bytes, 1},
              recv_cmd{engine::dma, static_cast<uint16_t>(prev), bytes, bytes, 1}, end_cmd{}};
    }
    add("ring_row", p, {"noc_series_loss"});
  }
  if (far > 0) {
    auto p = idle();
    p[0].clear();
    p[far].clear();
    for (int r = 0; r < 8; ++r) {
      p[0].push_back(signal_cmd{engine::sync, 16, static_cast<uint16_t>(far), 1});
      p[0].push_back(wait_cmd{engine::sync, 17, 1});
      p[far].push_back(wait_cmd{engine::sync, 16, 1});
      p[far].push_back(signal_cmd{engine::sync, 17, 0, 1});
    }
    p[0].push_back(end_cmd{});
    p[far].push_back(end_cmd{});
    add("signal_pingpong", p, {"signal_overhead_ns", "noc_hop_ns"});
  }
  {
    auto p = idle();
    p[0].clear();
    matmul_cmd m;
    m.m = m.k = m.n = 8;
    m.lda = m.ldb = m.ldc = 8;
    m.b = 256;
    m.c = 512;
    for (int i = 0; i < 64; ++i) p[0].push_back(m);
    p[0].push_back(end_cmd{});
    add("command_chain", p, {"command_overhead_ns"});
  }
  {
    auto p = idle();
    p[0].clear();
    for (uint64_t i = 0; i < 8; ++i) p[0].push_back(load(i * I, I, 1, I, i * I));
    p[0].push_back(end_cmd{});
    add("dma_chain", p, {"dma_setup_ns"});
    dma_cmd cp;
    cp.src_space = cp.dst_space = mem_space::sram;
    cp.dst = big / 2;
    cp.row_bytes = static_cast<uint32_t>(big / 2);
    p[0] = {cp, end_cmd{}};
    add("local_copy", p, {"sram_access_ns", "dma_setup_ns"});
  }
  return suite;
}

namespace {

// Solves A x = b (k x k, row-major) by Gaussian elimination with partial
// pivoting; a singular pivot leaves that unknown at 0.
std::vector<double> solve(std::vector<double> A, std::vector<double> b) {
  const size_t k = b.size();
  for (size_t c = 0; c < k; ++c) {
    size_t piv = c;
    for (size_t r = c + 1; r < k; ++r)
      if (std::fabs(A[r * k + c]) > std::fabs(A[piv * k + c])) piv = r;
    for (size_t j = 0; j < k; ++j) std::swap(A[c * k + j], A[piv * k + j]);
    std::swap(b[c], b[piv]);
    if (std::fabs(A[c * k + c]) < 1e-300) continue;
    for (size_t r = c + 1; r < k; ++r) {
      const double f = A[r * k + c] / A[c * k + c];
      for (size_t j = c; j < k; ++j) A[r * k + j] -= f * A[c * k + j];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> x(k, 0.0);
  for (size_t c = k; c-- > 0;) {
    if (std::fabs(A[c * k + c]) < 1e-300) continue;
    double v = b[c];
    for (size_t j = c + 1; j < k; ++j) v -= A[c * k + j] * x[j];
    x[c] = v / A[c * k + c];
  }
  return x;
}

}  // namespace

void check_fit_params(const std::vector<std::string>& names) {
  perf_params p;
  std::vector<param_ref> all;
  param_collector collect(all);
  p.visit(collect);
  for (const auto& name : names)
    if (std::none_of(all.begin(), all.end(), [&](const param_ref& r) { return r.key == name; }))
      throw error("perfmodel fit: no parameter '" + name + "'");
}

fit_report fit(const hw_config& hw, const std::vector<calibration_sample>& samples, const perf_params& start,
               const std::vector<std::string>& free_params) {
  if (samples.empty()) throw error("perfmodel fit: no samples");
  for (const auto& s : samples)
    if (!(s.measured_ns > 0)) throw error("perfmodel fit: sample '" + s.name + "' has no positive measured time");
  fit_report rep;
  rep.params = start;
  std::vector<param_ref> all;
  param_collector collect(all);
  rep.params.visit(collect);
  std::vector<std::string> names = free_params;
  if (names.empty())
    for (const auto& s : samples)
      for (const auto& key : s.informs)
        if (std::find(names.begin(), names.end(), key) == names.end()) names.push_back(key);
  check_fit_params(names);
  std::vector<param_ref> free;
  for (const auto& p : all)
    if (std::find(names.begin(), names.end(), p.key) != names.end()) free.push_back(p);
  // Search range of each parameter: its table bounds, open ones narrowed around the start value.
  std::vector<std::pair<double, double>> range;
  for (const auto& p : free) {
    const double x0 = *p.value;
    range.emplace_back(std::max(p.lo, 0.0), std::min(p.hi, std::max(8 * x0, 100.0)));
  }

  auto residuals = [&] {
    ++rep.evaluations;
    std::vector<double> r;
    for (const auto& s : samples)
      r.push_back((evaluate(hw, s.programs, rep.params).time_ns - s.measured_ns) / s.measured_ns);
    return r;
  };
  auto cost_of = [](const std::vector<double>& r) {
    double c = 0;
    for (double e : r) c += e * e;
    return c;
  };
  double best = cost_of(residuals());

  // 1. One sweep per parameter: a 16-point grid over its range (robust to the
  //    kinks of min() in the model), then a golden-section search between the
  //    best point's neighbours.
  auto sweep = [&] {
    for (size_t j = 0; j < free.size(); ++j) {
      double& x = *free[j].value;
      const auto [lo, hi] = range[j];
      const int grid = 16;
      double bx = x, bf = best;
      for (int g = 0; g <= grid; ++g) {
        x = lo + (hi - lo) * g / grid;
        const double f = cost_of(residuals());
        if (f < bf) bf = f, bx = x;
      }
      const double step = (hi - lo) / grid;
      double a = std::max(lo, bx - step), b = std::min(hi, bx + step);
      const double gr = (std::sqrt(5.0) - 1) / 2;
      double c = b - gr * (b - a), d = a + gr * (b - a);
      x = c;
      double fc = cost_of(residuals());
      x = d;
      double fd = cost_of(residuals());
      for (int it = 0; it < 24; ++it) {
        if (fc <= fd) {
          b = d, d = c, fd = fc, c = b - gr * (b - a), x = c, fc = cost_of(residuals());
        } else {
          a = c, c = d, fc = fd, d = a + gr * (b - a), x = d, fd = cost_of(residuals());
        }
      }
      if (fc < bf) bf = fc, bx = c;
      if (fd < bf) bf = fd, bx = d;
      x = bx;
      best = bf;
    }
  };
  // 2. Levenberg-Marquardt on the relative residuals, forward-difference
  //    Jacobian, steps clamped to the ranges.
  auto polish = [&] {
    const size_t k = free.size();
    double lambda = 1e-3;
    for (int it = 0; it < 50 && best > 1e-20; ++it) {
      const std::vector<double> r0 = residuals();
      std::vector<std::vector<double>> J(k);
      for (size_t j = 0; j < k; ++j) {
        double& x = *free[j].value;
        const double x0 = x, h = 1e-5 * std::max(std::fabs(x0), 1.0);
        x = x0 + h <= range[j].second ? x0 + h : x0 - h;
        const std::vector<double> r1 = residuals();
        for (size_t i = 0; i < r0.size(); ++i) J[j].push_back((r1[i] - r0[i]) / (x - x0));
        x = x0;
      }
      std::vector<double> JtJ(k * k, 0.0), Jtr(k, 0.0);
      for (size_t a = 0; a < k; ++a) {
        for (size_t i = 0; i < r0.size(); ++i) Jtr[a] -= J[a][i] * r0[i];
        for (size_t b = 0; b < k; ++b)
          for (size_t i = 0; i < r0.size(); ++i) JtJ[a * k + b] += J[a][i] * J[b][i];
      }
      bool improved = false;
      for (int tries = 0; tries < 8 && !improved; ++tries) {
        std::vector<double> A = JtJ;
        for (size_t a = 0; a < k; ++a) A[a * k + a] += lambda * (JtJ[a * k + a] + 1e-12);
        const std::vector<double> delta = solve(A, Jtr);
        std::vector<double> old;
        for (size_t j = 0; j < k; ++j) {
          old.push_back(*free[j].value);
          *free[j].value = std::clamp(old[j] + delta[j], range[j].first, range[j].second);
        }
        const double f = cost_of(residuals());
        if (f < best) {
          improved = true;
          lambda = std::max(lambda / 3, 1e-9);
          const double gain = best - f;
          best = f;
          if (gain < 1e-14 * std::max(best, 1e-30)) it = 50;
        } else {
          for (size_t j = 0; j < k; ++j) *free[j].value = old[j];
          lambda *= 4;
        }
      }
      if (!improved) break;
    }
  };
  for (int round = 0; round < 2 && best > 1e-20; ++round) {
    sweep();
    polish();
  }

  rep.quality.samples = static_cast<int>(samples.size());
  const std::vector<double> r = residuals();
  double sum = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    rep.model_ns.push_back(samples[i].measured_ns * (1 + r[i]));
    const double e = 100.0 * std::fabs(r[i]);
    sum += e;
    rep.quality.max_error_percent = std::max(rep.quality.max_error_percent, e);
  }
  rep.quality.mape_percent = sum / samples.size();
  return rep;
}

}  // namespace npuvp::perf
