// The analytical performance model: evaluates the per-core command streams that
// run on the TLM virtual platform (kernels/command.h) with timing, as a plain
// C++ discrete-event simulation (docs/perfmodel.md):
//   * compute commands take exactly the cycles of models/npu_core/core_timing.h;
//   * each core dispatches in program order into in-order engine queues (dma,
//     matrix, vector), sync commands block dispatch, semaphores, send/recv and
//     barriers order engines and cores (the reference executor's semantics);
//   * DMA and send transfers are flows over NoC links and ports, HBM channels
//     and SRAMs sharing bandwidth max-min fairly (flow_network.h), plus a
//     per-descriptor setup and the round trip of the last burst.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/command.h"
#include "perfmodel/flow_network.h"
#include "perfmodel/perf_params.h"
#include "platform/config/hw_config.h"

namespace npuvp::perf {

// Time, data and work of a set of commands (one command kind, or one group).
struct breakdown_row {
  std::string name;
  uint64_t commands = 0;
  double busy_ns = 0;          // sum of engine occupancy (start to completion)
  double blocked_ns = 0;       // sum of time spent at the head of a queue waiting (sync)
  double first_start_ns = -1;  // wall-clock interval covered by the commands
  double last_end_ns = 0;
  double bytes = 0;  // bytes moved by dma/send commands
  double flops = 0;  // 2 m k n per matmul
  double vector_elements = 0;
  // Engine time by engine (dma, matrix, vector), as the TLM core counts its
  // per-operator times (npu_core::op_times): a compute command from start to
  // end; a dma/send from its issue, or the previous transfer's retirement if
  // later, to its own (in order) retirement.
  std::array<double, 3> engine_busy_ns{};
  bound_times bound_ns{};     // busy time by what limited it (sync: none, see blocked_ns)
  bound_times critical_ns{};  // time on the run's critical path, by what limited it
  // The largest entry of critical_ns, else of bound_ns, else sync.
  bound bounded_by() const;
};

struct link_load {
  int x = 0, y = 0;  // router the link leaves
  char dir = 'E';    // E (x+1), W (x-1), S (y+1), N (y-1)
  double bytes = 0;
  double utilisation = 0;
};

struct perf_result {
  double time_ns = 0;               // makespan: the last core's end
  std::vector<double> core_end_ns;  // per core
  uint64_t commands = 0;
  double flops = 0;
  double vector_elements = 0;
  double hbm_read_bytes = 0, hbm_write_bytes = 0;
  double noc_link_bytes = 0;  // payload bytes x links crossed
  // By command kind ("dma load", "matmul", "vector softmax", "send", ...).
  std::vector<breakdown_row> by_kind;
  // Commands carry no operator id: "group i" is the i-th run of same-kind
  // compute commands in each core's program (matmul, or one vector op), with
  // the loads/recvs/waits before it and the stores/sends/signals after it
  // (docs/perfmodel.md).
  std::vector<breakdown_row> by_group;
  // By operator label (kernels::op_of, the lowering's op ids): by_op[id],
  // named "op <id>" (the names are the lowering's); rows without commands
  // stay empty. Its wall interval is the operator's span on the chip.
  std::vector<breakdown_row> by_op;
  // Utilisation over time_ns.
  double compute_utilisation = 0;  // flops / (time x peak flops of all cores)
  double matrix_busy = 0;          // mean fraction of time a core's matrix engine is busy
  double vector_busy = 0;
  double dma_busy = 0;
  double hbm_utilisation = 0;  // bytes / (time x peak of all channels)
  std::vector<double> hbm_channel_utilisation;
  double noc_link_utilisation_mean = 0, noc_link_utilisation_max = 0;
  std::vector<link_load> busiest_links;  // up to 8, busiest first
  // The critical path: from the command that ends last, back through what let
  // each command start (the previous command of its engine, the sync command
  // that let it dispatch, the signal, send or barrier it waited for), the time
  // of each command by its limit and the gaps between them as sync. Sums to time_ns.
  bound_times critical_path_ns{};
  bound bounded_by = bound::compute;  // largest entry of critical_path_ns
  bound_times bound_ns{};             // busy time of all commands by limit
  uint64_t events = 0;                // simulation events processed (none for repeated segments)
  uint64_t repeated_segments = 0;     // segments accounted as a repeat of the one before (evaluate_options)
};

struct evaluate_options {
  // A segment between two barrier releases that leave the chip in the same
  // state, followed by the same commands (a decoder layer after the one
  // before), is accounted as a repeat of the previous segment instead of
  // being simulated again (docs/perfmodel.md, "Repeated segments").
  bool repeat_segments = true;
};

// Throws npuvp::error for a malformed command and npuvp::simulation_error
// (listing every blocked command) on deadlock. The programs must lie within
// the chip's memories (kernels::in_memory): lowered streams do by
// construction, `npuvp perf` checks stream files as it loads them (checking
// here would cost ~10 % of a whole step's evaluation).
perf_result evaluate(const hw_config& hw, const std::vector<kernels::program>& programs, const perf_params& params,
                     const evaluate_options& options = {});

nlohmann::json to_json(const perf_result& r);
// Bursts per row (mean) of a 2-D copy of `rows` rows of `run` bytes (run,
// rows > 0) as the VP's DMA engine cuts it into bursts of at most
// `burst_bytes` (models/dma/dma_engine.cpp): a burst ends at the row's end and
// at every multiple of burst_bytes in the source and in the destination.
// Where a row starts within a burst moves with the strides, so rows differ (a
// 640-byte row half a burst off in its source and aligned in its destination
// is cut into 5 bursts, the next row into 3); the pattern repeats every
// burst_bytes / gcd(...) rows, which are counted.
double mean_bursts_per_row(uint64_t burst_bytes, uint64_t src, uint64_t dst, uint64_t run, uint64_t rows,
                           uint64_t src_stride, uint64_t dst_stride);

// A few lines for a terminal: total time, bound, utilisations, groups.
std::string summary(const perf_result& r);

}  // namespace npuvp::perf
