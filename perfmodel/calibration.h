// Calibration of the perfmodel against the TLM platform (docs/perfmodel.md):
// the YAML file format (read with the config schema framework, so unknown keys
// are errors with file:line), its writer, and fit(): least squares of the
// relative error between the model and measured times of micro-benchmarks.
// The measurement side (`npuvp calibrate`, running the micro-benchmarks on the
// TLM platform) is not here.
#pragma once

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
void write_calibration(const std::string& path, const hw_config& hw, const perf_params& params,
                       const fit_quality& fit);

// One micro-benchmark: the command streams run on the TLM platform and the
// time it measured.
struct calibration_sample {
  std::string name;
  std::vector<kernels::program> programs;
  double measured_ns = 0;
};

struct fit_report {
  perf_params params;
  std::vector<double> model_ns;  // per sample, with the fitted params
  fit_quality quality;
  int evaluations = 0;           // perfmodel runs over the whole sample set
};

// Fits the parameters named in `free_params` (every perf_params key when
// empty) by minimising the sum over samples of ((model - measured) / measured)^2:
// coordinate descent, a golden-section search per parameter within its range,
// until a sweep improves the objective by less than 1e-10 (at most 30 sweeps).
// The other parameters keep their values from `start`.
fit_report fit(const hw_config& hw, const std::vector<calibration_sample>& samples, const perf_params& start,
               const std::vector<std::string>& free_params = {});

}  // namespace npuvp::perf
