#include "models/common/backing_store.h"

#include <algorithm>
#include <cstring>

namespace npuvp {

void backing_store::read(uint64_t addr, unsigned char* dst, uint64_t len) const {
  while (len > 0) {
    const uint64_t off = addr % page_bytes;
    const uint64_t n = std::min(len, page_bytes - off);
    auto it = m_pages.find(addr / page_bytes);
    if (it == m_pages.end())
      std::memset(dst, 0, n);
    else
      std::memcpy(dst, it->second->data() + off, n);
    addr += n;
    dst += n;
    len -= n;
  }
}

void backing_store::write(uint64_t addr, const unsigned char* src, uint64_t len) {
  while (len > 0) {
    const uint64_t off = addr % page_bytes;
    const uint64_t n = std::min(len, page_bytes - off);
    auto& p = m_pages[addr / page_bytes];
    if (!p) p = std::make_unique<page>(page{});
    std::memcpy(p->data() + off, src, n);
    addr += n;
    src += n;
    len -= n;
  }
}

}  // namespace npuvp
