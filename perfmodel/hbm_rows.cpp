#include "perfmodel/hbm_rows.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>

namespace npuvp::perf {

hbm_rows::hbm_rows(const hbm_config& cfg)
    : m_org(cfg.org),
      m_t(cfg.timing),
      m_il{static_cast<uint64_t>(cfg.interleave_bytes), static_cast<uint64_t>(cfg.channels)},
      m_mapper(cfg) {}

double hbm_rows::sequential_cycles(size_t n) const {
  const auto [known, fresh] = m_sequential.try_emplace(n, 0.0);
  if (!fresh) return known->second;
  std::vector<uint64_t> bursts(n);
  for (size_t i = 0; i < n; ++i) bursts[i] = i * static_cast<uint64_t>(m_org.burst_bytes());
  known->second = serve_cycles(bursts);
  return known->second;
}

double hbm_rows::serve_cycles(const std::vector<uint64_t>& bursts) const {
  constexpr double never = -std::numeric_limits<double>::infinity();
  struct bank {
    int64_t row = -1;
    double col_ok = 0;  // earliest column command (tRCD after the ACT)
    double pre_ok = 0;  // earliest PRE (tRAS after the ACT, tRTP after a column)
  };
  struct pseudo_channel {
    std::vector<bank> banks;
    std::array<double, 4> acts{never, never, never, never};  // the last four ACTs (tFAW), oldest first
    double last_act = never, last_col = never;
    int last_act_bg = -1, last_col_bg = -1;
  };
  std::vector<pseudo_channel> pcs(static_cast<size_t>(m_org.pseudo_channels));
  for (auto& pc : pcs) pc.banks.resize(static_cast<size_t>(m_org.banks()));
  double first = std::numeric_limits<double>::infinity(), end = 0;
  for (uint64_t b : bursts) {
    const hbm_address a = m_mapper.decode(b);
    pseudo_channel& pc = pcs[static_cast<size_t>(a.pc)];
    bank& k = pc.banks[static_cast<size_t>(a.bg * m_org.banks_per_group + a.ba)];
    if (k.row != a.row) {
      double act = k.row < 0 ? 0.0 : k.pre_ok + m_t.tRP;
      act = std::max(act, pc.last_act + (pc.last_act_bg == a.bg ? m_t.tRRD_L : m_t.tRRD_S));
      act = std::max(act, pc.acts[0] + m_t.tFAW);
      std::rotate(pc.acts.begin(), pc.acts.begin() + 1, pc.acts.end());
      pc.acts[3] = act;
      if (act >= pc.last_act) {
        pc.last_act = act;
        pc.last_act_bg = a.bg;
      }
      k.row = a.row;
      k.col_ok = act + m_t.tRCD;
      k.pre_ok = act + m_t.tRAS;
    }
    const double col = std::max(k.col_ok, pc.last_col + std::max<double>(m_t.tBURST, pc.last_col_bg == a.bg ? m_t.tCCD_L
                                                                                                     : m_t.tCCD_S));
    pc.last_col = col;
    pc.last_col_bg = a.bg;
    k.pre_ok = std::max(k.pre_ok, col + m_t.tRTP);
    first = std::min(first, col);
    end = std::max(end, col + m_t.tBURST);
  }
  return bursts.empty() ? 0.0 : end - first;
}

double hbm_rows::locality(uint64_t addr, uint64_t run, uint64_t rows, uint64_t stride) const {
  const uint64_t I = m_il.bytes, B = static_cast<uint64_t>(m_org.burst_bytes());
  const int channel = m_il.channel(addr);
  const auto [known, fresh] = m_walked.try_emplace({addr % (I * m_il.channels), run, rows, stride}, 1.0);
  if (!fresh) return known->second;
  std::vector<uint64_t> bursts;
  // Rows in address order, each cut at interleave blocks; the pieces in `channel`, cut into bursts.
  for (uint64_t r = 0; r < rows && bursts.size() < max_bursts; ++r) {
    const uint64_t row_start = addr + r * stride, row_end = row_start + run;
    for (uint64_t g = row_start; g < row_end && bursts.size() < max_bursts;) {
      const uint64_t block_start = g / I * I, piece_end = std::min(row_end, block_start + I);
      if (m_il.channel(g) == channel) {
        const uint64_t local = m_il.local(block_start);
        for (uint64_t o = (g % I) / B * B; o < piece_end - block_start && bursts.size() < max_bursts; o += B)
          bursts.push_back(local + o);
      }
      g = piece_end;
    }
  }
  if (bursts.size() < 2) return known->second;
  // Most patterns lose nothing (rows close enough to stay open, or bank
  // conflicts rarer than a row cycle), and show it in their first bursts:
  // a bank revisited for another row comes back within one row set (a row of
  // every bank, 32 KiB of the channel on HBM2E: 16 of these 256 B accesses at
  // strides that conflict at all).
  const size_t probe = std::min(bursts.size(), probe_bursts);
  const std::vector<uint64_t> head(bursts.begin(), bursts.begin() + static_cast<std::ptrdiff_t>(probe));
  if (serve_cycles(head) <= sequential_cycles(probe) * (1 + 1e-3)) return known->second;
  known->second = std::min(1.0, sequential_cycles(bursts.size()) / serve_cycles(bursts));
  return known->second;
}

}  // namespace npuvp::perf
