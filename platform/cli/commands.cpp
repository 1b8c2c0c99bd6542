#include "platform/cli/command.h"

namespace npuvp::cli {

const std::vector<command>& commands() {
  static const std::vector<command> all = {
      {"run", "run one serving step of a scenario on the chip: per-operator breakdown, utilisation, stats, trace",
       run},
      {"run gemm", "lower GEMMs with a partition strategy and placement and run them on the chip", run_gemm},
      {"config check", "validate a hardware YAML file", config_check},
      {"config describe", "list every hardware config key with type, unit, default and meaning", config_describe},
      {"scenario check", "validate a scenario YAML file", scenario_check},
      {"scenario describe", "list every scenario key with type, unit, default and meaning", scenario_describe},
      {"bench hbm", "drive one HBM channel with synthetic traffic: bandwidth, latency, simulator speed", bench_hbm},
      {"bench noc", "synthetic traffic on the mesh: latency, throughput, saturation sweep, simulator speed", bench_noc},
      {"bench dma", "every core streams its own HBM region into its SRAM: aggregate bandwidth vs HBM peak",
       bench_dma},
      {"bench roofline", "decode vs weight-streaming bound and prefill vs FLOP bound on the TLM chip (+ perfmodel)",
       bench_roofline},
      {"lower gemm", "lower one GEMM per group to per-core command streams; figures, stream files, check", lower_gemm},
      {"lower layer", "lower one dense decoder layer of a zoo model for a batch; figures, stream files", lower_layer},
      {"lower step", "lower one serving step of a scenario; per-operator figures, stream files", lower_step},
      {"disasm", "print a binary command stream as text, one command per line", disasm},
      {"perf", "evaluate command streams with the analytical performance model (time, breakdown, bounds)", perf},
      {"calibrate", "run the perfmodel micro-benchmarks on the TLM chip, fit its parameters, write the file",
       calibrate},
      {"crosscheck", "scenario steps (files, grids) on the TLM chip and the perfmodel: error, bound classes, speed-up",
       crosscheck},
      {"crosscheck gemm", "lowered GEMMs on the TLM chip and on the perfmodel: error per case, MAPE, speed-up",
       crosscheck_gemm},
  };
  return all;
}

}  // namespace npuvp::cli
