// Calibration of the perfmodel against the TLM platform (docs/perfmodel.md):
// the YAML file format (read with the config schema framework, so unknown keys
// are errors with file:line), its writer, and fit(): least squares of the
// relative error between the model and measured times of micro-benchmarks.
// The measurement side (`npuvp calibrate`, running the micro-benchmarks on the
// TLM platform) is not here.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kernels/command.h"
#include "perfmodel/perf_params.h"
#include "platform/config/hw_config.h"

namespace npuvp::perf {

struct fit_quality {
  int samples = 0;
  double mape_percent = 0;
  double max_error_percent = 0;
  template <class V>
  void visit(V& v) {
    v.field("samples", samples, "", "micro-benchmarks the parameters were fitted on", 0, 1e9);
    v.field("mape_percent", mape_percent, "%", "mean absolute percentage error of the model on them", 0, 1e9);
    v.field("max_error_percent", max_error_percent, "%", "largest absolute percentage error on them", 0, 1e9);
  }
};

// The calibration file:
//   hw: npu4x4            # hw_config name it was fitted on
//   params: {...}         # any subset of perf_params keys; the others keep
//                         # their first-principles values
//   fit: {samples: 24, mape_percent: 2.1, max_error_percent: 6.3}
struct calibration_file {
  std::string hw;
  perf_params params;
  fit_quality fit;
  template <class V>
  void visit(V& v) {
    v.field("hw", hw, "", "name of the hardware config the parameters were fitted on");
    v.section("params", params, "perfmodel parameters (others: first-principles values)");
    v.section("fit", fit, "quality of the fit (informational)");
  }
};

// The parameters for `hw`: the calibration file at `path` over the
// first-principles values. An empty path gives the first-principles values and
// sets `warning` (for the CLI to print); so does a file fitted on another chip
// name. Throws config_error for a malformed file.
perf_params load_perf_params(const hw_config& hw, const std::string& path, std::string& warning);
perf_params parse_perf_params(const hw_config& hw, const std::string& yaml_text, const std::string& origin,
                              std::string& warning);
// Writes a calibration file (every parameter, with unit and meaning as comments).
std::string calibration_yaml(const hw_config& hw, const perf_params& params, const fit_quality& fit);
void write_calibration(const std::string& path, const hw_config& hw, const perf_params& params, const fit_quality& fit);

// One micro-benchmark: the command streams run on the TLM platform and the
// time it measured.
struct calibration_sample {
  std::string name;
  std::vector<kernels::program> programs;
  double measured_ns = 0;
  std::vector<std::string> informs;  // the parameters it mainly constrains
};

// The standard micro-benchmarks for `hw` (measured_ns = 0, to be measured on
// the TLM platform), together making every double parameter observable:
//   read_latency_d<d> / write_latency_d<d>  one interleave block from/to HBM
//       channel 0 by a core d hops from it (HBM latencies, noc_hop_ns);
//   read_stream_d<d>   64 blocks of channel 0 (its port / channel bandwidth);
//   hbm_{sequential,strided,random}_all     every core, or at most
//       pseudo_channels x banks of them spread over the mesh, loads its own
//       region (HBM efficiencies: the channels are the bottleneck);
//   streams_<n>        n cores load from channel 0 at once (hbm_stream_penalty);
//   streams_4_wide     the 4 cores of a 2x2 block read their weight tiles of
//                      a wide matrix from channel 0 at once
//                      (hbm_efficiency_strided, hbm_stream_latency_ns);
//   streams_4_rows_<s> the 4 cores of a 2x2 block read tiles of one block per
//                      row from channel 0 at channel-local stride s, where one
//                      stream loses to row cycles (hbm_row_overlap);
//   hbm_streams_<n>    n cores of a 2x2 block load their own contiguous
//                      regions at once (hbm_stream_latency_ns);
//   send_d<d>          core-to-core transfer (noc_hop_ns);
//   noc_shared_<n>     n cores of row 0 send to its last core at once
//                      (noc_stream_penalty);
//   port_mixed         core 0 loads from HBM while core 1 sends to it
//                      (noc_stream_penalty);
//   ring_mixed         each core of a 2x2 block loads from HBM and sends to
//                      the next one of the block (noc_stream_penalty);
//   ring_row           the 4 cores of row 0 in a ring, each sending to the
//                      next: the wrap-around send crosses 3 saturated links
//                      (noc_series_loss);
//   signal_pingpong    8 semaphore round trips between distant cores;
//   command_chain      64 tiny matmuls (command_overhead_ns);
//   dma_chain          8 back-to-back one-block loads (dma_setup_ns, overlap);
//   local_copy         an SRAM-to-SRAM copy on one core (sram_access_ns).
std::vector<calibration_sample> calibration_suite(const hw_config& hw);

// Row-locality probes (measured, not fitted: perf_params::hbm_stride_locality
// and hbm_stride_base_fraction). For each channel-local stride (multiples of
// one interleave block, from one block to 256), the core nearest to channel 0
// reads one block per row from channel 0 at that stride, row_count (4096, or
// fewer if the SRAM or HBM is small) and twice as many rows (the samples
// `rows` and `twice`): the difference of the two times is the streaming time
// of row_count rows without the fixed latency, over several refresh intervals
// (4096 rows of 256 B take at least 20 us on an HBM3 channel).
struct stride_probe {
  uint64_t stride_bytes = 0, row_count = 0;
  calibration_sample rows, twice;
};
std::vector<stride_probe> stride_probes(const hw_config& hw);
// The table from the measured probes: each probe's streaming rate relative
// to the first probe's (consecutive blocks), at most 1. Rates are taken
// between refreshes: what the model's refresh stall (perf_params::
// hbm_refresh_blocked_ns) takes from a lone stream is added back.
std::vector<stride_locality> stride_localities(const hw_config& hw, const std::vector<stride_probe>& measured);
// The first probe's streaming rate between refreshes over the channel's peak, at most 1.
double stride_base_fraction(const hw_config& hw, const std::vector<stride_probe>& measured);

// NoC link probe (measured, not fitted: perf_params::noc_payload_efficiency).
// Four routers in a row (row 0, or column 0 of a narrow mesh): a -> c and
// b -> d share only the link b -> c and end at their own cores. Run at two
// lengths, the difference of the two times is the time the link takes to
// carry the extra bytes of both flows (latencies cancel). Two DMA engines
// must be able to fill a link (on both presets one send alone nearly does).
struct link_probe {
  uint64_t extra_bytes = 0;  // carried by the shared link in `twice` beyond `once`
  calibration_sample once, twice;
};
// None when the mesh has no row or column of 4 routers (the first-principles value stays).
std::optional<link_probe> noc_link_probe(const hw_config& hw);
// The measured payload as a fraction of the link's raw bandwidth, at most 1.
double link_payload_efficiency(const hw_config& hw, const link_probe& measured);

struct fit_report {
  perf_params params;
  std::vector<double> model_ns;  // per sample, with the fitted params
  fit_quality quality;
  int evaluations = 0;  // perfmodel runs over the whole sample set
};

// Fits the (double) parameters named in `free_params` (when empty, those the
// samples inform: the others, such as share_queue_ns, no sample constrains) by
// least squares of the relative errors, sum over samples of
// ((model - measured) / measured)^2, within each parameter's range (open
// ranges narrowed to [0, max(8 x start, 100)]): twice, a sweep over
// the parameters (16-point grid, then golden section near the best point;
// robust to the kinks of the model's min()) followed by Levenberg-Marquardt
// with a forward-difference Jacobian. The other parameters keep their values
// from `start`.
fit_report fit(const hw_config& hw, const std::vector<calibration_sample>& samples, const perf_params& start,
               const std::vector<std::string>& free_params = {});
// Throws npuvp::error naming the first of `names` that is no parameter fit()
// can fit (before the micro-benchmarks run).
void check_fit_params(const std::vector<std::string>& names);

}  // namespace npuvp::perf
