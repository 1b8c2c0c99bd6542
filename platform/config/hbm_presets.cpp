// HBM presets: organisation and timing of ONE channel per JEDEC generation.
//
// Sources (facts only, see docs/hbm.md):
//  [J235]  JEDEC JESD235 (HBM/HBM2/HBM2E): 128-bit channel = two 64-bit
//          pseudo-channels, BL4, 4 bank groups x 4 banks per pseudo-channel,
//          8 channels per stack, 1 KB page per pseudo-channel, tREFI 3.9 us.
//  [J238]  JEDEC JESD238 (HBM3): 64-bit channel = two 32-bit pseudo-channels,
//          BL8, 16 channels per stack, 6.4 Gb/s per pin with tCK 0.625 ns.
//  [DS]    DRAMSys memspec configs/memspec/HBM2.json (tukl-msd/DRAMSys, HBM2 at
//          tCK 1 ns): RCDRD 12, RP 14, RAS 28, RL 17, WL 7, CCDS 2, CCDL 3, RRDS 4,
//          RRDL 6, FAW 16, WR 14, WTRS 4, WTRL 9, RTP 5, RTW 18, REFI 3900, RFC 220
//          (all tCK = ns at 1 GHz); 32768 rows, 32 columns of BL4 (1 KB page).
//  [R2]    Ramulator 2 src/dram/impl/HBM2.cpp / HBM3.cpp: same pseudo-channel /
//          bank-group / bank counts (2 / 4 / 4), tREFI 3900 ns.
//
// HBM2E and HBM3: the array timings are the [DS] nanosecond values re-expressed
// in the faster clock (ceil(ns / tCK), the JEDEC rounding rule); clock-bound
// parameters (tBURST, tCCD_S) stay in cycles. These are approximations until
// checked against the JESD235D / JESD238 speed-bin tables (not public).
#include <cmath>

#include "platform/base/error.h"
#include "platform/config/hbm_config.h"

namespace npuvp {

namespace {

// Array timings of [DS] in nanoseconds.
struct array_ns {
  double tRCD = 12, tRP = 14, tRAS = 28, tCL = 17, tWL = 7, tCCD_L = 3, tRRD_S = 4, tRRD_L = 6, tFAW = 16,
         tWR = 14, tWTR_S = 4, tWTR_L = 9, tRTP = 5, tRTW = 18, tREFI = 3900, tRFC = 220;
};

int cycles(double ns, double tck_ns) { return static_cast<int>(std::ceil(ns / tck_ns - 1e-9)); }

hbm_timing timing_at(double tck_ns, int tburst, int tccd_s) {
  const array_ns a;
  hbm_timing t;
  t.tck_ns = tck_ns;
  t.tBURST = tburst;
  t.tCCD_S = tccd_s;
  t.tRCD = cycles(a.tRCD, tck_ns);
  t.tRP = cycles(a.tRP, tck_ns);
  t.tRAS = cycles(a.tRAS, tck_ns);
  t.tCL = cycles(a.tCL, tck_ns);
  t.tWL = cycles(a.tWL, tck_ns);
  t.tCCD_L = cycles(a.tCCD_L, tck_ns);
  t.tRRD_S = cycles(a.tRRD_S, tck_ns);
  t.tRRD_L = cycles(a.tRRD_L, tck_ns);
  t.tFAW = cycles(a.tFAW, tck_ns);
  t.tWR = cycles(a.tWR, tck_ns);
  t.tWTR_S = cycles(a.tWTR_S, tck_ns);
  t.tWTR_L = cycles(a.tWTR_L, tck_ns);
  t.tRTP = cycles(a.tRTP, tck_ns);
  t.tRTW = cycles(a.tRTW, tck_ns);
  t.tREFI = cycles(a.tREFI, tck_ns);
  t.tRFC = cycles(a.tRFC, tck_ns);
  return t;
}

}  // namespace

hbm_preset_values hbm_preset(const std::string& name) {
  hbm_preset_values p{};
  if (name == "hbm2") {
    // [J235] 2.0 Gb/s per pin, tCK 1.0 ns, DDR: BL4 = 2 tCK; 64-bit PC -> 32 B
    // per burst; 2 PCs x 32 B / 2 ns = 32 GB/s per channel. [DS] 32768 rows.
    p.org = {2, 64, 4, 4, 4, 32768, 1024};
    p.timing = timing_at(1.0, 2, 2);
    p.channels_per_stack = 8;
  } else if (name == "hbm2e") {
    // [J235] HBM2E 3.2 Gb/s per pin, tCK 0.625 ns, same organisation as HBM2:
    // 2 x 32 B / 1.25 ns = 51.2 GB/s per channel.
    p.org = {2, 64, 4, 4, 4, 32768, 1024};
    p.timing = timing_at(0.625, 2, 2);
    p.channels_per_stack = 8;
  } else if (name == "hbm3") {
    // [J238] 6.4 Gb/s per pin, 32-bit PC, BL8 -> 32 B per burst in 1.25 ns =
    // 2 tCK of 0.625 ns; 2 x 32 B / 1.25 ns = 51.2 GB/s per channel; 16 channels
    // per stack; [R2] 4 bank groups x 4 banks per PC, 1 KB page.
    p.org = {2, 32, 8, 4, 4, 32768, 1024};
    p.timing = timing_at(0.625, 2, 2);
    p.channels_per_stack = 16;
  } else {
    throw error("unknown HBM preset '" + name + "' (hbm2|hbm2e|hbm3)");
  }
  return p;
}

}  // namespace npuvp
