// HBM channels: organisation, JEDEC-style timing (from a preset, each value
// overridable) and controller policy. Preset values and their sources are in
// hbm_presets.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "platform/config/schema.h"

namespace npuvp {

// Organisation of ONE channel (JEDEC sense: HBM2/2E 128 bits as two 64-bit
// pseudo-channels, HBM3 64 bits as two 32-bit pseudo-channels).
struct hbm_org {
  int pseudo_channels = 2;
  int pc_bus_bits = 64;
  int burst_length = 4;
  int bank_groups = 4;
  int banks_per_group = 4;
  int64_t rows = 16384;
  int row_bytes = 1024;
  template <class V>
  void visit(V& v) {
    v.field("pseudo_channels", pseudo_channels, "", "pseudo-channels per channel", 1, 8);
    v.field("pc_bus_bits", pc_bus_bits, "bits", "data bus width of one pseudo-channel", 8, 1024);
    v.field("burst_length", burst_length, "beats", "data beats per column access (BL)", 1, 64);
    v.field("bank_groups", bank_groups, "", "bank groups per pseudo-channel", 1, 64);
    v.field("banks_per_group", banks_per_group, "", "banks per bank group", 1, 64);
    v.field("rows", rows, "", "rows per bank", 1, 1 << 24);
    v.field("row_bytes", row_bytes, "B", "row (page) size of one pseudo-channel bank", 32, 1 << 20);
  }
  int burst_bytes() const { return pc_bus_bits * burst_length / 8; }
  int banks() const { return bank_groups * banks_per_group; }
  uint64_t capacity_bytes() const {
    return static_cast<uint64_t>(pseudo_channels) * banks() * static_cast<uint64_t>(rows) * row_bytes;
  }
};

// Timing in clock cycles of tCK (command clock), as JEDEC tables give them.
struct hbm_timing {
  double tck_ns = 1.0;
  int tBURST = 2;
  int tRCD = 14, tRP = 14, tRAS = 33, tCL = 14, tWL = 4;
  int tCCD_S = 2, tCCD_L = 4, tRRD_S = 4, tRRD_L = 6, tFAW = 16;
  int tWR = 16, tWTR_S = 3, tWTR_L = 8, tRTP = 4, tRTW = 18;
  int tREFI = 3900, tRFC = 350;
  template <class V>
  void visit(V& v) {
    v.field("tck_ns", tck_ns, "ns", "command clock period", 0.05, 100.0);
    v.field("tBURST", tBURST, "tCK", "data bus cycles of one burst (BL / beats per tCK)", 1, 64);
    v.field("tRCD", tRCD, "tCK", "ACT to READ/WRITE, same bank", 1, 1000);
    v.field("tRP", tRP, "tCK", "PRE to ACT, same bank", 1, 1000);
    v.field("tRAS", tRAS, "tCK", "ACT to PRE, same bank", 1, 1000);
    v.field("tCL", tCL, "tCK", "READ to first data (read latency RL)", 1, 1000);
    v.field("tWL", tWL, "tCK", "WRITE to first data (write latency)", 0, 1000);
    v.field("tCCD_S", tCCD_S, "tCK", "column to column, different bank group", 1, 100);
    v.field("tCCD_L", tCCD_L, "tCK", "column to column, same bank group", 1, 100);
    v.field("tRRD_S", tRRD_S, "tCK", "ACT to ACT, different bank group", 1, 100);
    v.field("tRRD_L", tRRD_L, "tCK", "ACT to ACT, same bank group", 1, 100);
    v.field("tFAW", tFAW, "tCK", "window holding at most four ACTs", 1, 1000);
    v.field("tWR", tWR, "tCK", "end of write data to PRE (write recovery)", 1, 1000);
    v.field("tWTR_S", tWTR_S, "tCK", "end of write data to READ, different bank group", 1, 1000);
    v.field("tWTR_L", tWTR_L, "tCK", "end of write data to READ, same bank group", 1, 1000);
    v.field("tRTP", tRTP, "tCK", "READ to PRE", 1, 1000);
    v.field("tRTW", tRTW, "tCK", "READ to WRITE bus turnaround", 1, 1000);
    v.field("tREFI", tREFI, "tCK", "average refresh interval", 1, 1 << 24);
    v.field("tRFC", tRFC, "tCK", "all-bank refresh cycle time (channel blocked)", 1, 1 << 20);
  }
};

struct hbm_preset_values {
  hbm_org org;
  hbm_timing timing;
  int channels_per_stack;
};
// Throws npuvp::error for an unknown name.
hbm_preset_values hbm_preset(const std::string& name);

struct hbm_lt_config {
  double latency_ns = 0;    // 0: derived from the timing (row miss + burst)
  double efficiency = 0.9;  // fraction of peak sustained
  template <class V>
  void visit(V& v) {
    v.field("latency_ns", latency_ns, "ns", "unloaded read latency; 0 derives tRCD+tCL+burst from the timing", 0,
            1e6);
    v.field("efficiency", efficiency, "", "sustained fraction of peak bandwidth (calibrated from AT runs)", 0.01,
            1.0);
  }
};

struct hbm_config {
  std::string mode = "at";
  std::string preset = "hbm2e";
  int channels = 8;
  std::string placement = "west_east";
  config::coord_list routers;
  int64_t interleave_bytes = 256;
  std::string scheduler = "fr_fcfs";
  int queue_depth = 32;
  int lookahead = 32;
  std::string address_mapping = "ro_ba_co_bg_pc";
  bool bank_xor = false;
  bool refresh = true;
  hbm_org org;
  hbm_timing timing;
  hbm_lt_config lt;

