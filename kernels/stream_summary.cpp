#include "kernels/stream_summary.h"

#include <cstdlib>

namespace npuvp::kernels {

stream_summary summarize(const std::vector<program>& programs, int mesh_width) {
  stream_summary s;
  auto hops = [&](int a, int b) {
    return std::abs(a % mesh_width - b % mesh_width) + std::abs(a / mesh_width - b / mesh_width);
  };
  for (size_t core = 0; core < programs.size(); ++core) {
    const int me = static_cast<int>(core);
    uint64_t macs = 0;
    for (const auto& c : programs[core]) {
      ++s.commands;
      ++s.per_engine[static_cast<int>(engine_of(c))];
      if (auto* d = std::get_if<dma_cmd>(&c)) {
        const uint64_t bytes = uint64_t(d->rows) * d->row_bytes;
        if (d->src_space == mem_space::hbm) s.hbm_read_bytes += bytes;
        if (d->dst_space == mem_space::hbm) s.hbm_write_bytes += bytes;
        const int src = d->src_core == self_core ? me : d->src_core, dst = d->dst_core == self_core ? me : d->dst_core;
        if (d->src_space == mem_space::sram && d->dst_space == mem_space::sram && src != dst) {
          s.noc_bytes += bytes;
          s.noc_hop_bytes += bytes * uint64_t(hops(src, dst));
        }
      } else if (auto* m = std::get_if<matmul_cmd>(&c)) {
        ++s.matmuls;
        macs += uint64_t(m->m) * m->k * m->n;
      } else if (auto* v = std::get_if<vector_cmd>(&c)) {
        ++s.vector_ops;
        s.vector_elems += uint64_t(v->rows) * v->cols;
      } else if (auto* sd = std::get_if<send_cmd>(&c)) {
        s.noc_bytes += sd->bytes;
        s.noc_hop_bytes += uint64_t(sd->bytes) * uint64_t(hops(me, sd->peer));
      } else if (std::holds_alternative<wait_cmd>(c) || std::holds_alternative<signal_cmd>(c) ||
                 std::holds_alternative<barrier_cmd>(c)) {
        ++s.sync_commands;
      }
    }
    s.matmul_macs += macs;
    if (macs > s.busiest_core_macs) {
      s.busiest_core_macs = macs;
      s.busiest_core = me;
    }
  }
  return s;
}

void stream_summary::report_stats(stats_writer& out) const {
  const std::string g = "lowering";
  out.scalar(g, "commands", double(commands), "commands", "commands in all programs");
  for (int e = 0; e < engine_count; ++e)
    out.scalar(g, std::string("commands_") + engine_name(engine(e)), double(per_engine[e]), "commands",
               "commands run by this engine, all cores");
  out.scalar(g, "matmuls", double(matmuls), "commands", "matmul commands");
  out.scalar(g, "matmul_macs", double(matmul_macs), "MAC", "multiply-accumulates, all cores");
  out.scalar(g, "busiest_core", double(busiest_core), "core", "core with the most MACs (-1: none)");
  out.scalar(g, "busiest_core_macs", double(busiest_core_macs), "MAC", "MACs of the busiest core");
  out.scalar(g, "vector_ops", double(vector_ops), "commands", "vector commands");
  out.scalar(g, "vector_elems", double(vector_elems), "elements", "elements processed by vector commands");
  out.scalar(g, "hbm_read_bytes", double(hbm_read_bytes), "B", "bytes DMA'd out of HBM");
  out.scalar(g, "hbm_write_bytes", double(hbm_write_bytes), "B", "bytes DMA'd into HBM");
  out.scalar(g, "noc_bytes", double(noc_bytes), "B", "core-to-core payload (send, remote-SRAM dma)");
  out.scalar(g, "noc_hop_bytes", double(noc_hop_bytes), "B*hops",
             "core-to-core payload times XY route length: NoC link load, ignoring HBM traffic");
  out.scalar(g, "sync_commands", double(sync_commands), "commands", "wait, signal and barrier commands");
}

}  // namespace npuvp::kernels
