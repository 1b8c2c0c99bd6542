#include "kernels/reference_executor.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <tuple>

#include "kernels/compute.h"
#include "kernels/mem_access.h"
#include "kernels/race_detector.h"
#include "platform/base/error.h"

namespace npuvp::kernels {

reference_executor::reference_executor(int cores, uint64_t sram_bytes_per_core, uint64_t hbm_bytes)
    : m_hbm(hbm_bytes, 0), m_sram(static_cast<size_t>(cores), std::vector<uint8_t>(sram_bytes_per_core, 0)) {
  if (cores < 1 || cores >= self_core)
    throw error("reference executor: core count " + std::to_string(cores) + " out of range");
}

std::vector<uint8_t>& reference_executor::sram(int core) {
  if (core < 0 || core >= cores()) throw error("reference executor: no core " + std::to_string(core));
  return m_sram[core];
}

const uint8_t* reference_executor::span(mem_space space, int core, uint64_t addr, uint64_t bytes,
                                        const std::string& where) const {
  if (space == mem_space::sram && (core < 0 || core >= cores()))
    throw error(where + ": no core " + std::to_string(core));
  const auto& mem = space == mem_space::hbm ? m_hbm : m_sram[core];
  if (addr > mem.size() || bytes > mem.size() - addr)
    throw error(where + ": " + (space == mem_space::hbm ? std::string("HBM") : "SRAM of core " + std::to_string(core)) +
                " range [" + std::to_string(addr) + ", " + std::to_string(addr + bytes) + ") exceeds its " +
                std::to_string(mem.size()) + " bytes");
  return mem.data() + addr;
}

uint8_t* reference_executor::span(mem_space space, int core, uint64_t addr, uint64_t bytes, const std::string& where) {
  return const_cast<uint8_t*>(static_cast<const reference_executor*>(this)->span(space, core, addr, bytes, where));
}

void reference_executor::write_floats(mem_space space, int core, uint64_t addr, const std::vector<float>& values,
                                      dtype type) {
  const std::vector<uint8_t> bytes = encode_floats(values, type);
  if (!bytes.empty()) std::memcpy(span(space, core, addr, bytes.size(), "write_floats"), bytes.data(), bytes.size());
}

std::vector<float> reference_executor::read_floats(mem_space space, int core, uint64_t addr, size_t count) const {
  std::vector<float> out(count);
  std::memcpy(out.data(), span(space, core, addr, count * 4, "read_floats"), count * 4);
  return out;
}

namespace {

struct arrival {
  uint32_t dst, bytes;
  std::vector<uint32_t> clock;  // the sender's vector clock (race detection)
};

struct core_state {
  size_t pc = 0;                                   // next command to dispatch
  std::deque<size_t> queue[engine_count];          // dispatched, not yet completed
  std::deque<size_t> dispatched_at[engine_count];  // dispatcher snapshot of each queued command
  size_t snapshot = 0;                             // the dispatcher's latest snapshot
  uint64_t remaining[engine_count] = {};           // commands not yet completed, per engine
  std::map<uint16_t, int64_t> sem;
  std::map<uint16_t, uint64_t> barrier_generation;
  bool at_barrier = false;  // this core is counted in the current barrier's arrivals
  bool ended = false;
  bool done() const {
    for (const auto& q : queue)
      if (!q.empty()) return false;
    return ended;
  }
};

}  // namespace

execution_stats reference_executor::run(const std::vector<program>& programs, const executor_options& options) {
  if (programs.size() > m_sram.size())
    throw error("reference executor: " + std::to_string(programs.size()) + " programs for " +
                std::to_string(m_sram.size()) + " cores");
  const int n = static_cast<int>(programs.size());
  std::vector<core_state> st(n);
  std::map<std::tuple<int, int, uint32_t>, std::deque<arrival>> channels;  // (from, to, tag)
  std::map<std::pair<uint16_t, uint64_t>, uint32_t> barrier_arrivals;      // (group, generation)
  execution_stats stats;

  auto where = [&](int core, size_t i) {
    return "core " + std::to_string(core) + " command " + std::to_string(i) + " (" + to_text(programs[core][i]) + ")";
  };
  for (int c = 0; c < n; ++c)
    for (size_t i = 0; i < programs[c].size(); ++i) {
      const std::string at = "core " + std::to_string(c) + " command " + std::to_string(i);
      check_command(programs[c][i], at);
      if (!in_memory(programs[c][i], m_sram.front().size(), m_hbm.size()))
        throw error(where(c, i) + ": " + range_error(programs[c][i], m_sram.front().size(), m_hbm.size()));
      ++st[c].remaining[static_cast<int>(engine_of(programs[c][i]))];
    }

  // Happens-before tracking: engine clocks, dispatcher snapshots, semaphore
  // and barrier clocks. The dispatcher (sync engine) touches no memory.
  std::unique_ptr<race_detector> races;
  std::vector<race_detector::clock_vector> snapshots;
  std::map<std::pair<int, uint16_t>, race_detector::clock_vector> sem_clocks;           // (core, sem)
  std::map<std::pair<uint16_t, uint64_t>, race_detector::clock_vector> barrier_clocks;  // (group, generation)
  const race_detector::clock_vector zero_clock(size_t(n) * engine_count, 0);
  if (options.detect_races) {
    races = std::make_unique<race_detector>(n, where);
    snapshots.push_back(zero_clock);
    for (int c = 0; c < n; ++c)
      for (int e = 0; e < engine_count; ++e)
        if (e == static_cast<int>(engine::sync) || st[c].remaining[e] == 0)
          races->retire(race_detector::agent(c, engine(e)));
  }
  auto joined = [&](race_detector::clock_vector& into, const race_detector::clock_vector& from) {
    if (into.empty()) into = zero_clock;
    for (size_t a = 0; a < into.size(); ++a) into[a] = std::max(into[a], from[a]);
  };
  auto core_id = [&](int core, uint16_t field, size_t i) {
    const int id = field == self_core ? core : field;
    if (id >= cores()) throw error(where(core, i) + ": no core " + std::to_string(id));
    return id;
  };
  auto f32 = [&](int core, uint32_t addr, uint64_t count, size_t i) {
    return reinterpret_cast<float*>(span(mem_space::sram, core, addr, count * 4, where(core, i)));
  };

  // Executes command i of `core` if it can proceed now; returns false if blocked.
  auto execute = [&](int core, size_t i) -> bool {
    core_state& s = st[core];
    const command& cmd = programs[core][i];
    const int agent = race_detector::agent(core, engine_of(cmd));
    if (races) {
      races->tick(agent);
      for_each_access(cmd, [&](const mem_access& a) {
        races->access_2d(agent, core, i, a.space, a.space == mem_space::hbm ? 0 : core_id(core, a.core, i), a.addr,
                         a.rows, a.row_bytes, a.stride, a.write);
      });
    }
    if (auto* d = std::get_if<dma_cmd>(&cmd)) {
      const int sc = d->src_space == mem_space::sram ? core_id(core, d->src_core, i) : 0;
      const int dc = d->dst_space == mem_space::sram ? core_id(core, d->dst_core, i) : 0;
      for (uint32_t r = 0; r < d->rows; ++r) {
        const uint8_t* from = span(d->src_space, sc, d->src + r * d->src_stride, d->row_bytes, where(core, i));
        uint8_t* to = span(d->dst_space, dc, d->dst + r * d->dst_stride, d->row_bytes, where(core, i));
        std::memmove(to, from, d->row_bytes);
      }
      stats.dma_bytes += uint64_t(d->rows) * d->row_bytes;
    } else if (auto* m = std::get_if<matmul_cmd>(&cmd)) {
      if (m->m == 0 || m->n == 0) {
        ++stats.commands;
        return true;
      }
      const matmul_extent x = extent_of(*m);
      compute_matmul(*m, span(mem_space::sram, core, m->a, x.a_bytes, where(core, i)),
                     span(mem_space::sram, core, m->b, x.b_bytes, where(core, i)), f32(core, m->c, x.c, i));
      stats.matmul_macs += uint64_t(m->m) * m->k * m->n;
    } else if (auto* v = std::get_if<vector_cmd>(&cmd)) {
      const vector_extent x = extent_of(*v);
      compute_vector(*v, f32(core, v->src0, x.src0, i), x.src1 ? f32(core, v->src1, x.src1, i) : nullptr,
                     span(mem_space::sram, core, v->dst, x.dst_bytes, where(core, i)));
      stats.vector_elems += x.dst_elements;
    } else if (auto* sd = std::get_if<send_cmd>(&cmd)) {
      const int peer = core_id(core, sd->peer, i);
      const uint8_t* from = span(mem_space::sram, core, sd->src, sd->bytes, where(core, i));
      uint8_t* to = span(mem_space::sram, peer, sd->dst, sd->bytes, where(core, i));
      std::memmove(to, from, sd->bytes);
      channels[{core, peer, sd->tag}].push_back(
          {sd->dst, sd->bytes, races ? races->clock(agent) : race_detector::clock_vector()});
      stats.sent_bytes += sd->bytes;
    } else if (auto* rv = std::get_if<recv_cmd>(&cmd)) {
      auto& ch = channels[{core_id(core, rv->peer, i), core, rv->tag}];
      if (ch.empty()) return false;
      if (ch.front().dst != rv->dst || ch.front().bytes != rv->bytes)
        throw error(where(core, i) + ": the matching send wrote " + std::to_string(ch.front().bytes) + " bytes at 0x" +
                    [&] {
                      char b[32];
                      std::snprintf(b, sizeof b, "%x", ch.front().dst);
                      return std::string(b);
                    }());
      if (races) races->join(agent, ch.front().clock);
      ch.pop_front();
    } else if (auto* w = std::get_if<wait_cmd>(&cmd)) {
      int64_t& value = s.sem[w->sem];
      if (value < int64_t(w->count)) return false;
      value -= w->count;
      // Conservative: the wait is ordered after every signal of the semaphore so far.
      if (races) races->join(agent, sem_clocks[{core, w->sem}]);
    } else if (auto* sg = std::get_if<signal_cmd>(&cmd)) {
      const int target = core_id(core, sg->core, i);
      if (target >= n) throw error(where(core, i) + ": core " + std::to_string(target) + " runs no program");
      st[target].sem[sg->sem] += sg->count;
      if (races) joined(sem_clocks[{target, sg->sem}], races->clock(agent));
    } else if (auto* b = std::get_if<barrier_cmd>(&cmd)) {
      for (const auto& q : s.queue)
        if (!q.empty()) return false;
      const auto key = std::make_pair(b->group, s.barrier_generation[b->group]);
      if (!s.at_barrier) {
        s.at_barrier = true;
        ++barrier_arrivals[key];
        if (races) {
          for (int e = 0; e < engine_count; ++e)
            races->join(agent, races->clock(race_detector::agent(core, engine(e))));
          joined(barrier_clocks[key], races->clock(agent));
        }
      }
      if (barrier_arrivals[key] < b->participants) return false;
      if (barrier_arrivals[key] > b->participants)
        throw error(where(core, i) + ": " + std::to_string(barrier_arrivals[key]) + " cores reached a barrier for " +
                    std::to_string(b->participants));
      s.at_barrier = false;
      ++s.barrier_generation[b->group];
      if (races) races->join(agent, barrier_clocks[key]);
    } else if (std::holds_alternative<end_cmd>(cmd)) {
      s.ended = true;
    }
    ++stats.commands;
    if (races && engine_of(cmd) != engine::sync && --s.remaining[static_cast<int>(engine_of(cmd))] == 0)
      races->retire(agent);
    return true;
  };

  // Dispatches non-sync commands and runs the sync command at the head.
  auto dispatch = [&](int core) -> bool {
    core_state& s = st[core];
    bool progress = false;
    while (!s.ended && s.pc < programs[core].size()) {
      const engine e = engine_of(programs[core][s.pc]);
      if (e != engine::sync) {
        s.queue[static_cast<int>(e)].push_back(s.pc++);
        s.dispatched_at[static_cast<int>(e)].push_back(s.snapshot);
        progress = true;
        continue;
      }
      if (!execute(core, s.pc)) break;
      ++s.pc;
      if (races) {  // later commands are dispatched after this one
        snapshots.push_back(races->clock(race_detector::agent(core, engine::sync)));
        s.snapshot = snapshots.size() - 1;
      }
      progress = true;
    }
    if (!s.ended && s.pc == programs[core].size()) s.ended = true;
    return progress;
  };
  auto step_engine = [&](int core, int e, int budget) -> bool {
    auto& q = st[core].queue[e];
    auto& at = st[core].dispatched_at[e];
    bool progress = false;
    for (int k = 0; k < budget && !q.empty(); ++k) {
      if (races) races->join(race_detector::agent(core, engine(e)), snapshots[at.front()]);
      if (!execute(core, q.front())) break;
      q.pop_front();
      at.pop_front();
      progress = true;
    }
    return progress;
  };

  // Units: per core, the dispatcher (-1) and each engine.
  std::vector<std::pair<int, int>> units;
  for (int c = 0; c < n; ++c)
    for (int e = -1; e < engine_count; ++e) units.emplace_back(c, e);
  std::mt19937_64 rng(options.seed);
  const bool random = options.schedule == executor_options::order::random;

  auto all_done = [&] {
    for (const auto& s : st)
      if (!s.done()) return false;
    return true;
  };
  while (!all_done()) {
    ++stats.sweeps;
    bool progress = false;
    if (random) std::shuffle(units.begin(), units.end(), rng);
    for (const auto& [c, e] : units) {
      const int budget = random ? int(rng() % 4) : 1;
      progress |= e < 0 ? dispatch(c) : step_engine(c, e, budget);
    }
    if (progress) continue;
    // Nothing moved: try every unit to exhaustion before calling it a deadlock.
    for (const auto& [c, e] : units) progress |= e < 0 ? dispatch(c) : step_engine(c, e, 1 << 30);
    if (progress) continue;
    std::string report = "deadlock: no core can proceed";
    for (int c = 0; c < n; ++c) {
      const core_state& s = st[c];
      if (s.done()) continue;
      report += "\n  core " + std::to_string(c) + ":";
      if (!s.ended && s.pc < programs[c].size()) report += "\n    dispatch blocked at " + where(c, s.pc);
      for (int e = 0; e < engine_count; ++e)
        if (!s.queue[e].empty())
          report += "\n    " + std::string(engine_name(engine(e))) + " blocked at " + where(c, s.queue[e].front());
    }
    throw simulation_error(report);
  }
  return stats;
}

}  // namespace npuvp::kernels
