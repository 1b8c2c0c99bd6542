#include "platform/chip_run.h"

#include <memory>

#include "platform/base/trace.h"

namespace npuvp {

stats_writer run_chip(const hw_config& hw, const std::vector<kernels::program>& programs,
                      const chip_run_options& options) {
  std::unique_ptr<trace_writer> trace;
  if (!options.trace_path.empty()) trace = std::make_unique<trace_writer>();
  chip npu(hw, trace.get());
  npu.load_programs(programs);
  if (options.before) options.before(npu);
  npu.run();
  stats_writer stats;
  stats.meta("chip", hw.name);
  stats.meta("functional", hw.functional);
  stats.meta("simulated_ns", npu.elapsed().to_seconds() * 1e9);
  npu.report_stats(stats);
  if (options.after) options.after(npu, stats);
  if (!options.stats_path.empty()) stats.write(options.stats_path);
  if (trace) trace->write(options.trace_path);
  return stats;
}

}  // namespace npuvp
