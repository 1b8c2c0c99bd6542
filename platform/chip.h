// The whole virtual platform of one NPU chip, built from a hw_config: a
// W x H mesh of cores (npu_core with its sram and dma_engine, named
// `<name>.core_X_Y`), the HBM channels (`<name>.hbm_K`), and the fabric
// between the DMA engines and the memories, decoded with the global memory
// map (platform/memory_map.h). docs/npu_core.md describes the timing.
//
// Fabric: the NoC mesh (`<name>.noc`, models/noc, docs/noc.md). Each core's
// DMA engine reaches its own SRAM directly through a core-local port router
// (`<name>.core_X_Y_port`, no delay) and everything else through a network
// interface at the core's router (`<name>.core_X_Y_ni`); each SRAM (behind
// the same port router, which merges local and NoC accesses) and each
// HBM channel is served by a target network interface
// (`<name>.core_X_Y_sram_ni`, `<name>.hbm_K_ni`) at its router
// (hbm.placement / hbm.routers). Addresses are decoded with the memory map. Core-to-core messages (remote semaphore
// signals, send arrival notices) take the zero-load latency of a one-flit packet between the two cores' routers (they
// are not simulated as packets: no contention); a barrier releases its cores twice the corner-to-corner one-flit
// latency after the last arrival (gather and broadcast). build_fabric() and message_latency() are the only places that
// know the interconnect.
#pragma once

#include <cstdint>
#include <memory>
#include <systemc>
#include <vector>

#include "kernels/command.h"
#include "models/common/address_router.h"
#include "models/hbm/hbm_channel.h"
#include "models/noc/noc_interface.h"
#include "models/noc/noc_mesh.h"
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

  // One-way latency of a core-to-core message.
  sc_core::sc_time message_latency(int from, int to) const;
  noc_mesh& noc() { return *m_noc; }

  void report_stats(stats_writer& out) const override;

 private:
  chip(sc_core::sc_module_name name, const hw_config& hw, trace_writer* trace);
  void build_fabric();
  void hbm_debug(tlm::tlm_command cmd, uint64_t offset, unsigned char* data, uint64_t bytes);

  noc_destination route(uint64_t addr) const;

  const hw_config m_hw;
  const memory_map m_map;
  std::unique_ptr<noc_mesh> m_noc;
  std::unique_ptr<core_sync> m_sync;
  std::vector<std::unique_ptr<hbm_channel>> m_hbm;
  std::vector<std::unique_ptr<npu_core>> m_cores;
  std::vector<std::unique_ptr<noc_initiator_ni>> m_initiator_nis;
  std::vector<std::unique_ptr<noc_target_ni>> m_target_nis;
  std::vector<std::unique_ptr<address_router>> m_core_ports;
  sc_core::sc_time m_elapsed;
};

}  // namespace npuvp
