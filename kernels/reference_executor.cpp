#include "kernels/reference_executor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <tuple>

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
  if (type == dtype::fp32) {
    std::memcpy(span(space, core, addr, values.size() * 4, "write_floats"), values.data(), values.size() * 4);
    return;
  }
  if (type != dtype::bf16) throw error(std::string("write_floats: cannot store ") + dtype_name(type));
  uint8_t* out = span(space, core, addr, values.size() * 2, "write_floats");
  for (size_t e = 0; e < values.size(); ++e) {
    const uint16_t b = to_bf16(values[e]);
    out[2 * e] = uint8_t(b);
    out[2 * e + 1] = uint8_t(b >> 8);
  }
}

std::vector<float> reference_executor::read_floats(mem_space space, int core, uint64_t addr, size_t count) const {
  std::vector<float> out(count);
  std::memcpy(out.data(), span(space, core, addr, count * 4, "read_floats"), count * 4);
  return out;
}

namespace {

struct arrival {
  uint32_t dst, bytes;
};

struct core_state {
  size_t pc = 0;                           // next command to dispatch
  std::deque<size_t> queue[engine_count];  // dispatched, not yet completed
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

// fp32 kernels of the vector unit.
float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

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

  for (int c = 0; c < n; ++c)
    for (size_t i = 0; i < programs[c].size(); ++i)
      check_command(programs[c][i], "core " + std::to_string(c) + " command " + std::to_string(i));

