// The hardware description: the whole chip, parsed from YAML into typed,
// validated structs before elaboration. Every key is listed by
// `npuvp config describe`, generated from the visit() tables below.
#pragma once

#include <cstdint>
#include <string>

#include "platform/config/hbm_config.h"
#include "platform/config/schema.h"

namespace npuvp {

struct mesh_config {
  int width = 4;
  int height = 4;
  template <class V>
  void visit(V& v) {
    v.field("width", width, "routers", "mesh columns (X)", 1, 64);
    v.field("height", height, "routers", "mesh rows (Y)", 1, 64);
  }
};

struct matrix_config {
  int rows = 128;
  int cols = 128;
  int macs_per_pe_per_cycle = 1;
  template <class V>
  void visit(V& v) {
    v.field("rows", rows, "PEs", "systolic array rows (K dimension of a weight tile)", 1, 1024);
    v.field("cols", cols, "PEs", "systolic array columns (N dimension of a weight tile)", 1, 1024);
    v.field("macs_per_pe_per_cycle", macs_per_pe_per_cycle, "MAC/cycle",
            "multiply-accumulates per processing element per cycle", 1, 16);
  }
};

struct vector_config {
  int lanes = 64;
  int op_overhead_cycles = 8;
  template <class V>
  void visit(V& v) {
    v.field("lanes", lanes, "elements/cycle", "vector unit SIMD lanes (fp32 elements per cycle)", 1, 4096);
    v.field("op_overhead_cycles", op_overhead_cycles, "cycles",
            "fixed start-up cost of one vector command", 0, 100000);
  }
};

struct sram_config {
  std::string mode = "at";
  int64_t capacity_kib = 32768;
  int banks = 16;
  int bank_bytes_per_cycle = 64;
  int access_cycles = 2;
  int64_t bank_interleave_bytes = 64;
  template <class V>
  void visit(V& v) {
    v.choice("mode", mode, {"at", "lt"},
             "at: bank conflicts serialise accesses; lt: fixed latency plus bandwidth, ignores bank conflicts");
    v.field("capacity_kib", capacity_kib, "KiB", "scratchpad capacity per core", 1, 1 << 21);
    v.field("banks", banks, "banks", "independent SRAM banks", 1, 1024);
    v.field("bank_bytes_per_cycle", bank_bytes_per_cycle, "B/cycle", "bytes one bank delivers per core cycle", 1,
            4096);
    v.field("access_cycles", access_cycles, "cycles", "pipeline latency of one bank access", 0, 1000);
    v.field("bank_interleave_bytes", bank_interleave_bytes, "B", "consecutive bytes mapped to one bank", 1,
            1 << 20);
    v.check(capacity_kib * 1024 % (static_cast<int64_t>(banks) * bank_interleave_bytes) == 0, "banks",
            "capacity_kib*1024 must be a multiple of banks*bank_interleave_bytes");
  }
  uint64_t capacity_bytes() const { return static_cast<uint64_t>(capacity_kib) * 1024; }
};

struct dma_config {
  int max_outstanding = 16;
  int burst_bytes = 256;
  int setup_cycles = 16;
  int descriptors_in_flight = 4;
  template <class V>
  void visit(V& v) {
    v.field("max_outstanding", max_outstanding, "requests", "bursts in flight at once", 1, 1024);
    v.field("burst_bytes", burst_bytes, "B", "largest single memory request a descriptor is split into", 1,
            1 << 20);
    v.field("setup_cycles", setup_cycles, "cycles", "descriptor decode cost before the first burst", 0, 100000);
    v.field("descriptors_in_flight", descriptors_in_flight, "descriptors",
            "consecutive dma/send commands of a core's DMA queue in flight at once (1: one at a time); a command "
            "whose byte ranges conflict with an earlier one in flight (RAW, WAR, WAW) waits for it",
            1, 1024);
  }
};

struct core_config {
  double clock_ghz = 1.0;
  int cmdq_depth = 256;
  matrix_config matrix;
  vector_config vector;
  sram_config sram;
  dma_config dma;
  template <class V>
  void visit(V& v) {
    v.field("clock_ghz", clock_ghz, "GHz", "core clock (matrix, vector, SRAM, DMA)", 0.01, 100.0);
    v.field("cmdq_depth", cmdq_depth, "commands", "command queue entries", 1, 1 << 20);
    v.section("matrix", matrix, "weight-stationary systolic matrix unit");
    v.section("vector", vector, "vector / special-function unit");
    v.section("sram", sram, "banked software-managed scratchpad");
    v.section("dma", dma, "DMA engine");
  }
};

struct noc_config {
  std::string mode = "at";
  double clock_ghz = 1.0;
  int flit_bytes = 32;
  int link_flits_per_cycle = 1;
  int router_cycles = 2;
  int link_cycles = 1;
  int buffer_flits = 8;
  int vcs = 2;
  int packet_flits = 8;
  std::string routing = "xy";
  double watchdog_ns = 1e6;
  // Raw bandwidth of one link (header flits included), bytes per ns.
  double link_bytes_per_ns() const { return double(flit_bytes) * link_flits_per_cycle * clock_ghz; }
  template <class V>
  void visit(V& v) {
    v.choice("mode", mode, {"at", "lt"},
             "at: flit-level routers with contention; lt: hops x per-hop latency + serialisation, ignores contention");
    v.field("clock_ghz", clock_ghz, "GHz", "NoC clock", 0.01, 100.0);
    v.field("flit_bytes", flit_bytes, "B", "flit size = link width per link cycle", 1, 4096);
    v.field("link_flits_per_cycle", link_flits_per_cycle, "flits/cycle", "flits one link moves per NoC cycle", 1,
            16);
    v.field("router_cycles", router_cycles, "cycles",
            "router pipeline latency per hop: input buffer write to output link, no contention", 1, 100);
    v.field("link_cycles", link_cycles, "cycles", "link traversal latency per hop", 0, 100);
    v.field("buffer_flits", buffer_flits, "flits", "input buffer depth per virtual channel (credits per VC)", 1,
            1024);
    v.field("vcs", vcs, "VCs", "virtual channels per input port", 1, 16);
    v.field("packet_flits", packet_flits, "flits",
            "packet size of synthetic traffic (npuvp bench noc), header included; a network interface sends one "
            "packet per transaction: a header flit plus ceil(bytes / flit_bytes) data flits",
            1, 1024);
    v.choice("routing", routing, {"xy", "yx"}, "dimension-order routing policy");
    v.field("watchdog_ns", watchdog_ns, "ns",
            "stop with a report when no flit moves this long while packets are in flight", 1.0, 1e12);
  }
};

struct host_config {
  int x = 0;
  int y = 0;
  template <class V>
  void visit(V& v) {
    v.field("x", x, "router", "mesh column of the host / firmware port", 0, 63);
    v.field("y", y, "router", "mesh row of the host / firmware port", 0, 63);
  }
};

struct memory_map_config {
  int64_t hbm_base = 0;
  int64_t sram_base = int64_t(1) << 40;
  int64_t sram_stride = int64_t(1) << 30;
  template <class V>
  void visit(V& v) {
    v.field("hbm_base", hbm_base, "B", "global address of the first HBM byte", 0, 9.0e18);
    v.field("sram_base", sram_base, "B", "global address of core 0's SRAM", 0, 9.0e18);
    v.field("sram_stride", sram_stride, "B", "address distance between two cores' SRAM windows", 1, 9.0e18);
  }
};

struct hw_config {
  std::string name = "npu";
  int64_t seed = 1;
  bool functional = false;
  mesh_config mesh;
  core_config core;
  noc_config noc;
  hbm_config hbm;
  host_config host;
  memory_map_config memory_map;

