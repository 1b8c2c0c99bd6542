#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <random>

#include "kernels/encoding.h"
#include "kernels/partition/partition.h"
#include "kernels/reference_executor.h"
#include "kernels/stream_summary.h"
#include "platform/base/file_io.h"
#include "platform/cli/command.h"
#include "platform/config/hw_config.h"

namespace npuvp::cli {

namespace {

// Fills A and B with seeded values, runs the programs and returns the largest
// |C - A*B| over all groups (host reference in double).
double check_on_reference(const std::vector<kernels::program>& programs, const std::vector<kernels::gemm_job>& jobs,
                          uint64_t sram_bytes, uint64_t hbm_bytes, int cores, int64_t seed) {
  // Inputs are drawn in fp32 and rounded to the operand type, so the host
  // reference multiplies exactly what the device sees.
  kernels::reference_executor ex(cores, sram_bytes, hbm_bytes);
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<std::vector<float>> a, b;
  for (const auto& j : jobs) {
    a.emplace_back(uint64_t(j.m) * j.k);
    b.emplace_back(uint64_t(j.k) * j.n);
    for (auto* m : {&a.back(), &b.back()})
      for (auto& x : *m)
        x = j.type == kernels::dtype::bf16 ? kernels::from_bf16(kernels::to_bf16(dist(rng))) : dist(rng);
    ex.write_floats(kernels::mem_space::hbm, 0, j.a, a.back(), j.type);
    ex.write_floats(kernels::mem_space::hbm, 0, j.b, b.back(), j.type);
  }
  ex.run(programs);
  double worst = 0;
  for (size_t g = 0; g < jobs.size(); ++g) {
    const auto& j = jobs[g];
    const auto c = ex.read_floats(kernels::mem_space::hbm, 0, j.c, uint64_t(j.m) * j.n);
    for (uint32_t r = 0; r < j.m; ++r)
      for (uint32_t col = 0; col < j.n; ++col) {
        double ref = 0;
        for (uint32_t k = 0; k < j.k; ++k) ref += double(a[g][uint64_t(r) * j.k + k]) * b[g][uint64_t(k) * j.n + col];
        const double err = std::abs(ref - c[uint64_t(r) * j.n + col]);
        if (!(err <= worst)) worst = err;  // NaN counts as worst
      }
  }
  return worst;
}

}  // namespace

int lower_gemm(const std::vector<std::string>& args) {
  po::options_description desc("lower gemm options");
  std::string hw_file, strategy_name, placement_name, map_file, out_dir, stats_file, type_name;
  int groups = 1, group_size = 0;
  uint32_t m = 0, k = 0, n = 0;
  desc.add_options()("hw", po::value(&hw_file)->required(), "hardware YAML file")(
      "strategy", po::value(&strategy_name)->default_value("mn_split"), "mn_split, k_split, mnk_2d or megatron")(
      "placement", po::value(&placement_name)->default_value("ring_block"),
      "linear_sequential, linear_interleaved, mesh_block, ring_block or explicit")(
      "map", po::value(&map_file), "YAML group map for --placement explicit")(
      "groups", po::value(&groups)->default_value(1), "G: parallel groups, each computing its own GEMM")(
      "group-size", po::value(&group_size), "n: cores per group (default: all cores / G)")(
      "m", po::value(&m)->required(), "rows of A and C")("k", po::value(&k)->required(), "columns of A, rows of B")(
      "n", po::value(&n)->required(), "columns of B and C")("dtype", po::value(&type_name)->default_value("fp32"),
                                                            "element type of A and B: fp32 or bf16 (C is fp32)")(
      "out", po::value(&out_dir), "write one stream file per busy core: DIR/core_<id>.bin")(
      "stats", po::value(&stats_file), "write the figures as a statistics JSON file")(
      "check", "run the streams on the reference executor with seeded random A, B and report max |error|");
  po::variables_map vm;
  if (!parse("npuvp lower gemm --hw FILE --m M --k K --n N [options]", desc, args, vm)) return 0;
  if (type_name != "fp32" && type_name != "bf16") throw usage_error("--dtype must be fp32 or bf16");
  const auto type = type_name == "bf16" ? kernels::dtype::bf16 : kernels::dtype::fp32;
  const uint64_t eb = kernels::dtype_bytes(type);
  const hw_config hw = load_hw_config(hw_file);
  const int cores = hw.mesh.width * hw.mesh.height;
  if (groups < 1) throw usage_error("--groups must be >= 1");
  if (!vm.count("group-size")) group_size = cores / groups;
  if (group_size < 1) throw usage_error("--group-size must be >= 1");
  const auto strategy = kernels::make_partition(strategy_name);
  const auto placement = kernels::make_placement(placement_name, map_file);
  const auto map = placement->place(groups, group_size, hw.mesh.width, hw.mesh.height);
  std::vector<kernels::gemm_job> jobs;
  uint64_t hbm = 0;
  for (int g = 0; g < groups; ++g) {
    kernels::gemm_job j{m,   k, n, hbm, hbm + uint64_t(m) * k * eb, hbm + uint64_t(m) * k * eb + uint64_t(k) * n * eb,
                        type};
    hbm = j.c + uint64_t(m) * n * 4;
    jobs.push_back(j);
  }
  kernels::lowering_context ctx(hw);
  kernels::lower_gemm(ctx, *strategy, map, jobs);
  uint64_t sram_peak = 0;
  for (int c = 0; c < cores; ++c) sram_peak = std::max(sram_peak, ctx.sram_used(c));
  const auto programs = ctx.finish();
  const kernels::stream_summary s = kernels::summarize(programs, hw.mesh.width);

  std::cout << strategy_name << " on " << placement_name << ": " << groups << " x " << group_size << " cores, C[" << m
            << " x " << n << "] = A[" << m << " x " << k << "] B, A and B " << type_name << "\n"
            << "  commands " << s.commands << " (dma " << s.per_engine[0] << ", matrix " << s.per_engine[1]
            << ", vector " << s.per_engine[2] << ", sync " << s.per_engine[3] << "), sync commands " << s.sync_commands
            << "\n"
            << "  MACs " << s.matmul_macs << ", busiest core " << s.busiest_core << " with " << s.busiest_core_macs
            << "\n"
            << "  HBM read " << s.hbm_read_bytes << " B, written " << s.hbm_write_bytes << " B\n"
            << "  NoC payload " << s.noc_bytes << " B, " << s.noc_hop_bytes << " B*hops (mean " << std::fixed
            << std::setprecision(2) << (s.noc_bytes ? double(s.noc_hop_bytes) / double(s.noc_bytes) : 0.0) << " hops)\n"
            << "  peak SRAM per core " << sram_peak / 1024 << " KiB of " << hw.core.sram.capacity_kib << " KiB\n";
  if (!out_dir.empty()) {
    int written = 0;
    for (int c = 0; c < cores; ++c) {
      if (programs[c].size() <= 1) continue;  // just `end`
      const auto bytes = kernels::encode_stream({static_cast<uint16_t>(c), programs[c]});
      write_file_atomically(out_dir + "/core_" + std::to_string(c) + ".bin", std::string(bytes.begin(), bytes.end()));
      ++written;
    }
    std::cout << "  wrote " << written << " stream files to " << out_dir << "\n";
  }
  stats_writer stats;
  stats.meta("seed", hw.seed);
  stats.meta("strategy", strategy_name);
  stats.meta("placement", placement_name);
  s.report_stats(stats);
  if (vm.count("check")) {
    const double err = check_on_reference(programs, jobs, sram_peak, hbm, cores, hw.seed);
    std::cout << "  reference executor: max |C - A*B| = " << std::scientific << std::setprecision(2) << err << " (seed "
              << hw.seed << ")\n";
    stats.scalar("lowering", "check_max_abs_error", err, "", "largest |C - A*B| on the reference executor");
    if (!(err < 1e-2)) throw error("lowered GEMM is wrong: max |C - A*B| = " + std::to_string(err));
  }
  if (!stats_file.empty()) stats.write(stats_file);
  return 0;
}

}  // namespace npuvp::cli
