#include "platform/hbm_address_mapper.h"

#include "platform/base/error.h"

namespace npuvp {

namespace {

int log2_exact(uint64_t x) {
  int n = 0;
  while ((uint64_t{1} << n) < x) ++n;
  return n;
}

}  // namespace

hbm_address_mapper::hbm_address_mapper(const hbm_config& cfg) {
  const auto& o = cfg.org;
  const int burst_bits = log2_exact(static_cast<uint64_t>(o.burst_bytes()));
  const int widths[] = {log2_exact(o.rows), log2_exact(o.banks_per_group),
                        log2_exact(static_cast<uint64_t>(o.row_bytes / o.burst_bytes())), log2_exact(o.bank_groups),
                        log2_exact(o.pseudo_channels)};
  field* ro = &m_row;
  field* ba = &m_ba;
  field* co = &m_col;
  field* bg = &m_bg;
  field* pc = &m_pc;
  // Fields from least to most significant, each with its width.
  std::pair<field*, int> order[5];
  if (cfg.address_mapping == "ro_ba_co_bg_pc") {
    order[0] = {pc, widths[4]}, order[1] = {bg, widths[3]}, order[2] = {co, widths[2]}, order[3] = {ba, widths[1]};
  } else if (cfg.address_mapping == "ro_co_ba_bg_pc") {
    order[0] = {pc, widths[4]}, order[1] = {bg, widths[3]}, order[2] = {ba, widths[1]}, order[3] = {co, widths[2]};
  } else if (cfg.address_mapping == "ro_ba_bg_pc_co") {
    order[0] = {co, widths[2]}, order[1] = {pc, widths[4]}, order[2] = {bg, widths[3]}, order[3] = {ba, widths[1]};
  } else {
    throw error("hbm.address_mapping: unknown mapping '" + cfg.address_mapping + "'");
  }
  order[4] = {ro, widths[0]};
  m_xor = cfg.bank_xor;
  m_ba_bits = widths[1];
  int shift = burst_bits;
  for (auto& [f, w] : order) {
    f->shift = shift;
    f->mask = (uint64_t{1} << w) - 1;
    shift += w;
  }
}

hbm_address hbm_address_mapper::decode(uint64_t a) const {
  const uint64_t row = m_row.get(a);
  uint64_t ba = m_ba.get(a), bg = m_bg.get(a);
  if (m_xor) {  // the row's low bits permute the banks, the next ones the bank groups
    ba ^= row & m_ba.mask;
    bg ^= (row >> m_ba_bits) & m_bg.mask;
  }
  return {static_cast<int>(m_pc.get(a)), static_cast<int>(bg), static_cast<int>(ba), static_cast<int64_t>(row),
          static_cast<int64_t>(m_col.get(a))};
}

}  // namespace npuvp
