// `npuvp run gemm`: lowers GEMMs with a partition strategy and a placement
// policy (kernels/), runs them on the chip and prints time, throughput and
// engine utilisation; writes stats JSON and a Perfetto trace on request.
// With --functional, checks C against a plain fp32 matmul.
#include <cmath>
#include <iomanip>
#include <iostream>
#include <random>

#include "kernels/partition/partition.h"
#include "platform/chip_run.h"
#include "platform/cli/command.h"
#include "platform/config/hw_config.h"

namespace npuvp::cli {

int run_gemm(const std::vector<std::string>& args) {
  po::options_description desc("run gemm options");
  std::string hw_file, strategy = "mnk_2d", placement = "mesh_block", map_file, stats_path, trace_path;
  int groups = 1, group_size = 0;
  uint32_t m = 512, k = 512, n = 512;
  desc.add_options()("hw", po::value(&hw_file)->required(), "hardware YAML file")(
      "strategy", po::value(&strategy)->default_value(strategy), "partition: mn_split, k_split, mnk_2d, megatron")(
      "placement", po::value(&placement)->default_value(placement),
      "placement: linear_sequential, linear_interleaved, mesh_block, ring_block, explicit")(
      "map", po::value(&map_file), "YAML core map for --placement explicit")(
      "groups", po::value(&groups)->default_value(groups), "independent GEMMs, one per group of cores")(
      "group-size", po::value(&group_size)->default_value(group_size), "cores per group (0: all cores / groups)")(
      "m", po::value(&m)->default_value(m), "rows of A and C")(
      "k", po::value(&k)->default_value(k), "columns of A, rows of B")("n", po::value(&n)->default_value(n),
                                                                       "columns of B and C")(
      "functional", "carry real data and check C against an fp32 reference (overrides the YAML)")(
      "stats", po::value(&stats_path), "write statistics JSON here")(
      "trace", po::value(&trace_path), "write a Perfetto trace here (one event per command)");
  add_progress_option(desc);
  po::variables_map vm;
  if (!parse("npuvp run gemm --hw FILE [--strategy S] [--placement P] [--groups G] [--m M --k K --n N] "
             "[--functional] [--stats FILE] [--trace FILE] [--progress]",
             desc, args, vm))
    return 0;
  hw_config hw = load_hw_config(hw_file);
  if (vm.count("functional")) hw.functional = true;
  const int cores = hw.mesh.width * hw.mesh.height;
  if (groups < 1) throw usage_error("--groups must be >= 1");
  if (group_size == 0) group_size = cores / groups;
  if (group_size < 1 || groups * group_size > cores)
    throw usage_error(std::to_string(groups) + " groups of " + std::to_string(group_size) + " cores do not fit " +
                      std::to_string(cores) + " cores");

  const auto map =
      kernels::make_placement(placement, map_file)->place(groups, group_size, hw.mesh.width, hw.mesh.height);
  const auto jobs = kernels::stacked_gemm_jobs(groups, m, k, n);
  kernels::lowering_context ctx(hw);
  kernels::lower_gemm(ctx, *kernels::make_partition(strategy), map, jobs);
  const auto programs = ctx.finish();

  std::vector<std::vector<float>> a(groups), b(groups);
  chip_run_options options;
  options.stats_path = stats_path;
  options.trace_path = trace_path;
  options.progress = progress_wanted(vm);
  double worst = 0;
  if (hw.functional) {
    options.before = [&](chip& npu) {
      std::mt19937 rng(static_cast<uint32_t>(hw.seed));
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      for (int g = 0; g < groups; ++g) {
        a[g].resize(uint64_t(m) * k);
        b[g].resize(uint64_t(k) * n);
        for (auto& x : a[g]) x = dist(rng);
        for (auto& x : b[g]) x = dist(rng);
        npu.write_hbm_floats(jobs[g].a, a[g]);
        npu.write_hbm_floats(jobs[g].b, b[g]);
      }
    };
    options.after = [&](chip& npu, stats_writer& st) {
      for (int g = 0; g < groups; ++g) {
        const auto c = npu.read_hbm_floats(jobs[g].c, uint64_t(m) * n);
        for (uint32_t i = 0; i < m; ++i)
          for (uint32_t j = 0; j < n; ++j) {
            double ref = 0;
            for (uint32_t q = 0; q < k; ++q) ref += double(a[g][uint64_t(i) * k + q]) * b[g][uint64_t(q) * n + j];
            const double err = std::abs(ref - c[uint64_t(i) * n + j]);
            if (!(err <= worst)) worst = err;
          }
      }
      st.meta("max_abs_error", worst);
    };
  }
  const stats_writer st = run_chip(hw, programs, options);

  const double ns = st.value(hw.name, "elapsed_ns");
  double macs = 0, matrix_active = 0, dma_active = 0;
  for (int c = 0; c < cores; ++c) {
    const std::string core =
        hw.name + ".core_" + std::to_string(c % hw.mesh.width) + "_" + std::to_string(c / hw.mesh.width);
    macs += st.value(core + ".matrix", "macs");
    matrix_active += st.value(core + ".matrix", "active_ns");
    dma_active += st.value(core + ".dma", "active_ns");
  }
  const double peak = double(cores) * hw.core.matrix.rows * hw.core.matrix.cols * hw.core.matrix.macs_per_pe_per_cycle *
                      hw.core.clock_ghz;  // MAC/ns
  std::cout << std::fixed << std::setprecision(3) << strategy << " on " << placement << ": " << groups << " x GEMM "
            << m << "x" << k << "x" << n << " on " << groups << " x " << group_size << " cores\n"
            << "  simulated time      " << ns / 1000 << " us\n"
            << "  throughput          " << 2 * macs / ns / 1000 << " TFLOP/s (" << 100 * macs / ns / peak
            << " % of the chip's peak)\n"
            << "  matrix busy (mean)  " << 100 * matrix_active / (ns * cores) << " % of the time\n"
            << "  dma busy (mean)     " << 100 * dma_active / (ns * cores) << " % of the time\n";
  if (hw.functional) std::cout << "  max |C - fp32 ref|  " << std::scientific << worst << "\n";
  return hw.functional && !(worst < 1e-2 * k) ? 1 : 0;
}

}  // namespace npuvp::cli
