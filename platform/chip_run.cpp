#include "platform/chip_run.h"

#include <cstdio>
#include <memory>

#include "platform/base/file_io.h"
#include "platform/base/stopwatch.h"
#include "platform/base/trace.h"

namespace npuvp {

namespace {

// chip_run_options::progress: a thread waking every `step` of simulated time,
// printing when `every_s` of wall time have passed since its last line. It
// ends when nothing else is pending, so a deadlock is still detected.
void spawn_progress(chip& npu, sc_core::sc_time step, double every_s) {
  sc_core::sc_spawn([&npu, step, every_s] {
    stopwatch since_print;
    int with_program = 0;
    for (int c = 0; c < npu.cores(); ++c) with_program += npu.core(c).has_program() ? 1 : 0;
    for (;;) {
      sc_core::wait(step);
      if (since_print.seconds() >= every_s) {
        since_print = stopwatch{};
        int done = 0;
        for (int c = 0; c < npu.cores(); ++c) done += npu.core(c).done() ? 1 : 0;
        std::fprintf(stderr, "\r  simulated %.3f us, %d/%d cores finished   ",
                     sc_core::sc_time_stamp().to_seconds() * 1e6, done, with_program);
        std::fflush(stderr);
      }
      if (!sc_core::sc_pending_activity()) return;
    }
  });
}

// Clears the progress line when the run ends, also with an error (its message then starts a clean line).
struct progress_line {
  bool on;
  ~progress_line() {
    if (on) std::fprintf(stderr, "\r%60s\r", "");
  }
};

}  // namespace

stats_writer run_chip(const hw_config& hw, const std::vector<kernels::program>& programs,
                      const chip_run_options& options) {
  // A file that cannot be written fails now, not after a run of minutes.
  check_writable(options.stats_path);
  check_writable(options.trace_path);
  std::unique_ptr<trace_writer> trace;
  if (!options.trace_path.empty()) trace = std::make_unique<trace_writer>();
  chip npu(hw, trace.get());
  npu.load_programs(programs);
  if (options.before) options.before(npu);
  const progress_line line{options.progress};
  if (options.progress) spawn_progress(npu, sc_core::sc_time(10, sc_core::SC_US), options.progress_every_s);
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