  template <class V>
  void visit(V& v) {
    v.field("name", name, "", "chip name; prefixes every module, statistic and trace track");
    v.field("seed", seed, "", "seed of every random choice in the platform", 0, 9.0e18);
    v.field("functional", functional, "", "carry real bytes through DMA, NoC and memories (else timing only)");
    v.section("mesh", mesh, "2-D mesh of cores and routers");
    v.section("core", core, "every NPU core (same for all)");
    v.section("noc", noc, "network on chip");
    v.section("hbm", hbm, "HBM channels and their controllers");
    v.section("host", host, "host / firmware attachment");
    v.section("memory_map", memory_map, "global address space");
    v.check(host.x < mesh.width && host.y < mesh.height, "host", "host router lies outside the mesh");
    for (const auto& r : hbm.routers)
      v.check(r[0] >= 0 && r[1] >= 0 && r[0] < mesh.width && r[1] < mesh.height, "hbm",
              "hbm.routers entry [" + std::to_string(r[0]) + ", " + std::to_string(r[1]) + "] lies outside the mesh");
    v.check(noc.flit_bytes >= 8, "noc", "noc.flit_bytes must hold a header (>= 8)");
  }
};

// Reads and validates a hardware YAML file.
hw_config load_hw_config(const std::string& path);
// Same, from YAML text (`origin` names it in errors).
hw_config parse_hw_config(const std::string& yaml_text, const std::string& origin);

}  // namespace npuvp
