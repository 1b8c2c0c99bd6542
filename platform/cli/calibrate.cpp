// `npuvp calibrate`: runs the perfmodel's calibration micro-benchmarks
// (perf::calibration_suite) on the TLM chip, one isolated simulation each,
// fits the perfmodel parameters to the measured times and writes the
// calibration file (docs/perfmodel.md).
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include "perfmodel/calibration.h"
#include "perfmodel/perfmodel.h"
#include "platform/base/file_io.h"
#include "platform/base/stopwatch.h"
#include "platform/chip_run.h"
#include "platform/cli/command.h"
#include "platform/config/hw_config.h"
#include "platform/sim/isolated_run.h"

namespace npuvp::cli {

int calibrate(const std::vector<std::string>& args) {
  po::options_description desc("calibrate options");
  std::string hw_file, out_file, params_list;
  int parallel = 2;
  desc.add_options()("hw", po::value(&hw_file)->required(), "hardware YAML file")(
      "out,o", po::value(&out_file)->required(), "calibration YAML to write")(
      "params", po::value(&params_list), "comma-separated perf_params keys to fit (default: every parameter a micro-benchmark informs)")(
      "parallel", po::value(&parallel)->default_value(parallel), "simulations run at once");
  po::variables_map vm;
  if (!parse("npuvp calibrate --hw FILE -o|--out FILE [--params a,b,...] [--parallel N]", desc, args, vm)) return 0;
  if (parallel < 1) throw usage_error("--parallel must be >= 1");
  const hw_config hw = load_hw_config(hw_file);
  check_writable(out_file);
  std::vector<std::string> free;
  for (std::stringstream ss(params_list); ss.good();) {
    std::string key;
    std::getline(ss, key, ',');
    if (!key.empty()) free.push_back(key);
  }
  perf::check_fit_params(free);
  std::vector<perf::calibration_sample> suite = perf::calibration_suite(hw);
  std::vector<perf::stride_probe> probes = perf::stride_probes(hw);
  std::vector<perf::calibration_sample*> runs;  // the suite, then both runs of every probe (row locality, link)
  for (auto& s : suite) runs.push_back(&s);
  for (auto& p : probes) runs.insert(runs.end(), {&p.rows, &p.twice});
  std::optional<perf::link_probe> link = perf::noc_link_probe(hw);
  if (link) runs.insert(runs.end(), {&link->once, &link->twice});
  std::vector<isolated_job> jobs;
  std::vector<std::string> names;
  for (const perf::calibration_sample* s : runs) {
    jobs.push_back([&hw, s] {
      const stopwatch clock;
      const stats_writer st = run_chip(hw, s->programs, {});
      return nlohmann::json{{"elapsed_ns", st.value(hw.name, "elapsed_ns")}, {"wall_s", clock.seconds()}};
    });
    names.push_back(s->name);
  }
  std::cout << "running " << suite.size() << " micro-benchmarks, " << 2 * probes.size() << " row-locality probes and "
            << (link ? 2 : 0) << " link probes on the TLM chip (" << parallel << " at a time)\n";
  const auto results = run_isolated(jobs, parallel, progress_lines(std::move(names)));
  for (size_t i = 0; i < runs.size(); ++i) runs[i]->measured_ns = results[i]["elapsed_ns"].get<double>();
  perf::perf_params start = perf::first_principles_params(hw);
  start.hbm_stride_locality = perf::stride_localities(hw, probes);
  start.hbm_stride_base_fraction = perf::stride_base_fraction(hw, probes);
  if (link) start.noc_payload_efficiency = perf::link_payload_efficiency(hw, *link);
  std::cout << "NoC link payload (two sends sharing one link): " << start.noc_payload_efficiency
            << " of its raw bandwidth"
            << (link ? "" : " (first principles: no row or column of 4 routers to measure it on)") << "\n";
  std::cout << "one-block reads of consecutive blocks from one channel: " << start.hbm_stride_base_fraction
            << " of its peak\n";
  std::cout << "row locality of one-block reads by channel-local stride (B: fraction of consecutive blocks):";
  for (size_t i = 0; i < start.hbm_stride_locality.size(); ++i)
    std::cout << (i % 8 ? "  " : "\n  ") << start.hbm_stride_locality[i].stride_bytes << ": " << std::fixed
              << std::setprecision(3) << start.hbm_stride_locality[i].locality;
  std::cout << "\n" << std::defaultfloat;
  const perf::fit_report rep = perf::fit(hw, suite, start, free);
  std::cout << std::left << std::setw(22) << "micro-benchmark" << std::right << std::setw(14) << "TLM ns"
            << std::setw(14) << "first-pr. ns" << std::setw(14) << "fitted ns" << std::setw(10) << "error %\n";
  for (size_t i = 0; i < suite.size(); ++i) {
    const double fp = perf::evaluate(hw, suite[i].programs, perf::first_principles_params(hw)).time_ns;
    std::cout << std::left << std::setw(22) << suite[i].name << std::right << std::fixed << std::setprecision(1)
              << std::setw(14) << suite[i].measured_ns << std::setw(14) << fp << std::setw(14) << rep.model_ns[i]
              << std::setw(9) << 100 * (rep.model_ns[i] - suite[i].measured_ns) / suite[i].measured_ns << "\n";
  }
  std::cout << "fit: MAPE " << rep.quality.mape_percent << "%, worst " << rep.quality.max_error_percent << "% over "
            << rep.quality.samples << " micro-benchmarks (" << rep.evaluations << " suite evaluations)\n";
  perf::write_calibration(out_file, hw, rep.params, rep.quality);
  std::cout << "wrote " << out_file << "\n";
  return 0;
}

}  // namespace npuvp::cli
