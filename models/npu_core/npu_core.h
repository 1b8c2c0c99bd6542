// One NPU core: command queue, dispatcher, and the engines that run the
// per-core command stream (kernels/command.h) with timing, implementing the
// semantics of kernels/reference_executor (docs/npu_core.md):
//  - the dispatcher takes commands in program order (zero time per command)
//    and appends each to the in-order queue of its engine; a command on the
//    sync engine (wait, signal, barrier, end) runs in the dispatcher and
//    blocks every later dispatch until it completes;
//  - the DMA, matrix and vector engines are SystemC threads running their
//    queues concurrently, each command after the previous one of the same
//    engine has completed; wait/signal may sit on any engine queue;
//  - matrix:  core_timing::matmul_command_cycles per matmul command, less
//             matmul_follow_cycles' overlap right behind the previous one;
//    vector:  core_timing::vector_cycles per vector command;
//    DMA:     dma/send through the core's dma_engine (global addresses from
//             the memory map); up to core.dma.descriptors_in_flight
//             consecutive dma/send commands in flight at once, a command
//             whose byte ranges conflict with an earlier one still in flight
//             (read-after-write, write-after-read, write-after-write) waiting
//             until that one has completed; they retire in program order;
//    send:    a DMA write into the peer's SRAM, then, when it retires, an
//             arrival notice to the peer (core_sync message latency); recv
//             waits for that notice;
//    signal:  own semaphores at once, another core's by a core_sync message;
//             on the DMA engine, after every earlier dma/send has retired;
//    barrier: engines idle, then the chip barrier (core_sync).
//  Matrix and vector operand traffic to the SRAM is not modelled (dedicated
//  wide ports assumed, no contention with the DMA).
// Functional mode computes matmul/vector results on the SRAM bytes with
// kernels/compute (the reference executor's arithmetic), at the end of each
// command, through the SRAM's debug interface (no simulated time). Timing
// does not depend on the data.
//
// Command queue, memory mapped on cmdq_in (b_transport / transport_dbg,
// one core cycle per access): a ring of core.cmdq_depth 64-byte records
// (kernels/encoding.h) at [0, depth * 64), and at depth * 64 a 4-byte
// doorbell: writing N appends the next N records of the ring (from where
// the previous doorbell stopped) to the stream. A core fed this way waits
// for more commands until it dispatches `end`. load() hands a whole program
// over directly (it ends when the program ends, like the reference executor).
#pragma once

#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <systemc>
#include <tlm>
#include <utility>
#include <vector>

#include "kernels/command.h"
#include "models/dma/dma_engine.h"
#include "models/npu_core/core_sync.h"
#include "models/sram/sram.h"
#include "platform/base/stats.h"
#include "platform/base/trace.h"
#include "platform/config/hw_config.h"
#include "platform/memory_map.h"

namespace npuvp {

class npu_core : public sc_core::sc_module, public stats_source {
 public:
  // Optional binding: a chip without firmware leaves it open.
  tlm_utils::simple_target_socket_optional<npu_core> cmdq_in;

  // Core id = y * mesh.width + x (from `map`); registers with `sync`, whose id
  // order must match. Children: `<name>.sram` and `<name>.dma`, whose sockets
  // the chip binds to its fabric (local_sram().port_in, dma().mem_out).
  npu_core(sc_core::sc_module_name name, const core_config& cfg, int x, int y, const memory_map& map, core_sync& sync,
           bool functional, trace_writer* trace = nullptr);

  sram& local_sram() { return m_sram; }
  dma_engine& dma() { return m_dma; }
  int id() const { return m_id; }

  // Before sc_start: the whole command stream (checked with check_command).
  void load(const kernels::program& program);
  bool has_program() const { return m_started; }
  bool done() const { return m_done; }
  sc_core::sc_time end_time() const { return m_end_time; }
  // What the dispatcher and each engine wait for (empty when done).
  std::string blocked_report() const;

  // Delivery of core_sync messages (after `delay`).
  void post_signal(uint16_t sem, uint32_t count, const sc_core::sc_time& delay);
  void post_arrival(int from, uint32_t tag, uint32_t dst, uint32_t bytes, const sc_core::sc_time& delay);

  // fp32 access to this core's SRAM in functional mode (debug path, no time).
  void read_sram(uint64_t addr, void* dst, uint64_t bytes);
  void write_sram(uint64_t addr, const void* src, uint64_t bytes);

  void report_stats(stats_writer& out) const override;

  // Engine time per operator label (command op_id; index 0: unlabelled),
  // accumulated as commands complete. Not in report_stats (ops x cores would
  // swamp it): `npuvp run` sums them over the cores into its per-operator table.
  struct op_time {
    sc_core::sc_time busy[kernels::engine_count], stalled[kernels::engine_count];
  };
  const std::vector<op_time>& op_times() const { return m_op_times; }