  auto where = [&](int core, size_t i) {
    return "core " + std::to_string(core) + " command " + std::to_string(i) + " (" + to_text(programs[core][i]) + ")";
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
      if (m->type != dtype::fp32 && m->type != dtype::bf16)
        throw error(where(core, i) + ": the reference executor multiplies fp32 and bf16 only, not " +
                    dtype_name(m->type));
      if (m->m == 0 || m->n == 0) return true;
      const uint64_t eb = dtype_bytes(m->type);
      // Operand element e of a span starting at p, widened to fp32.
      auto element = [&](const uint8_t* p, uint64_t e) {
        if (m->type == dtype::fp32) {
          float f;
          std::memcpy(&f, p + e * 4, 4);
          return f;
        }
        return from_bf16(uint16_t(p[e * 2] | (p[e * 2 + 1] << 8)));
      };
      const uint8_t* a = span(mem_space::sram, core, m->a, (uint64_t(m->m - 1) * m->lda + m->k) * eb, where(core, i));
      // B element (k, col): row-major [k x n], or [n x k] when transposed.
      const uint64_t b_rows = m->transpose_b ? m->n : m->k, b_cols = m->transpose_b ? m->k : m->n;
      const uint8_t* b =
          span(mem_space::sram, core, m->b, (b_rows == 0 ? 0 : (b_rows - 1) * m->ldb + b_cols) * eb, where(core, i));
      const uint64_t k_step = m->transpose_b ? 1 : m->ldb, n_step = m->transpose_b ? m->ldb : 1;
      float* c = f32(core, m->c, uint64_t(m->m - 1) * m->ldc + m->n, i);
      for (uint32_t r = 0; r < m->m; ++r)
        for (uint32_t col = 0; col < m->n; ++col) {
          float acc = m->accumulate ? c[uint64_t(r) * m->ldc + col] : 0.0f;
          for (uint32_t k = 0; k < m->k; ++k)
            acc += element(a, uint64_t(r) * m->lda + k) * element(b, k * k_step + col * n_step);
          c[uint64_t(r) * m->ldc + col] = acc;
        }
      stats.matmul_macs += uint64_t(m->m) * m->k * m->n;
    } else if (auto* v = std::get_if<vector_cmd>(&cmd)) {
      const uint64_t count = uint64_t(v->rows) * v->cols;
      const bool reduces = v->op == vector_op::row_max || v->op == vector_op::row_sum;
      const float* x = f32(core, v->src0, count, i);
      float* y = f32(core, v->dst, reduces ? v->rows : count, i);
      const uint32_t cols = v->cols;
      switch (v->op) {
        case vector_op::add:
        case vector_op::mul:
        case vector_op::sub:
        case vector_op::max: {
          const float* z = f32(core, v->src1, count, i);
          for (uint64_t e = 0; e < count; ++e)
            y[e] = v->op == vector_op::add   ? x[e] + z[e]
                   : v->op == vector_op::mul ? x[e] * z[e]
                   : v->op == vector_op::sub ? x[e] - z[e]
                                             : std::max(x[e], z[e]);
          break;
        }
        case vector_op::exp:
          for (uint64_t e = 0; e < count; ++e) y[e] = std::exp(x[e]);
          break;
        case vector_op::row_max:
        case vector_op::row_sum:
          for (uint32_t r = 0; r < v->rows; ++r) {
            float acc = v->op == vector_op::row_max ? -INFINITY : 0.0f;
            for (uint32_t e = 0; e < cols; ++e) {
              const float xe = x[uint64_t(r) * cols + e];
              acc = v->op == vector_op::row_max ? std::max(acc, xe) : acc + xe;
            }
            y[r] = acc;
          }
          break;
        case vector_op::sub_row:
        case vector_op::mul_row:
        case vector_op::div_row: {
          const float* z = f32(core, v->src1, v->rows, i);
          for (uint32_t r = 0; r < v->rows; ++r)
            for (uint32_t e = 0; e < cols; ++e) {
              const uint64_t at = uint64_t(r) * cols + e;
              y[at] = v->op == vector_op::sub_row   ? x[at] - z[r]
                      : v->op == vector_op::mul_row ? x[at] * z[r]
                                                    : x[at] / z[r];
            }
          break;
        }
        case vector_op::causal_mask:
          for (uint32_t r = 0; r < v->rows; ++r)
            for (uint32_t e = 0; e < cols; ++e) {
              const uint64_t at = uint64_t(r) * cols + e;
              y[at] = uint64_t(e) + v->param0 > uint64_t(r) + v->param1 ? -INFINITY : x[at];
            }
          break;
        case vector_op::scale:
          for (uint64_t e = 0; e < count; ++e) y[e] = x[e] * v->scalar;
          break;
        case vector_op::copy:
          std::memmove(y, x, count * 4);
          break;
        case vector_op::silu:
          for (uint64_t e = 0; e < count; ++e) y[e] = x[e] * sigmoid(x[e]);
          break;
        case vector_op::gelu:
          // Hendrycks & Gimpel 2016, tanh approximation.
          for (uint64_t e = 0; e < count; ++e)
            y[e] = 0.5f * x[e] * (1.0f + std::tanh(0.7978845608f * (x[e] + 0.044715f * x[e] * x[e] * x[e])));
          break;
        case vector_op::softmax:
          for (uint32_t r = 0; r < v->rows; ++r) {
            const float* xr = x + uint64_t(r) * cols;
            float* yr = y + uint64_t(r) * cols;
            float mx = -INFINITY;
            for (uint32_t e = 0; e < cols; ++e) mx = std::max(mx, v->scalar * xr[e]);
            float sum = 0;
            for (uint32_t e = 0; e < cols; ++e) sum += (yr[e] = std::exp(v->scalar * xr[e] - mx));
            for (uint32_t e = 0; e < cols; ++e) yr[e] /= sum;
          }
          break;
        case vector_op::rmsnorm: {
          const float* w = f32(core, v->src1, cols, i);
          for (uint32_t r = 0; r < v->rows; ++r) {
            const float* xr = x + uint64_t(r) * cols;
            float* yr = y + uint64_t(r) * cols;
            float ss = 0;
            for (uint32_t e = 0; e < cols; ++e) ss += xr[e] * xr[e];
            const float inv = 1.0f / std::sqrt(ss / float(cols) + v->scalar);
            for (uint32_t e = 0; e < cols; ++e) yr[e] = xr[e] * inv * w[e];
          }
          break;
        }
        case vector_op::rope: {
          const uint32_t half = cols / 2;
          for (uint32_t r = 0; r < v->rows; ++r) {
            const double pos = double(v->param0) + double(r / v->param1);
            const float* xr = x + uint64_t(r) * cols;
            float* yr = y + uint64_t(r) * cols;
            for (uint32_t e = 0; e < half; ++e) {
              const double angle = pos * std::pow(double(v->scalar), -2.0 * e / cols);
              const float c = float(std::cos(angle)), sn = float(std::sin(angle));
              const float x0 = xr[e], x1 = xr[e + half];
              yr[e] = x0 * c - x1 * sn;
              yr[e + half] = x1 * c + x0 * sn;
            }
          }
          break;
        }
        case vector_op::topk: {
          std::vector<uint32_t> idx(cols);
          for (uint32_t r = 0; r < v->rows; ++r) {
            const float* xr = x + uint64_t(r) * cols;
            float* yr = y + uint64_t(r) * cols;
            std::iota(idx.begin(), idx.end(), 0u);
            // Ties go to the lower index, so the choice is deterministic.
            std::partial_sort(idx.begin(), idx.begin() + v->param0, idx.end(),
                              [&](uint32_t p, uint32_t q) { return xr[p] > xr[q] || (xr[p] == xr[q] && p < q); });
            const float mx = xr[idx[0]];
            std::vector<float> keep(v->param0);
            float sum = 0;
            for (uint32_t e = 0; e < v->param0; ++e) sum += (keep[e] = std::exp(xr[idx[e]] - mx));
            // Softmax over all experts restricted to the chosen ones, or renormalised among them.
            if (!v->normalize) {
              float all = 0;
              for (uint32_t e = 0; e < cols; ++e) all += std::exp(xr[e] - mx);
              sum = all;
            }
            std::fill(yr, yr + cols, 0.0f);
            for (uint32_t e = 0; e < v->param0; ++e) yr[idx[e]] = keep[e] / sum;
          }
          break;
        }
      }
      stats.vector_elems += reduces ? v->rows : count;
    } else if (auto* sd = std::get_if<send_cmd>(&cmd)) {
      const int peer = core_id(core, sd->peer, i);
      const uint8_t* from = span(mem_space::sram, core, sd->src, sd->bytes, where(core, i));
      uint8_t* to = span(mem_space::sram, peer, sd->dst, sd->bytes, where(core, i));
      std::memmove(to, from, sd->bytes);
      channels[{core, peer, sd->tag}].push_back({sd->dst, sd->bytes});
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
      ch.pop_front();
    } else if (auto* w = std::get_if<wait_cmd>(&cmd)) {
      int64_t& value = s.sem[w->sem];
      if (value < int64_t(w->count)) return false;
      value -= w->count;
    } else if (auto* sg = std::get_if<signal_cmd>(&cmd)) {
      const int target = core_id(core, sg->core, i);
      if (target >= n) throw error(where(core, i) + ": core " + std::to_string(target) + " runs no program");
      st[target].sem[sg->sem] += sg->count;
    } else if (auto* b = std::get_if<barrier_cmd>(&cmd)) {
      for (const auto& q : s.queue)
        if (!q.empty()) return false;
      const auto key = std::make_pair(b->group, s.barrier_generation[b->group]);
      if (!s.at_barrier) {
        s.at_barrier = true;
        ++barrier_arrivals[key];
      }
      if (barrier_arrivals[key] < b->participants) return false;
      if (barrier_arrivals[key] > b->participants)
        throw error(where(core, i) + ": " + std::to_string(barrier_arrivals[key]) + " cores reached a barrier for " +
                    std::to_string(b->participants));
      s.at_barrier = false;
      ++s.barrier_generation[b->group];
      // The last core through frees the generation's counter (it is still needed by the others).
    } else if (std::holds_alternative<end_cmd>(cmd)) {
      s.ended = true;
    }
    ++stats.commands;
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
        progress = true;
        continue;
      }
      if (!execute(core, s.pc)) break;
      ++s.pc;
      progress = true;
    }
    if (!s.ended && s.pc == programs[core].size()) s.ended = true;
    return progress;
  };
  auto step_engine = [&](int core, int e, int budget) -> bool {
    auto& q = st[core].queue[e];
    bool progress = false;
    for (int k = 0; k < budget && !q.empty(); ++k) {
      if (!execute(core, q.front())) break;
      q.pop_front();
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
