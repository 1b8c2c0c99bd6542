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
//  [R2]    Ramulator 2 (CMU-SAFARI/ramulator2) src/dram/impl/HBM2.cpp: 2 / 4 / 4
//          pseudo-channels / bank groups / banks, tREFI 3900 ns; tRFC by
//          density 160 / 260 / 350 / 450 ns for 2 / 4 / 8 / 16 Gb.
//  [R2H3]  Ramulator 2 src/dram/impl/HBM3.cpp (org after JESD238A): per channel
//          2 PCs x 32 DQ, 4 bank groups x 4 banks, 32 columns x 8n prefetch
//          (1 KB page); "HBM3_8Gb_1R" = 32768 rows = 8 Gb per channel. Speed
//          grade "HBM3_6.4Gbps" with tCK = 1 / (6400 MT/s / 4) = 0.625 ns (QDR
//          data: 4 beats per tCK, BL8 = nBL 2): nCL 23, nRCDRD 23, nRP 23,
//          nRAS 55, nWR 26, nRTPS 7, nCWL 7, nCCDS 2, nCCDL 4, nRRDS 2, nRRDL 4,
//          nWTRS 10, nWTRL 13, nFAW 48, nREFI 6240 (3.9 us); RD->WR spacing
//          nCL + nBL + 2 - nCWL; tRFC table 2..32 Gb: 160 260 310 350 410 450
//          610 650 ns. Ramulator 2 states that HBM3 timings are not public and
//          derives them from the nanosecond values of DRAMsim3's
//          configs/HBM2_8Gb_x128.ini (CL 14, RCD 14, RP 14, RAS 34, WR 16,
//          FAW 30 ns at tCK 1 ns), re-expressed at 0.625 ns.
//
// HBM2E: the [DS] nanosecond values re-expressed at tCK 0.625 ns (ceil(ns /
// tCK), the JEDEC rounding rule); clock-bound parameters (tBURST, tCCD_S) stay
// in cycles. No public HBM2E speed-bin table was found (JESD235D is not public,
// DRAMSys / DRAMsim3 / Ramulator 2 ship no HBM2E preset), so this stays an
// approximation.
#include <cmath>

#include "platform/base/error.h"
#include "platform/config/hbm_config.h"

namespace npuvp {

namespace {

// Array timings of [DS] in nanoseconds.
struct array_ns {
  double tRCD = 12, tRP = 14, tRAS = 28, tCL = 17, tWL = 7, tCCD_L = 3, tRRD_S = 4, tRRD_L = 6, tFAW = 16, tWR = 14,
         tWTR_S = 4, tWTR_L = 9, tRTP = 5, tRTW = 18, tREFI = 3900, tRFC = 220;
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
    // [J238] 6.4 Gb/s per pin, 32-bit PC, BL8 -> 32 B per burst; CK 1.6 GHz
    // (tCK 0.625 ns) with 4 data beats per tCK, so BL8 = tBURST 2 tCK;
    // 2 x 32 B / 1.25 ns = 51.2 GB/s per channel; 16 channels per stack.
    // [R2H3] HBM3_8Gb_1R organisation and HBM3_6.4Gbps timing, all in tCK.
    p.org = {2, 32, 8, 4, 4, 32768, 1024};
    hbm_timing& t = p.timing;
    t.tck_ns = 0.625;
    t.tBURST = 2;
    t.tRCD = 23, t.tRP = 23, t.tRAS = 55, t.tCL = 23, t.tWL = 7;
    t.tCCD_S = 2, t.tCCD_L = 4, t.tRRD_S = 2, t.tRRD_L = 4, t.tFAW = 48;
    t.tWR = 26, t.tWTR_S = 10, t.tWTR_L = 13, t.tRTP = 7;
    t.tRTW = t.tCL + t.tBURST + 2 - t.tWL;  // [R2H3] RD->WR: 20
    t.tREFI = 6240;
    t.tRFC = cycles(350, t.tck_ns);  // [R2H3] 8 Gb per channel: 350 ns = 560 tCK
    p.channels_per_stack = 16;
  } else {
    throw error("unknown HBM preset '" + name + "' (hbm2|hbm2e|hbm3)");
  }
  return p;
}

}  // namespace npuvp