  template <class V>
  void visit(V& v) {
    v.choice("mode", mode, {"at", "lt"},
             "at: 4-phase, bank state and contention; lt: calibrated latency/bandwidth, ignores bank conflicts");
    v.choice("preset", preset, {"hbm2", "hbm2e", "hbm3"},
             "JEDEC generation; sets org and timing (each overridable below)");
    v.derive([&] {
      const auto p = hbm_preset(preset);
      org = p.org;
      timing = p.timing;
    });
    v.field("channels", channels, "", "HBM channels on the chip (all stacks)", 1, 1024);
    v.choice("placement", placement, {"west_east", "west", "east", "north_south", "all_edges"},
             "edge routers the channels attach to, spread evenly (ignored when routers is given)");
    v.coords("routers", routers, "explicit [x, y] router of each channel (overrides placement)");
    v.field("interleave_bytes", interleave_bytes, "B", "consecutive global bytes mapped to one channel", 32,
            1 << 30);
    v.choice("scheduler", scheduler, {"fr_fcfs", "fcfs"},
             "fr_fcfs: row hits first, then oldest (Rixner 2000); fcfs: oldest first");
    v.field("queue_depth", queue_depth, "requests",
            "controller request queue entries per channel (a request leaves it when its last burst is scheduled)",
            1, 4096);
    v.field("lookahead", lookahead, "bursts",
            "row hits per pseudo-channel the controller schedules ahead of their column command (keeps the data "
            "bus busy while it prepares other banks)",
            1, 1024);
    v.choice("address_mapping", address_mapping, {"ro_ba_co_bg_pc", "ro_co_ba_bg_pc", "ro_ba_bg_pc_co"},
             "channel-local address bits, most significant first (ro row, ba bank, bg bank group, "
             "pc pseudo-channel, co column)");
    v.field("bank_xor", bank_xor, "",
            "permutation-based page interleaving (Zhang, Zhu & Zhang, MICRO 2000): the bank and bank-group "
            "fields are XORed with the low row bits, so streams at row-sized strides spread over the banks");
    v.field("refresh", refresh, "", "issue all-bank refresh every tREFI");
    v.section("org", org, "organisation of one channel (defaults from the preset)");
    v.section("timing", timing, "timing of one channel (defaults from the preset)");
    v.section("lt", lt, "loosely-timed mode parameters");
    v.check(routers.empty() || static_cast<int>(routers.size()) == channels, "routers",
            "routers lists " + std::to_string(routers.size()) + " entries but channels is " +
                std::to_string(channels));
    v.check((interleave_bytes & (interleave_bytes - 1)) == 0, "interleave_bytes", "must be a power of two");
    v.check(interleave_bytes >= org.burst_bytes(), "interleave_bytes", "must be at least one burst");
    const auto pow2 = [](int64_t x) { return x > 0 && (x & (x - 1)) == 0; };
    v.check(pow2(org.pseudo_channels) && pow2(org.bank_groups) && pow2(org.banks_per_group) && pow2(org.rows),
            "org", "pseudo_channels, bank_groups, banks_per_group and rows must be powers of two");
    v.check(pow2(org.burst_bytes()) && org.row_bytes % org.burst_bytes() == 0 &&
                pow2(org.row_bytes / org.burst_bytes()),
            "org", "burst (pc_bus_bits * burst_length / 8) and row_bytes must be powers of two, row >= burst");
  }

  // Bytes of the global HBM space (every channel).
  uint64_t capacity_bytes() const { return uint64_t(channels) * org.capacity_bytes(); }
  // Bytes of one DRAM row index in every bank of every channel: every address
  // mapping puts the row above the other fields.
  uint64_t row_window_bytes() const {
    return uint64_t(channels) * uint64_t(org.pseudo_channels) * uint64_t(org.banks()) * uint64_t(org.row_bytes);
  }
  double peak_gbps() const {  // GB/s of one channel
    return org.pseudo_channels * org.burst_bytes() / (timing.tck_ns * timing.tBURST);
  }
};

}  // namespace npuvp
