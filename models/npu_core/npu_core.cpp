#include "models/npu_core/npu_core.h"

#include <cstring>

#include "kernels/compute.h"
#include "kernels/encoding.h"
#include "kernels/mem_access.h"
#include "models/npu_core/core_timing.h"
#include "platform/base/error.h"

namespace npuvp {

using kernels::engine;
using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

namespace {
constexpr int idx(engine e) { return static_cast<int>(e); }
double ns(const sc_time& t) { return t.to_seconds() * 1e9; }
}  // namespace

npu_core::npu_core(sc_core::sc_module_name name, const core_config& cfg, int x, int y, const memory_map& map,
                   core_sync& sync, bool functional, trace_writer* trace)
    : sc_module(name),
      cmdq_in("cmdq_in"),
      m_cfg(cfg),
      m_map(map),
      m_sync(sync),
      m_functional(functional),
      m_period(1.0 / cfg.clock_ghz, sc_core::SC_NS),
      m_id(map.core_index(x, y)),
      // Per-access SRAM and per-burst DMA events would swamp the trace: the
      // core traces one event per command instead.
      m_sram("sram", cfg.sram, cfg.clock_ghz, functional, nullptr),
      m_dma("dma", cfg.dma, cfg.clock_ghz, functional, nullptr),
      m_ring(static_cast<size_t>(cfg.cmdq_depth) * kernels::record_bytes, 0),
      m_trace(trace) {
  if (m_sync.attach(this) != m_id)
    throw error(std::string(this->name()) + ": cores must be attached to core_sync in id order (id " +
                std::to_string(m_id) + ")");
  cmdq_in.register_b_transport(this, &npu_core::cmdq_b_transport);
  cmdq_in.register_transport_dbg(this, &npu_core::cmdq_transport_dbg);
  SC_HAS_PROCESS(npu_core);
  SC_THREAD(dispatch_thread);
  for (engine e : {engine::dma, engine::matrix, engine::vector})
    sc_core::sc_spawn([this, e] { engine_thread(e); }, (std::string(kernels::engine_name(e)) + "_thread").c_str());
  SC_METHOD(inbox_method);
  sensitive << m_inbox_ev;
  dont_initialize();
  if (m_trace) {
    for (int e = 0; e < engines; ++e)
      m_tracks[e] = m_trace->track(std::string(this->name()) + "." + kernels::engine_name(engine(e)));
    m_ev_dma = m_trace->name("dma");
    m_ev_matmul = m_trace->name("matmul");
    m_ev_send = m_trace->name("send");
    m_ev_recv = m_trace->name("recv");
    m_ev_wait = m_trace->name("wait");
    m_ev_signal = m_trace->name("signal");
    m_ev_barrier = m_trace->name("barrier");
    for (int op = 0; std::string(kernels::vector_op_name(kernels::vector_op(op))) != "?"; ++op)
      m_ev_vector.push_back(m_trace->name(kernels::vector_op_name(kernels::vector_op(op))));
  }
}

void npu_core::load(const kernels::program& program) {
  if (m_started) throw error(std::string(name()) + ": a program is already loaded");
  for (size_t i = 0; i < program.size(); ++i) kernels::check_command(program[i], where(i));
  m_program = program;
  m_started = true;
  m_sync.core_started();
}

std::string npu_core::where(size_t i) const {
  std::string s = std::string(name()) + " (core " + std::to_string(m_id) + ") command " + std::to_string(i);
  if (i < m_program.size()) s += " (" + kernels::to_text(m_program[i]) + ")";
  return s;
}

void npu_core::fail(const std::string& what) {
  m_sync.fail(what);
  sc_core::sc_event never;
  sc_core::wait(never);  // this thread stops here; sc_stop ends the run
}

int npu_core::core_of(uint16_t field, size_t i) {
  const int id = field == kernels::self_core ? m_id : field;
  if (id >= m_sync.cores()) fail(where(i) + ": no core " + std::to_string(id));
  return id;
}

bool npu_core::engines_idle() const {
  for (const auto& q : m_queue)
    if (!q.empty()) return false;
  return m_dma_ops.empty();
}

// ---------------------------------------------------------------- dispatch

void npu_core::dispatch_thread() {
  while (!m_started) wait(m_more_commands);
  for (;;) {
    if (m_pc == m_program.size()) {
      if (!m_streaming) break;
      wait(m_more_commands);
      continue;
    }
    const size_t i = m_pc;
    const engine e = kernels::engine_of(m_program[i]);
    if (e != engine::sync) {
      m_queue[idx(e)].push_back(i);
      m_queued[idx(e)].notify(SC_ZERO_TIME);
      ++m_pc;
      continue;
    }
    if (std::holds_alternative<kernels::end_cmd>(m_program[i])) {
      ++m_pc;
      ++m_stats[idx(engine::sync)].commands;
      break;
    }
    execute(engine::sync, i);
    ++m_pc;
  }
  m_ended = true;
  while (!engines_idle()) wait(m_retired);
  m_done = true;
  m_end_time = sc_core::sc_time_stamp();
  m_sync.core_done();
}

void npu_core::engine_thread(engine e) {
  auto& q = m_queue[idx(e)];
  for (;;) {
    while (q.empty()) wait(m_queued[idx(e)]);
    execute(e, q.front());
    q.pop_front();
    m_retired.notify(SC_ZERO_TIME);
  }
}

void npu_core::trace(engine e, uint32_t event, const sc_time& start) {
  if (m_trace) m_trace->complete(m_tracks[idx(e)], event, ns(start), ns(sc_core::sc_time_stamp() - start));
}

void npu_core::execute(engine e, size_t i) {
  const kernels::command& cmd = m_program[i];
  sc_time start = sc_core::sc_time_stamp();
  engine_stats& st = m_stats[idx(e)];
  bool stall = false;
  uint32_t event = 0;
  if (auto* d = std::get_if<kernels::dma_cmd>(&cmd)) {
    run_dma(*d, i);  // busy time and trace event when it retires
    ++st.commands;
    return;
  } else if (auto* s = std::get_if<kernels::send_cmd>(&cmd)) {
    run_send(*s, i);
    ++st.commands;
    return;
  } else if (auto* m = std::get_if<kernels::matmul_cmd>(&cmd)) {
    run_matmul(*m, i);
    event = m_ev_matmul;
  } else if (auto* v = std::get_if<kernels::vector_cmd>(&cmd)) {
    run_vector(*v, i);
    event = m_trace ? m_ev_vector[static_cast<size_t>(v->op)] : 0;
  } else if (auto* r = std::get_if<kernels::recv_cmd>(&cmd)) {
    const int peer = core_of(r->peer, i);
    auto& ch = m_channels[{peer, r->tag}];
    while (ch.empty()) wait(m_arrived);
    if (ch.front().dst != r->dst || ch.front().bytes != r->bytes)
      fail(where(i) + ": the matching send wrote " + std::to_string(ch.front().bytes) + " bytes at " +
           std::to_string(ch.front().dst));
    ch.pop_front();
    stall = true;
    event = m_ev_recv;
  } else if (auto* w = std::get_if<kernels::wait_cmd>(&cmd)) {
    wait_semaphore(w->sem, w->count);
    stall = true;
    event = m_ev_wait;
  } else if (auto* sg = std::get_if<kernels::signal_cmd>(&cmd)) {
    // Every earlier command of this engine has completed: queues run in order
    // (on the DMA engine, once every earlier dma/send has retired).
    if (e == engine::dma) {
      drain_dma();
      start = sc_core::sc_time_stamp();  // the drain is the ops' busy time, not the signal's
    }
    const int target = core_of(sg->core, i);
    if (target == m_id) {
      m_sem[sg->sem] += sg->count;
      m_sem_changed.notify();
    } else {
      m_sync.signal(m_id, target, sg->sem, sg->count);
      ++m_remote_signals;
    }
    event = m_ev_signal;
  } else if (auto* b = std::get_if<kernels::barrier_cmd>(&cmd)) {
    while (!engines_idle()) wait(m_retired);
    m_sync.barrier(m_id, b->group, b->participants);
    if (!m_sync.failure().empty()) fail(m_sync.failure());
    ++m_barriers;
    stall = true;
    event = m_ev_barrier;
  }
  ++st.commands;
  const sc_time took = sc_core::sc_time_stamp() - start;
  (stall ? st.stalled : st.busy) += took;
  const uint16_t op = kernels::op_of(cmd);
  if (op >= m_op_times.size()) m_op_times.resize(op + size_t(1));
  (stall ? m_op_times[op].stalled : m_op_times[op].busy)[idx(e)] += took;
  trace(e, event, start);
}

void npu_core::wait_semaphore(uint16_t sem, uint32_t count) {
  while (m_sem[sem] < int64_t(count)) wait(m_sem_changed);
  m_sem[sem] -= count;
}

// ---------------------------------------------------------------- engines

void npu_core::run_dma(const kernels::dma_cmd& d, size_t i) {
  const uint64_t bytes = uint64_t(d.rows) * d.row_bytes;
  if (bytes == 0) return;
  auto global = [&](kernels::mem_space space, uint16_t core, uint64_t addr) {
    return space == kernels::mem_space::hbm ? m_map.hbm_base() + addr : m_map.sram_global(core_of(core, i), addr);
  };
  const dma_descriptor desc =
      dma_descriptor::strided(global(d.src_space, d.src_core, d.src), global(d.dst_space, d.dst_core, d.dst),
                              d.row_bytes, d.rows, d.src_stride, d.dst_stride);
  // Hazards are checked on the bounding range of each side's rows.
  dma_op op;
  op.command = i;
  op.src_lo = desc.src;
  op.src_hi = desc.src + (uint64_t(d.rows) - 1) * d.src_stride + d.row_bytes;
  op.dst_lo = desc.dst;
  op.dst_hi = desc.dst + (uint64_t(d.rows) - 1) * d.dst_stride + d.row_bytes;
  op.bytes = bytes;
  issue_dma(desc, op);
}

void npu_core::run_send(const kernels::send_cmd& s, size_t i) {
  dma_op op;
  op.command = i;
  op.send = true;
  op.peer = core_of(s.peer, i);
  op.bytes = s.bytes;
  op.src_lo = m_map.sram_global(m_id, s.src);
  op.src_hi = op.src_lo + s.bytes;
  op.dst_lo = m_map.sram_global(op.peer, s.dst);
  op.dst_hi = op.dst_lo + s.bytes;
  issue_dma(dma_descriptor::linear(op.src_lo, op.dst_lo, s.bytes), op);
}

void npu_core::issue_dma(const dma_descriptor& desc, dma_op op) {
  auto overlap = [](uint64_t a_lo, uint64_t a_hi, uint64_t b_lo, uint64_t b_hi) { return a_lo < b_hi && b_lo < a_hi; };
  auto conflicts = [&] {
    for (const dma_op& e : m_dma_ops)
      if (!e.done && (overlap(op.dst_lo, op.dst_hi, e.src_lo, e.src_hi) ||  // write after read
                      overlap(op.dst_lo, op.dst_hi, e.dst_lo, e.dst_hi) ||  // write after write
                      overlap(op.src_lo, op.src_hi, e.dst_lo, e.dst_hi)))   // read after write
        return true;
    return false;
  };
  while (m_dma_pending >= static_cast<size_t>(m_cfg.dma.descriptors_in_flight) || conflicts()) wait(m_dma_retired);
  op.start = sc_core::sc_time_stamp();
  if (m_dma_ops.empty()) m_dma_busy_since = op.start;
  m_dma_ops.push_back(op);
  if (op.bytes == 0) {  // nothing to move: retires in order with the others
    m_dma_ops.back().done = true;
    retire_dma();
    return;
  }
  dma_op* slot = &m_dma_ops.back();  // deque: push_back/pop_front keep references to other elements
  ++m_dma_pending;
  m_dma.submit(desc, [this, slot](const dma_completion& c) {
    slot->done = true;
    slot->ok = c.ok;
    --m_dma_pending;
    retire_dma();
  });
}

// In program order: the error of the oldest failed op, the arrival notice of
// a send, busy time and the trace event.
void npu_core::retire_dma() {
  const sc_time now = sc_core::sc_time_stamp();
  while (!m_dma_ops.empty() && m_dma_ops.front().done) {
    const dma_op& op = m_dma_ops.front();
    if (!op.ok) {
      m_sync.fail(where(op.command) + (op.send ? ": a send request got an error response (address outside its SRAM?)"
                                               : ": a DMA request got an error response (address outside its memory?)"));
    } else if (op.send) {
      const auto& s = std::get<kernels::send_cmd>(m_program[op.command]);
      m_send_bytes += op.bytes;
      m_sync.notify_arrival(m_id, op.peer, s.tag, s.dst, s.bytes);
    } else {
      m_dma_bytes += op.bytes;
    }
    trace(engine::dma, op.send ? m_ev_send : m_ev_dma, op.start);
    // In-order retirement splits the engine's busy time over the ops: each
    // gets the time since the previous retirement (or its own start).
    const uint16_t op_id = kernels::op_of(m_program[op.command]);
    if (op_id >= m_op_times.size()) m_op_times.resize(op_id + size_t(1));
    m_op_times[op_id].busy[idx(engine::dma)] += now - std::max(op.start, m_dma_retired_at);
    m_dma_retired_at = now;
    m_dma_ops.pop_front();
    if (m_dma_ops.empty()) m_stats[idx(engine::dma)].busy += now - m_dma_busy_since;
  }
  m_dma_retired.notify();
  m_retired.notify(SC_ZERO_TIME);
}

void npu_core::drain_dma() {
  while (!m_dma_ops.empty()) wait(m_dma_retired);
}

void npu_core::check_operands(size_t i) {
  if (!kernels::in_memory(m_program[i], m_map.sram_bytes(), m_map.hbm_bytes()))
    fail(where(i) + ": " + kernels::range_error(m_program[i], m_map.sram_bytes(), m_map.hbm_bytes()));
}

std::vector<uint8_t> npu_core::read_bytes(uint32_t addr, uint64_t bytes) {
  std::vector<uint8_t> out(bytes);
  if (bytes) read_sram(addr, out.data(), bytes);
  return out;
}

std::vector<float> npu_core::read_floats(uint32_t addr, uint64_t count) {
  std::vector<float> out(count);
  if (count) read_sram(addr, out.data(), count * 4);
  return out;
}

void npu_core::run_matmul(const kernels::matmul_cmd& m, size_t i) {
  check_operands(i);
  // Folds of a weight tile larger than the array run back to back with
  // double-buffered weights (core_timing::matmul_command_cycles); a command
  // right behind the previous matmul overlaps it (matmul_follow_cycles).
  uint64_t cycles = core_timing::matmul_command_cycles(m.m, m.k, m.n, m_cfg.matrix);
  if (cycles) {
    const sc_time now = sc_core::sc_time_stamp();
    if (m_last_matmul.m > 0 && now == m_last_matmul.end)
      cycles =
          core_timing::matmul_follow_cycles(cycles, m.k, m_last_matmul.m, m_last_matmul.drain_cycles, m_cfg.matrix);
    m_last_matmul = {now + m_period * static_cast<double>(cycles), m.m,
                     core_timing::matmul_drain_cycles(m.m, m.k, m.n, m_cfg.matrix)};
  }
  if (cycles) wait(m_period * static_cast<double>(cycles));
  if (m_functional) {
    const kernels::matmul_extent x = kernels::extent_of(m);
    if (x.c) {
      const std::vector<uint8_t> a = read_bytes(m.a, x.a_bytes), b = read_bytes(m.b, x.b_bytes);
      std::vector<float> c = read_floats(m.c, x.c);
      kernels::compute_matmul(m, a.data(), b.data(), c.data());
      write_sram(m.c, c.data(), x.c * 4);
    }
  }
  m_macs += uint64_t(m.m) * m.k * m.n;
}

void npu_core::run_vector(const kernels::vector_cmd& v, size_t i) {
  check_operands(i);
  const uint64_t elements = uint64_t(v.rows) * v.cols;
  wait(m_period *
       static_cast<double>(core_timing::vector_cycles(elements, core_timing::vector_kind_of(v.op), m_cfg.vector)));
  if (m_functional) {
    const kernels::vector_extent x = kernels::extent_of(v);
    const std::vector<float> src0 = read_floats(v.src0, x.src0), src1 = read_floats(v.src1, x.src1);
    std::vector<uint8_t> dst(x.dst_bytes);
    kernels::compute_vector(v, src0.data(), x.src1 ? src1.data() : nullptr, dst.data());
    write_sram(v.dst, dst.data(), x.dst_bytes);
  }
  m_vector_elements += elements;
}

// ---------------------------------------------------------------- messages

void npu_core::post_signal(uint16_t sem, uint32_t count, const sc_time& delay) {
  message msg;
  msg.sem = sem;
  msg.count = count;
  m_inbox.emplace(sc_core::sc_time_stamp() + delay, msg);
  m_inbox_ev.notify(delay);
}

void npu_core::post_arrival(int from, uint32_t tag, uint32_t dst, uint32_t bytes, const sc_time& delay) {
  message msg;
  msg.arrival = true;
  msg.from = from;
  msg.tag = tag;
  msg.dst = dst;
  msg.bytes = bytes;
  m_inbox.emplace(sc_core::sc_time_stamp() + delay, msg);
  m_inbox_ev.notify(delay);
}

void npu_core::inbox_method() {
  const sc_time now = sc_core::sc_time_stamp();
  while (!m_inbox.empty() && m_inbox.begin()->first <= now) {
    const message& msg = m_inbox.begin()->second;
    if (msg.arrival) {
      m_channels[{msg.from, msg.tag}].push_back({msg.dst, msg.bytes});
      m_arrived.notify();
    } else {
      m_sem[msg.sem] += msg.count;
      m_sem_changed.notify();
    }
    m_inbox.erase(m_inbox.begin());
  }
  if (!m_inbox.empty()) m_inbox_ev.notify(m_inbox.begin()->first - now);
}

// ---------------------------------------------------------------- SRAM data

void npu_core::read_sram(uint64_t addr, void* dst, uint64_t bytes) {
  tlm::tlm_generic_payload t;
  t.set_command(tlm::TLM_READ_COMMAND);
  t.set_address(addr);
  t.set_data_ptr(static_cast<unsigned char*>(dst));
  t.set_data_length(static_cast<unsigned int>(bytes));
  if (!m_functional || m_sram.port_in.get_base_export()->transport_dbg(t) != bytes)
    throw error(std::string(name()) + ": cannot read SRAM [" + std::to_string(addr) + ", " +
                std::to_string(addr + bytes) + ")" + (m_functional ? " (out of range)" : " (not functional)"));
}

void npu_core::write_sram(uint64_t addr, const void* src, uint64_t bytes) {
  tlm::tlm_generic_payload t;
  t.set_command(tlm::TLM_WRITE_COMMAND);
  t.set_address(addr);
  t.set_data_ptr(static_cast<unsigned char*>(const_cast<void*>(src)));
  t.set_data_length(static_cast<unsigned int>(bytes));
  if (!m_functional || m_sram.port_in.get_base_export()->transport_dbg(t) != bytes)
    throw error(std::string(name()) + ": cannot write SRAM [" + std::to_string(addr) + ", " +
                std::to_string(addr + bytes) + ")" + (m_functional ? " (out of range)" : " (not functional)"));
}

// ---------------------------------------------------------------- command queue

bool npu_core::cmdq_access(tlm::tlm_generic_payload& trans) {
  const uint64_t a = trans.get_address(), len = trans.get_data_length();
  unsigned char* p = trans.get_data_ptr();
  if (a < m_ring.size() && len <= m_ring.size() - a) {
    if (trans.is_write())
      std::memcpy(m_ring.data() + a, p, len);
    else if (trans.is_read())
      std::memcpy(p, m_ring.data() + a, len);
    return true;
  }
  return false;
}

void npu_core::cmdq_b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) {
  delay += m_period;  // one register access
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
  if (cmdq_access(trans)) return;
  if (trans.get_address() != m_ring.size() || trans.get_data_length() != 4 || !trans.is_write() || m_ended) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  uint32_t n = 0;
  std::memcpy(&n, trans.get_data_ptr(), 4);
  try {
    const uint64_t depth = static_cast<uint64_t>(m_cfg.cmdq_depth);
    for (uint32_t k = 0; k < n; ++k, ++m_ring_head) {
      const kernels::command c =
          kernels::decode_record(m_ring.data(), m_ring.size(), (m_ring_head % depth) * kernels::record_bytes, name());
      kernels::check_command(c, where(m_program.size()));
      m_program.push_back(c);
    }
  } catch (const error& e) {
    trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    m_sync.fail(std::string(name()) + ": command queue: " + e.what());
    return;
  }
  if (!m_started) {
    m_started = true;
    m_sync.core_started();
  }
  m_streaming = true;
  m_more_commands.notify(delay);  // the doorbell takes effect when the write lands
}

