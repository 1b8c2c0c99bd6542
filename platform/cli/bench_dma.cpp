// `npuvp bench dma`: every core of the chip streams --bytes-per-core of HBM
// into its SRAM in dma commands of --tile bytes, one after the other on the
// core's DMA queue; prints the achieved aggregate bandwidth against the HBM
// peak, the busiest NoC link and the simulator's speed. Layouts: blocked
// (core c reads its own contiguous region [c B, (c + 1) B)) or interleaved
// (one contiguous region, tile j of core c at (j x cores + c) x tile: a
// weight matrix streamed tile by tile over all cores).
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "kernels/lowering_context.h"
#include "platform/base/stopwatch.h"
#include "platform/chip_run.h"
#include "platform/cli/command.h"
#include "platform/config/hw_config.h"

namespace npuvp::cli {

int bench_dma(const std::vector<std::string>& args) {
  po::options_description desc("bench dma options");
  std::string hw_file, stats_path, layout = "blocked";
  uint64_t bytes_per_core = 4 << 20, tile = 64 << 10;
  int cores = 0;
  auto option = desc.add_options();
  option("hw", po::value(&hw_file)->required(), "hardware YAML file");
  option("bytes-per-core", po::value(&bytes_per_core)->default_value(bytes_per_core),
         "bytes each core loads from its own HBM region");
  option("tile", po::value(&tile)->default_value(tile), "bytes per dma command (the last one may be shorter)");
  option("cores", po::value(&cores)->default_value(cores), "cores that stream (0: all)");
  option("layout", po::value(&layout)->default_value(layout), "blocked or interleaved (see above)");
  option("stats", po::value(&stats_path), "write statistics JSON here");
  add_progress_option(desc);
  po::variables_map vm;
  if (!parse("npuvp bench dma --hw FILE [--bytes-per-core B] [--tile T] [--cores N] [--layout L] [--stats FILE] "
             "[--progress]",
             desc, args, vm))
    return 0;
  hw_config hw = load_hw_config(hw_file);
  const int all = hw.mesh.width * hw.mesh.height;
  if (cores == 0) cores = all;
  if (cores < 1 || cores > all) throw usage_error("--cores must be in 1.." + std::to_string(all));
  if (bytes_per_core == 0 || tile == 0) throw usage_error("--bytes-per-core and --tile must be > 0");
  if (layout != "blocked" && layout != "interleaved") throw usage_error("--layout must be blocked or interleaved");
  if (tile > 0xffffffffu) throw usage_error("--tile must fit a dma command's row_bytes (32 bits)");

  // Into an SRAM ring of up to half the SRAM, so consecutive tiles never
  // write the same bytes (no WAW hazard until the ring wraps, long after).
  kernels::lowering_context ctx(hw);
  const uint64_t ring = std::min(bytes_per_core, uint64_t(hw.core.sram.capacity_kib) * 512) / tile * tile;
  if (ring == 0) throw usage_error("--tile is larger than half the SRAM");
  for (int c = 0; c < cores; ++c) {
    const uint32_t buf = ctx.alloc(c, ring, "stream ring");
    for (uint64_t off = 0; off < bytes_per_core; off += tile) {
      kernels::dma_cmd d;
      d.src_space = kernels::mem_space::hbm;
      d.dst_space = kernels::mem_space::sram;
      d.src = layout == "blocked" ? uint64_t(c) * bytes_per_core + off : (off / tile * cores + c) * tile;
      d.dst = buf + off % ring;
      d.row_bytes = static_cast<uint32_t>(std::min(tile, bytes_per_core - off));
      ctx.emit(c, d);
    }
  }
  const auto programs = ctx.finish();
  // The setup first, with the run's size (a small --tile makes millions of commands).
  std::cout << "bench dma on " << hw.name << ": " << cores << " cores x " << bytes_per_core << " B (" << layout
            << ") in " << (bytes_per_core + tile - 1) / tile << " dma commands of " << tile
            << " B per core (descriptors_in_flight " << hw.core.dma.descriptors_in_flight << ", max_outstanding "
            << hw.core.dma.max_outstanding << ", burst_bytes " << hw.core.dma.burst_bytes << ")" << std::endl;
  chip_run_options options;
  options.stats_path = stats_path;
  options.progress = progress_wanted(vm);
  const stopwatch clock;
  const stats_writer st = run_chip(hw, programs, options);
  const double wall = clock.seconds();

  const double ns = st.value(hw.name, "elapsed_ns");
  double peak = 0;
  for (int k = 0; k < hw.hbm.channels; ++k) peak += st.value(hw.name + ".hbm_" + std::to_string(k), "peak_gbps");
  // Busiest link of the mesh (routers report link_<port>_util).
  double link_util = 0;
  std::string link;
  for (const auto& [group, entries] : st.json().at("groups").items())
    if (group.rfind(hw.name + ".noc", 0) == 0)
      for (const auto& [key, entry] : entries.items())
        if (key.rfind("link_", 0) == 0 && entry.at("value").get<double>() > link_util) {
          link_util = entry.at("value").get<double>();
          link = group + "." + key;
        }
  const double gbps = double(bytes_per_core) * cores / ns;
  std::cout << std::fixed << std::setprecision(1) << "  simulated time   " << ns / 1000 << " us\n"
            << "  aggregate        " << gbps << " GB/s of " << peak << " GB/s HBM peak (" << 100 * gbps / peak
            << " %)\n"
            << "  busiest NoC link " << link << " " << std::setprecision(3) << link_util << "\n"
            << "  wall time        " << std::setprecision(2) << wall << " s\n";
  return 0;
}

}  // namespace npuvp::cli
