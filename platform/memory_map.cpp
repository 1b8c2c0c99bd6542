#include "platform/memory_map.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "platform/base/error.h"

namespace npuvp {

namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string range(uint64_t addr, uint64_t len) { return "[" + hex(addr) + ", +" + std::to_string(len) + ")"; }

bool add_overflows(uint64_t a, uint64_t b) { return a > std::numeric_limits<uint64_t>::max() - b; }

}  // namespace

memory_map::memory_map(const hw_config& hw)
    : m_channels(hw.hbm.channels),
      m_cores(hw.mesh.width * hw.mesh.height),
      m_width(hw.mesh.width),
      m_hbm_base(static_cast<uint64_t>(hw.memory_map.hbm_base)),
      m_channel_bytes(hw.hbm.org.capacity_bytes()),
      m_interleave(static_cast<uint64_t>(hw.hbm.interleave_bytes)),
      m_sram_base(static_cast<uint64_t>(hw.memory_map.sram_base)),
      m_sram_stride(static_cast<uint64_t>(hw.memory_map.sram_stride)),
      m_sram_bytes(hw.core.sram.capacity_bytes()) {
  if (m_channel_bytes % m_interleave != 0)
    throw error("memory_map: HBM channel capacity " + std::to_string(m_channel_bytes) +
                " B is not a multiple of hbm.interleave_bytes " + std::to_string(m_interleave));
  if (m_sram_bytes > m_sram_stride)
    throw error("memory_map: SRAM capacity " + std::to_string(m_sram_bytes) + " B exceeds memory_map.sram_stride " +
                std::to_string(m_sram_stride) + " B, so core windows overlap");
  const uint64_t hbm_total = hbm_bytes();
  if (hbm_total / m_channel_bytes != static_cast<uint64_t>(m_channels) || add_overflows(m_hbm_base, hbm_total))
    throw error("memory_map: HBM region at " + hex(m_hbm_base) + " overflows 64-bit addresses");
  const uint64_t last = static_cast<uint64_t>(m_cores - 1);
  if (last != 0 && m_sram_stride > std::numeric_limits<uint64_t>::max() / last)
    throw error("memory_map: SRAM windows overflow 64-bit addresses");
  const uint64_t sram_span = last * m_sram_stride;
  if (add_overflows(m_sram_base, sram_span) || add_overflows(m_sram_base + sram_span, m_sram_bytes))
    throw error("memory_map: SRAM windows at " + hex(m_sram_base) + " overflow 64-bit addresses");
  const uint64_t sram_end = m_sram_base + sram_span + m_sram_bytes;
  if (m_hbm_base < sram_end && m_sram_base < m_hbm_base + hbm_total)
    throw error("memory_map: HBM region " + hex(m_hbm_base) + ".." + hex(m_hbm_base + hbm_total) +
                " overlaps the SRAM windows " + hex(m_sram_base) + ".." + hex(sram_end));
}

mem_location memory_map::decode(uint64_t addr, uint64_t len) const {
  len = std::max<uint64_t>(len, 1);
  if (addr >= m_hbm_base && addr - m_hbm_base < hbm_bytes()) {
    const uint64_t off = addr - m_hbm_base;
    if (off % m_interleave + len > m_interleave)
      throw error("memory_map: access " + range(addr, len) + " straddles two HBM channels (interleave " +
                  std::to_string(m_interleave) + " B)");
    const hbm_interleave il{m_interleave, static_cast<uint64_t>(m_channels)};
    return {mem_target::hbm, il.channel(off), il.local(off)};
  }
  if (addr >= m_sram_base) {
    const uint64_t off = addr - m_sram_base;
    const uint64_t core = off / m_sram_stride;
    const uint64_t local = off % m_sram_stride;
    if (core < static_cast<uint64_t>(m_cores) && local < m_sram_bytes) {
      if (local + len > m_sram_bytes)
        throw error("memory_map: access " + range(addr, len) + " runs past the end of core " + std::to_string(core) +
                    "'s SRAM");
      return {mem_target::sram, static_cast<int>(core), local};
    }
  }
  throw error("memory_map: address " + hex(addr) + " is not mapped");
}

uint64_t memory_map::hbm_global(int channel, uint64_t local) const {
  if (channel < 0 || channel >= m_channels || local >= m_channel_bytes)
    throw error("memory_map: HBM channel " + std::to_string(channel) + " local address " + hex(local) +
                " does not exist");
  const uint64_t block = (local / m_interleave) * static_cast<uint64_t>(m_channels) + static_cast<uint64_t>(channel);
  return m_hbm_base + block * m_interleave + local % m_interleave;
}

uint64_t memory_map::sram_global(int core, uint64_t local) const {
  if (core < 0 || core >= m_cores || local >= m_sram_bytes)
    throw error("memory_map: core " + std::to_string(core) + " SRAM address " + hex(local) + " does not exist");
  return sram_base(core) + local;
}

uint64_t memory_map::global(const mem_location& l) const {
  return l.kind == mem_target::hbm ? hbm_global(l.index, l.local) : sram_global(l.index, l.local);
}

std::vector<std::array<int, 2>> hbm_channel_routers(const hw_config& hw) {
  if (!hw.hbm.routers.empty()) return hw.hbm.routers;
  const int w = hw.mesh.width, h = hw.mesh.height;
  std::vector<std::array<int, 2>> edge;
  auto add = [&](int x, int y) {
    const std::array<int, 2> r{x, y};
    if (std::find(edge.begin(), edge.end(), r) == edge.end()) edge.push_back(r);
  };
  const std::string& p = hw.hbm.placement;
  if (p == "west" || p == "west_east")
    for (int y = 0; y < h; ++y) add(0, y);
  if (p == "east" || p == "west_east")
    for (int y = 0; y < h; ++y) add(w - 1, y);
  if (p == "north_south") {
    for (int x = 0; x < w; ++x) add(x, 0);
    for (int x = 0; x < w; ++x) add(x, h - 1);
  }
  if (p == "all_edges") {
    for (int x = 0; x < w; ++x) add(x, 0);
    for (int y = 1; y < h; ++y) add(w - 1, y);
    for (int x = w - 2; x >= 0; --x) add(x, h - 1);
    for (int y = h - 2; y >= 1; --y) add(0, y);
  }
  if (edge.empty()) throw error("hbm.placement: unknown placement '" + p + "'");
  const int64_t routers = static_cast<int64_t>(edge.size());
  const int64_t channels = hw.hbm.channels;
  std::vector<std::array<int, 2>> out;
  out.reserve(static_cast<size_t>(channels));
  for (int64_t i = 0; i < channels; ++i)
    out.push_back(edge[static_cast<size_t>((2 * i + 1) * routers / (2 * channels))]);
  return out;
}

}  // namespace npuvp