unsigned int npu_core::cmdq_transport_dbg(tlm::tlm_generic_payload& trans) {
  return cmdq_access(trans) ? trans.get_data_length() : 0;
}

// ---------------------------------------------------------------- reports

std::string npu_core::blocked_report() const {
  if (m_done || !m_started) return "";
  std::string s = std::string(name()) + " (core " + std::to_string(m_id) + "):";
  if (!m_ended)
    s += m_pc < m_program.size() ? "\n    dispatch blocked at " + where(m_pc)
                                 : "\n    dispatch waiting for commands (command queue empty, no end yet)";
  for (engine e : {engine::dma, engine::matrix, engine::vector})
    if (!m_queue[idx(e)].empty())
      s += "\n    " + std::string(kernels::engine_name(e)) + " blocked at " + where(m_queue[idx(e)].front());
  if (!m_dma_ops.empty()) s += "\n    dma in flight since " + where(m_dma_ops.front().command);
  return s;
}

void npu_core::report_stats(stats_writer& out) const {
  const std::string g = name();
  uint64_t commands = 0;
  for (const auto& s : m_stats) commands += s.commands;
  out.text(
      g, "data",
      m_functional ? "functional: matmul/vector results computed on the SRAM bytes" : "timing only: no data computed",
      "whether the engines compute");
  out.text(g, "operand_traffic", "matrix/vector SRAM operand reads and writes not modelled (dedicated ports)",
           "approximation");
  out.scalar(g, "commands", static_cast<double>(commands), "commands", "commands completed, all engines");
  out.scalar(g, "end_ns", m_done ? ns(m_end_time) : -1.0, "ns", "when the core finished (-1: not finished)");
  out.scalar(g, "remote_signals", static_cast<double>(m_remote_signals), "messages",
             "semaphore signals sent to other cores");
  auto engine_stats_out = [&](engine e, const std::string& group) {
    const engine_stats& s = m_stats[idx(e)];
    out.scalar(group, "commands", static_cast<double>(s.commands), "commands", "commands completed on this engine");
    out.scalar(group, "active_ns", ns(s.busy), "ns", "time running commands (excluding waits)");
    out.scalar(group, "stall_ns", ns(s.stalled), "ns", "time blocked in wait, recv or barrier");
  };
  const std::string dma_g = g + ".dma", mat_g = g + ".matrix", vec_g = g + ".vector", sync_g = g + ".sync";
  engine_stats_out(engine::dma, dma_g);
  out.scalar(dma_g, "dma_bytes", static_cast<double>(m_dma_bytes), "B", "bytes moved by dma commands");
  out.scalar(dma_g, "send_bytes", static_cast<double>(m_send_bytes), "B", "bytes moved by send commands");
  engine_stats_out(engine::matrix, mat_g);
  out.scalar(mat_g, "macs", static_cast<double>(m_macs), "MAC", "multiply-accumulates");
  out.scalar(mat_g, "flops", 2.0 * static_cast<double>(m_macs), "FLOP", "2 x MACs");
  const double peak = static_cast<double>(m_cfg.matrix.rows) * m_cfg.matrix.cols * m_cfg.matrix.macs_per_pe_per_cycle;
  const double busy_cycles = m_stats[idx(engine::matrix)].busy / m_period;
  out.scalar(mat_g, "utilization", busy_cycles > 0 ? static_cast<double>(m_macs) / (busy_cycles * peak) : 0.0, "",
             "MACs / (active cycles x rows x cols x macs_per_pe_per_cycle)");
  engine_stats_out(engine::vector, vec_g);
  out.scalar(vec_g, "elements", static_cast<double>(m_vector_elements), "elements",
             "fp32 input elements processed (rows x cols)");
  engine_stats_out(engine::sync, sync_g);
  out.scalar(sync_g, "barriers", static_cast<double>(m_barriers), "barriers", "barriers passed");
  m_sram.report_stats(out);
  m_dma.report_stats(out);
}

}  // namespace npuvp
