// One simulation of a chip from start to files: builds the chip from the
// hardware config, loads one program per core, runs, and writes the
// statistics JSON and (optionally) the Perfetto trace. Once per process
// (SystemC elaborates once); use run_isolated() for several.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "kernels/command.h"
#include "platform/base/stats.h"
#include "platform/chip.h"
#include "platform/config/hw_config.h"

namespace npuvp {

struct chip_run_options {
  std::string stats_path;  // empty: no file
  std::string trace_path;  // empty: tracing off
  // Print the simulated time and the finished cores to stderr every
  // progress_every_s of wall time (one line, rewritten; cleared at the end).
  bool progress = false;
  double progress_every_s = 2;
  // Called after loading, before the simulation (e.g. write HBM inputs) and
  // after it with the collected statistics (e.g. check outputs, add meta).
  std::function<void(chip&)> before;
  std::function<void(chip&, stats_writer&)> after;
};

// Returns every module's statistics (plus meta: chip name, seed, functional,
// simulated time); throws what chip::run() throws.
stats_writer run_chip(const hw_config& hw, const std::vector<kernels::program>& programs,
                      const chip_run_options& options);

}  // namespace npuvp
