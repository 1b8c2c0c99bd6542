// A SystemC kernel elaborates once per process. Sweeps and calibration that need
// many independent simulations run each one in a forked child with a fresh
// kernel; the child returns its result as JSON through a pipe.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace npuvp {

using isolated_job = std::function<nlohmann::json()>;

// Runs every job in its own child process, at most `parallel` at a time, and
// returns their results in job order. A job that throws (std::exception), or a
// child that dies, makes this throw npuvp::error with the job index and the
// reason ("simulation 2 of 4: <what>", or the child's process id and the signal
// that killed it, or its exit status); the other children are then killed and
// reaped. `done` (optional) is called in the parent as each job's result
// arrives, with the job's index, its result and how many jobs have finished.
using isolated_done = std::function<void(size_t job, const nlohmann::json& result, size_t finished)>;
std::vector<nlohmann::json> run_isolated(const std::vector<isolated_job>& jobs, int parallel,
                                         const isolated_done& done = {});

// A `done` for runs that take minutes or hours: one line per finished job on
// stderr, "TLM 3/40 (12.3 s): <its name>" (the seconds: the result's "wall_s").
isolated_done progress_lines(std::vector<std::string> names);

}  // namespace npuvp
