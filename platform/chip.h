// The whole virtual platform of one NPU chip, built from a hw_config: a
// W x H mesh of cores (npu_core with its sram and dma_engine, named
// `<name>.core_X_Y`), the HBM channels (`<name>.hbm_K`), and the fabric
// between the DMA engines and the memories, decoded with the global memory
// map (platform/memory_map.h). docs/npu_core.md describes the timing.
//
// Fabric: for now the address_router crossbar (`<name>.fabric`): a fixed
// latency per direction of (noc.router_cycles + noc.link_cycles) NoC cycles
// (one router and one link traversal), no hop count and no link bandwidth
// limit (contention only at the memories). Core-to-core messages (remote
// semaphore signals, send arrival notices) take that same one-way latency;
// a barrier releases its cores two of them after the last arrival. The NoC
// mesh will replace the router in build_fabric() / message_latency() only.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <systemc>

#include "kernels/command.h"
#include "models/common/address_router.h"
#include "models/hbm/hbm_channel.h"
#include "models/npu_core/core_sync.h"
#include "models/npu_core/npu_core.h"
#include "platform/base/stats.h"
#include "platform/base/trace.h"
#include "platform/config/hw_config.h"
#include "platform/memory_map.h"

namespace npuvp {

class chip : public sc_core::sc_module, public stats_source {
 public:
  // The module is named hw.name. Throws npuvp::error for an impossible memory map.
  explicit chip(const hw_config& hw, trace_writer* trace = nullptr);

  const hw_config& hw() const { return m_hw; }
  const memory_map& map() const { return m_map; }
  int cores() const { return static_cast<int>(m_cores.size()); }
  npu_core& core(int id) { return *m_cores.at(static_cast<size_t>(id)); }
  hbm_channel& hbm(int channel) { return *m_hbm.at(static_cast<size_t>(channel)); }

  // programs[id] runs on core id (y * width + x); fewer programs than cores
  // leave the rest idle, an empty program ends at once.
  void load_programs(const std::vector<kernels::program>& programs);
  // Simulates until every core with a program is done and returns the time
  // the last one finished. Throws npuvp::simulation_error for a deadlock
  // (naming every blocked command) or a command-stream error. Once per process.
  sc_core::sc_time run();
  sc_core::sc_time elapsed() const { return m_elapsed; }

  // Functional mode only: bytes at HBM offsets (global hbm_base + offset),
  // written and read without simulated time. Throws npuvp::error otherwise.
  void write_hbm(uint64_t offset, const void* data, uint64_t bytes);
  void read_hbm(uint64_t offset, void* data, uint64_t bytes);
  void write_hbm_floats(uint64_t offset, const std::vector<float>& values);
  std::vector<float> read_hbm_floats(uint64_t offset, size_t count);

  // One-way latency of a core-to-core message, and of a fabric traversal.
  sc_core::sc_time message_latency(int from, int to) const;
  sc_core::sc_time fabric_latency() const { return m_fabric_latency; }

  void report_stats(stats_writer& out) const override;

 private:
  chip(sc_core::sc_module_name name, const hw_config& hw, trace_writer* trace);
  void build_fabric();
  void hbm_debug(tlm::tlm_command cmd, uint64_t offset, unsigned char* data, uint64_t bytes);

  const hw_config m_hw;
  const memory_map m_map;
  const sc_core::sc_time m_fabric_latency;
  core_sync m_sync;
  std::vector<std::unique_ptr<hbm_channel>> m_hbm;
  std::vector<std::unique_ptr<npu_core>> m_cores;
  std::unique_ptr<address_router> m_fabric;
  sc_core::sc_time m_elapsed;
};

}  // namespace npuvp
