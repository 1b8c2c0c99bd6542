// The reference functional executor: runs a set of per-core command streams on
// real bytes (HBM and every core's SRAM are byte arrays; operands are widened to fp32) and
// so defines what each command means. The SystemC NPU core and the perfmodel
// implement these semantics with timing; this executor has none.
//
// Model (docs/command_stream.md, "Execution semantics"): each core dispatches its
// commands in program order into one in-order queue per engine; a command on
// the sync engine blocks dispatch until it completes. Engines of a core and all
// cores run concurrently: any interleaving allowed by semaphores, send/recv
// matching and barriers is valid. The executor picks one (round-robin, or a
// seeded random order) and throws npuvp::simulation_error naming every blocked
// command when none can proceed. With race detection (default) a missing
// ordering is reported even when the chosen interleaving happens to be benign.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/command.h"

namespace npuvp::kernels {

struct executor_options {
  enum class order { round_robin, random };
  order schedule = order::round_robin;
  uint64_t seed = 1;  // for order::random
  // Report two unordered accesses to the same bytes (one a write) by different
  // engines as npuvp::simulation_error, whatever the interleaving (race_detector.h).
  bool detect_races = true;
};

struct execution_stats {
  uint64_t commands = 0;      // commands completed, all cores
  uint64_t dma_bytes = 0;     // bytes moved by dma commands
  uint64_t sent_bytes = 0;    // bytes moved by send commands
  uint64_t matmul_macs = 0;   // multiply-accumulates
  uint64_t vector_elems = 0;  // elements produced by vector commands
  uint64_t sweeps = 0;        // scheduler rounds
};

class reference_executor {
 public:
  reference_executor(int cores, uint64_t sram_bytes_per_core, uint64_t hbm_bytes);

  int cores() const { return static_cast<int>(m_sram.size()); }
  std::vector<uint8_t>& hbm() { return m_hbm; }
  std::vector<uint8_t>& sram(int core);

  // Helpers for tests and tools; bounds-checked (throw npuvp::error). write_floats
  // stores the values as `type` (encode_floats).
  void write_floats(mem_space space, int core, uint64_t addr, const std::vector<float>& values,
                    dtype type = dtype::fp32);
  std::vector<float> read_floats(mem_space space, int core, uint64_t addr, size_t count) const;

  // Runs programs[core] on every core (an empty program = idle core) until all
  // have ended. Semaphores, channels and barriers start empty on each run.
  execution_stats run(const std::vector<program>& programs, const executor_options& options = {});

 private:
  const uint8_t* span(mem_space space, int core, uint64_t addr, uint64_t bytes, const std::string& where) const;
  uint8_t* span(mem_space space, int core, uint64_t addr, uint64_t bytes, const std::string& where);

  std::vector<uint8_t> m_hbm;
  std::vector<std::vector<uint8_t>> m_sram;
};

}  // namespace npuvp::kernels
