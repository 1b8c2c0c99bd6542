// Row locality of an HBM access pattern: how much of a channel's bandwidth a
// DMA descriptor's accesses can use given the banks and rows they fall in.
//
// A strided descriptor whose rows land far apart in a channel opens a new
// DRAM row for almost every access; when those rows share banks, the channel
// waits for row cycles (tRAS + tRP) and activation windows (tRRD, tFAW)
// instead of moving data, and a bf16 weight tile can get under half of the
// channel's peak (`npuvp bench hbm --pattern stride --stride 4864
// --request-bytes 256`: 45 %). The access-pattern efficiency classes of the
// perfmodel (sequential, strided, random) cannot tell such strides apart.
// A calibration measures it on the TLM chip for the common shape
// (perf_params::hbm_stride_locality); for other shapes, or without one,
// the model walks the descriptor's first bursts in one channel through the
// bank timing of the TLM channel (models/hbm/hbm_channel.h: the same address
// mapping, an open-page controller, the JEDEC constraints of hbm_config) and
// compares the time with that of a sequential stream of as many bursts.
#pragma once

#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "platform/config/hbm_config.h"
#include "platform/hbm_address_mapper.h"
#include "platform/memory_map.h"

namespace npuvp::perf {

class hbm_rows {
 public:
  explicit hbm_rows(const hbm_config& cfg);
  // Efficiency of the descriptor (addr, run bytes per row, rows, stride; an
  // offset in the global HBM space, interleaved over cfg.channels every
  // cfg.interleave_bytes) relative to a sequential stream, in (0, 1]: its
  // accesses in the channel of its first byte, at most `max_bursts` of them,
  // served in order. Walked once per shape and start within the interleave
  // period: the tiles of one weight matrix differ only in where their rows
  // fall in the DRAM rows, which moves the result by a few per cent.
  double locality(uint64_t addr, uint64_t run, uint64_t rows, uint64_t stride) const;
  // Time in tCK an open-page controller needs to serve these channel-local
  // bursts in order, from the first column command to the end of the last
  // burst's data: ACTs issue as early as their bank (tRP after its PRE, which
  // waits tRAS after the ACT and tRTP after the last column) and the
  // activation limits (tRRD_S/L, tFAW per pseudo-channel) allow, overlapping
  // other banks' transfers; columns issue in order on each pseudo-channel,
  // tRCD after their ACT, tCCD_S/L and tBURST apart.
  double serve_cycles(const std::vector<uint64_t>& bursts) const;

  static constexpr size_t max_bursts = 512;
  static constexpr size_t probe_bursts = 128;  // walked first: no loss there, none at all

 private:
  hbm_org m_org;
  hbm_timing m_t;
  hbm_interleave m_il;
  hbm_address_mapper m_mapper;
  double sequential_cycles(size_t n) const;  // serve_cycles of n sequential bursts (cached by n)
  mutable std::map<size_t, double> m_sequential;
  // locality() by (addr mod the interleave period, run, rows, stride).
  mutable std::map<std::tuple<uint64_t, uint64_t, uint64_t, uint64_t>, double> m_walked;
};

}  // namespace npuvp::perf