 private:
  static constexpr int engines = kernels::engine_count;
  struct message {
    bool arrival = false;
    uint16_t sem = 0;
    uint32_t count = 0;
    int from = 0;
    uint32_t tag = 0, dst = 0, bytes = 0;
  };
  struct arrival {
    uint32_t dst, bytes;
  };
  // A dma/send command handed to the dma_engine and not yet retired.
  struct dma_op {
    size_t command = 0;
    uint64_t src_lo = 0, src_hi = 0, dst_lo = 0, dst_hi = 0;  // global byte ranges [lo, hi)
    bool done = false, ok = true;
    bool send = false;
    int peer = 0;
    uint64_t bytes = 0;
    sc_core::sc_time start;
  };
  struct engine_stats {
    uint64_t commands = 0;
    sc_core::sc_time busy, stalled;  // running a command / blocked in wait, recv or barrier
  };

  void dispatch_thread();
  void engine_thread(kernels::engine e);
  // Runs command i on engine e (from that engine's thread); returns when it has completed.
  void execute(kernels::engine e, size_t i);
  void run_dma(const kernels::dma_cmd& d, size_t i);
  void run_send(const kernels::send_cmd& s, size_t i);
  // Waits for a free slot and for every conflicting earlier op, then submits.
  void issue_dma(const dma_descriptor& desc, dma_op op);
  void retire_dma();
  void drain_dma();
  void run_matmul(const kernels::matmul_cmd& m, size_t i);
  void run_vector(const kernels::vector_cmd& v, size_t i);
  void wait_semaphore(uint16_t sem, uint32_t count);
  void inbox_method();
  bool engines_idle() const;
  void finish();
  int core_of(uint16_t field, size_t i);
  std::string where(size_t i) const;
  void fail(const std::string& what);
  // An operand of compute command i beyond the SRAM stops the run (timing-only mode too).
  void check_operands(size_t i);
  std::vector<uint8_t> read_bytes(uint32_t addr, uint64_t bytes);
  std::vector<float> read_floats(uint32_t addr, uint64_t count);
  void trace(kernels::engine e, uint32_t name, const sc_core::sc_time& start);

  void cmdq_b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  unsigned int cmdq_transport_dbg(tlm::tlm_generic_payload& trans);
  bool cmdq_access(tlm::tlm_generic_payload& trans);

  const core_config m_cfg;
  const memory_map& m_map;
  core_sync& m_sync;
  const bool m_functional;
  const sc_core::sc_time m_period;
  const int m_id;
  sram m_sram;
  dma_engine m_dma;

  kernels::program m_program;
  size_t m_pc = 0;
  bool m_started = false, m_streaming = false, m_ended = false, m_done = false;
  sc_core::sc_time m_end_time;
  // The matrix unit's latest timed matmul: when it retired, its rows m and its
  // last fold's drain (core_timing::matmul_follow_cycles).
  struct last_matmul {
    sc_core::sc_time end;
    uint64_t m = 0, drain_cycles = 0;
  } m_last_matmul;
  std::deque<size_t> m_queue[engines];
  sc_core::sc_event m_queued[engines], m_retired, m_more_commands;

  std::map<uint16_t, int64_t> m_sem;
  std::map<std::pair<int, uint32_t>, std::deque<arrival>> m_channels;  // (from, tag)
  sc_core::sc_event m_sem_changed, m_arrived;
  std::multimap<sc_core::sc_time, message> m_inbox;
  sc_core::sc_event m_inbox_ev;

  std::vector<uint8_t> m_ring;  // cmdq_depth records
  uint64_t m_ring_head = 0;     // next record a doorbell takes

  std::deque<dma_op> m_dma_ops;  // program order, oldest first
  size_t m_dma_pending = 0;      // ops submitted and not completed
  sc_core::sc_event m_dma_retired;
  sc_core::sc_time m_dma_busy_since;

  engine_stats m_stats[engines];
  std::vector<op_time> m_op_times;
  sc_core::sc_time m_dma_retired_at;  // last DMA retirement (per-op busy split)
  uint64_t m_dma_bytes = 0, m_send_bytes = 0, m_macs = 0, m_vector_elements = 0;
  uint64_t m_remote_signals = 0, m_barriers = 0;

  trace_writer* m_trace;
  uint32_t m_tracks[engines] = {};
  uint32_t m_ev_dma = 0, m_ev_matmul = 0, m_ev_send = 0, m_ev_recv = 0, m_ev_wait = 0, m_ev_signal = 0,
           m_ev_barrier = 0;
  std::vector<uint32_t> m_ev_vector;  // per vector_op
};

}  // namespace npuvp
