// `npuvp crosscheck gemm`: the same lowered GEMM streams on the TLM chip
// (isolated runs) and on the perfmodel, for every partition strategy x
// placement policy; prints per-case error, MAPE, worst case and speed-up.
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>

#include "kernels/partition/partition.h"
#include "perfmodel/calibration.h"
#include "perfmodel/perfmodel.h"
#include "platform/chip_run.h"
#include "platform/cli/command.h"
#include "platform/config/hw_config.h"
#include "platform/sim/isolated_run.h"

namespace npuvp::cli {

int crosscheck_gemm(const std::vector<std::string>& args) {
  po::options_description desc("crosscheck gemm options");
  std::string hw_file, calibration;
  int groups = 4, parallel = 2;
  uint32_t m = 512, k = 512, n = 512;
  desc.add_options()("hw", po::value(&hw_file)->required(), "hardware YAML file")(
      "calibration", po::value(&calibration), "perfmodel calibration YAML (default: first-principles parameters)")(
      "groups", po::value(&groups)->default_value(groups), "independent GEMMs, each on all cores / groups")(
      "m", po::value(&m)->default_value(m), "rows of A and C")(
      "k", po::value(&k)->default_value(k), "columns of A, rows of B")("n", po::value(&n)->default_value(n),
                                                                       "columns of B and C")(
      "parallel", po::value(&parallel)->default_value(parallel), "TLM simulations run at once");
  po::variables_map vm;
  if (!parse("npuvp crosscheck gemm --hw FILE [--calibration FILE] [--groups G] [--m M --k K --n N]", desc, args, vm))
    return 0;
  if (groups < 1 || parallel < 1) throw usage_error("--groups and --parallel must be >= 1");
  const hw_config hw = load_hw_config(hw_file);
  std::string warning;
  const perf::perf_params params = perf::load_perf_params(hw, calibration, warning);
  if (!warning.empty()) std::cerr << "npuvp: warning: " << warning << "\n";
  const int cores = hw.mesh.width * hw.mesh.height;

  struct case_t {
    std::string name;
    std::vector<kernels::program> programs;
  };
  std::vector<case_t> cases;
  for (const auto& strategy : kernels::partition_names())
    for (const auto& placement : kernels::placement_names()) {
      if (placement == "explicit") continue;
      const std::string name = strategy + " / " + placement;
      try {
        const auto map =
            kernels::make_placement(placement)->place(groups, cores / groups, hw.mesh.width, hw.mesh.height);
        std::vector<kernels::gemm_job> jobs;
        uint64_t top = 0;
        for (int g = 0; g < groups; ++g) {
          kernels::gemm_job j{m, k, n, top, top + uint64_t(m) * k * 4, top + uint64_t(m) * k * 4 + uint64_t(k) * n * 4};
          top = (j.c + uint64_t(m) * n * 4 + 4095) / 4096 * 4096;
          jobs.push_back(j);
        }
        kernels::lowering_context ctx(hw);
        kernels::lower_gemm(ctx, *kernels::make_partition(strategy), map, jobs);
        cases.push_back({name, ctx.finish()});
      } catch (const error& e) {
        std::cout << "skipped " << name << ": " << e.what() << "\n";
      }
    }
  std::vector<isolated_job> jobs;
  for (const auto& c : cases)
    jobs.push_back([&hw, &c] {
      const auto t0 = std::chrono::steady_clock::now();
      const stats_writer st = run_chip(hw, c.programs, {});
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      return nlohmann::json{{"elapsed_ns", st.value(hw.name, "elapsed_ns")}, {"wall_s", wall}};
    });
  std::cout << "running " << cases.size() << " cases on the TLM chip (" << parallel << " at a time)\n";
  const auto tlm = run_isolated(jobs, parallel);
  std::cout << std::left << std::setw(34) << "strategy / placement" << std::right << std::setw(13) << "TLM us"
            << std::setw(13) << "model us" << std::setw(9) << "error %" << std::setw(11) << "TLM s" << std::setw(11)
            << "model ms" << std::setw(10) << "speed-up"
            << "  model bound\n";
  double sum = 0, worst = 0, tlm_wall = 0, model_wall = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const perf::perf_result r = perf::evaluate(hw, cases[i].programs, params);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double t = tlm[i]["elapsed_ns"].get<double>(), w = tlm[i]["wall_s"].get<double>();
    const double err = 100 * (r.time_ns - t) / t;
    sum += std::fabs(err);
    worst = std::max(worst, std::fabs(err));
    tlm_wall += w;
    model_wall += wall;
    std::cout << std::left << std::setw(34) << cases[i].name << std::right << std::fixed << std::setprecision(2)
              << std::setw(13) << t / 1e3 << std::setw(13) << r.time_ns / 1e3 << std::setw(9) << err << std::setw(11)
              << w << std::setw(11) << wall * 1e3 << std::setw(10) << std::setprecision(0) << w / wall << "  "
              << perf::bound_name(r.bounded_by) << "\n";
  }
  if (!cases.empty())
    std::cout << std::setprecision(2) << "MAPE " << sum / cases.size() << "%, worst " << worst << "%; TLM " << tlm_wall
              << " s, model " << model_wall * 1e3 << " ms in total (speed-up " << std::setprecision(0)
              << tlm_wall / model_wall << "x)\n";
  return 0;
}

}  // namespace npuvp::cli
