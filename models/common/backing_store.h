// Sparse byte store behind a memory model in functional mode: 4 KiB pages
// allocated on first write; untouched bytes read as zero.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>

namespace npuvp {

class backing_store {
 public:
  void read(uint64_t addr, unsigned char* dst, uint64_t len) const;
  void write(uint64_t addr, const unsigned char* src, uint64_t len);
  uint64_t pages() const { return m_pages.size(); }

 private:
  static constexpr uint64_t page_bytes = 4096;
  using page = std::array<unsigned char, page_bytes>;
  std::unordered_map<uint64_t, std::unique_ptr<page>> m_pages;
};

}  // namespace npuvp
