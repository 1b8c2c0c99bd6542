#include "kernels/mem_access.h"

namespace npuvp::kernels {

std::string range_error(const command& c, uint64_t sram_bytes, uint64_t hbm_bytes) {
  std::string out;
  for_each_access(c, [&](const mem_access& a) {
    const uint64_t capacity = a.space == mem_space::hbm ? hbm_bytes : sram_bytes;
    if (!out.empty() || fits(a, capacity)) return;
    const unsigned __int128 end = end_of(a);
    out = std::string(a.write ? "writes " : "reads ") + (a.space == mem_space::hbm ? "HBM" : "SRAM") + " range [" +
          std::to_string(a.addr) + ", " + (end > UINT64_MAX ? "2^64 or more" : std::to_string(uint64_t(end))) +
          "), beyond its " + std::to_string(capacity) + " bytes";
  });
  return out;
}

std::string range_error(const program& p, uint64_t sram_bytes, uint64_t hbm_bytes) {
  for (size_t i = 0; i < p.size(); ++i)
    if (!in_memory(p[i], sram_bytes, hbm_bytes))
      return "command " + std::to_string(i) + " (" + to_text(p[i]) + "): " + range_error(p[i], sram_bytes, hbm_bytes);
  return {};
}

}  // namespace npuvp::kernels
