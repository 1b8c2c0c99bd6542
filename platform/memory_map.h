// The global address space as data, built from the hardware config
// (SystemC-free: kernels/ and perfmodel/ use it too).
//
//   [hbm_base, hbm_base + channels * channel_bytes)   HBM, interleaved across
//       channels every hbm.interleave_bytes: global block b = offset / I lives
//       in channel b % channels at channel-local address (b / channels) * I + offset % I.
//   [sram_base + c * sram_stride, ... + sram capacity)  SRAM of core c = y * width + x.
//
// decode() turns a global access into {target kind, index, local address};
// the inverse functions give the global address back.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "platform/config/hw_config.h"

namespace npuvp {

enum class mem_target { hbm, sram };

// HBM interleaving (the formula above) of an offset from hbm_base, without
// range checks: the one place it is computed (memory_map::decode and the
// perfmodel's channel spread and row walk use it).
struct hbm_interleave {
  uint64_t bytes = 1;     // hbm.interleave_bytes
  uint64_t channels = 1;  // hbm.channels
  int channel(uint64_t off) const { return static_cast<int>((off / bytes) % channels); }
  uint64_t local(uint64_t off) const { return (off / bytes / channels) * bytes + off % bytes; }
};

struct mem_location {
  mem_target kind;
  int index;       // HBM channel or core index
  uint64_t local;  // target-local address
};

class memory_map {
 public:
  // Throws npuvp::error when regions overlap, overflow 64 bits, an SRAM window
  // is larger than sram_stride, or the channel capacity is not a multiple of
  // hbm.interleave_bytes.
  explicit memory_map(const hw_config& hw);

  // The target holding [addr, addr + len). Throws npuvp::error naming the
  // address when it is unmapped or the access straddles two targets
  // (two HBM channels, two cores, or a region end). len 0 is treated as 1.
  mem_location decode(uint64_t addr, uint64_t len) const;

  uint64_t hbm_global(int channel, uint64_t local) const;
  uint64_t sram_global(int core, uint64_t local) const;
  uint64_t global(const mem_location& l) const;

  // Flat numbering of all targets for an interconnect: HBM channels 0..C-1,
  // then core SRAMs C..C+N-1.
  int target_count() const { return m_channels + m_cores; }
  int target_index(const mem_location& l) const { return l.kind == mem_target::hbm ? l.index : m_channels + l.index; }

  int hbm_channels() const { return m_channels; }
  uint64_t hbm_base() const { return m_hbm_base; }
  uint64_t hbm_channel_bytes() const { return m_channel_bytes; }
  uint64_t hbm_bytes() const { return m_channel_bytes * static_cast<uint64_t>(m_channels); }
  uint64_t interleave_bytes() const { return m_interleave; }
  int cores() const { return m_cores; }
  int core_index(int x, int y) const { return y * m_width + x; }
  // Mesh router [x, y] of a core (inverse of core_index).
  std::array<int, 2> core_router(int core) const { return {core % m_width, core / m_width}; }
  uint64_t sram_base(int core) const { return m_sram_base + static_cast<uint64_t>(core) * m_sram_stride; }
  uint64_t sram_bytes() const { return m_sram_bytes; }

 private:
  int m_channels, m_cores, m_width;
  uint64_t m_hbm_base, m_channel_bytes, m_interleave;
  uint64_t m_sram_base, m_sram_stride, m_sram_bytes;
};

// Router [x, y] of each HBM channel: hbm.routers when given, else generated
// from hbm.placement. Edge routers are listed in a fixed order (row y = 0 is
// north, column x = 0 is west):
//   west:        (0, 0) .. (0, H-1)
//   east:        (W-1, 0) .. (W-1, H-1)
//   west_east:   west then east
//   north_south: (0, 0) .. (W-1, 0) then (0, H-1) .. (W-1, H-1)
//   all_edges:   the perimeter clockwise from (0, 0): north row, east column,
//                south row (east to west), west column (south to north)
// (duplicates removed for 1-wide meshes). Channel i of C goes to edge router
// floor((2i + 1) * R / (2C)) of R: evenly spread and centred, consecutive
// channels sharing a router when C > R.
std::vector<std::array<int, 2>> hbm_channel_routers(const hw_config& hw);

}  // namespace npuvp
