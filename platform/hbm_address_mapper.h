// Splits a channel-local byte address into pseudo-channel, bank group, bank,
// row and column (burst index within the row) per hbm_config::address_mapping.
// Every field width is a power of two (checked by hbm_config), so decoding is
// shifts and masks. With hbm_config::bank_xor the bank and bank-group fields are
// XORed with the lowest row bits (permutation-based page interleaving, Zhang,
// Zhu & Zhang, MICRO 2000): addresses one row apart in the same bank land in
// different banks, while a row's columns stay in one bank (row hits kept).
#pragma once

#include <cstdint>

#include "platform/config/hbm_config.h"

namespace npuvp {

struct hbm_address {
  int pc, bg, ba;  // ba: bank within its bank group
  int64_t row, col;
};

class hbm_address_mapper {
 public:
  explicit hbm_address_mapper(const hbm_config& cfg);
  hbm_address decode(uint64_t addr) const;

 private:
  struct field {
    int shift = 0;
    uint64_t mask = 0;
    uint64_t get(uint64_t a) const { return (a >> shift) & mask; }
  };
  field m_pc, m_bg, m_ba, m_row, m_col;
  bool m_xor = false;
  int m_ba_bits = 0;  // width of the bank field
};

}  // namespace npuvp
