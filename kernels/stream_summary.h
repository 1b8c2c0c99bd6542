// Static figures of a set of per-core programs (no timing): command counts per
// engine, compute work, HBM traffic and NoC load. For comparing lowerings and
// for `npuvp lower`.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/command.h"
#include "platform/base/stats.h"

namespace npuvp::kernels {

struct stream_summary : stats_source {
  uint64_t commands = 0;
  uint64_t per_engine[engine_count] = {};
  uint64_t matmuls = 0, matmul_macs = 0;
  uint64_t vector_ops = 0, vector_elems = 0;
  uint64_t hbm_read_bytes = 0, hbm_write_bytes = 0;
  uint64_t noc_bytes = 0;      // send and remote-SRAM dma payload
  uint64_t noc_hop_bytes = 0;  // payload x mesh hops (Manhattan distance = XY route length)
  uint64_t sync_commands = 0;  // wait, signal, barrier
  int busiest_core = -1;       // most matmul MACs
  uint64_t busiest_core_macs = 0;

  void report_stats(stats_writer& out) const override;
};

// `programs[core]`, core ids row-major on a mesh `mesh_width` wide.
stream_summary summarize(const std::vector<program>& programs, int mesh_width);

}  // namespace npuvp::kernels
