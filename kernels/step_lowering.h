// Lowering of one serving step of a scenario (kernels/scenario.h) onto the
// chip: dp replicas x pp pipeline stages, each stage a tensor-parallel group of
// tp cores placed on the mesh by the placement policy; the step's sequences
// split over the replicas, the simulated layers split evenly over the stages;
// every layer lowered by lower_transformer_layer. docs/scenario.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/scenario.h"
#include "kernels/stream_summary.h"
#include "kernels/transformer_layer.h"

namespace npuvp::kernels {

// A named range of the chip's HBM (offsets in the global HBM space).
struct hbm_region {
  std::string name;
  uint64_t address = 0;
  uint64_t bytes = 0;
};

// Static figures of one operator (commands labelled with the same op name).
struct op_figures {
  std::string name;
  uint64_t commands = 0;
  uint64_t macs = 0;
  uint64_t hbm_bytes = 0;  // read + written
  uint64_t noc_bytes = 0;  // send and remote-SRAM dma payload
};

struct lowered_step {
  std::vector<program> programs;      // [core], every core of the mesh (idle ones: just `end`)
  std::vector<std::string> op_names;  // op_id -> name ("" = 0, "layer3.qkv_proj", ...)
  // HBM layout, so a functional run can fill inputs and weights and read the results.
  std::vector<hbm_region> hbm;         // every region, in address order
  std::vector<int> layers;             // model layer index of each simulated layer
  std::vector<layer_weights> weights;  // [simulated layer], HBM addresses
  // Weights SRAM-resident: SRAM offset (the same on every rank of the stage) of each
  // layer's slices (resident_layout); empty when weights are streamed from HBM.
  std::vector<uint64_t> resident_weights;
  std::vector<std::vector<int>> groups;           // [replica * pp + stage] core ids in rank order
  std::vector<std::pair<int, int>> stage_layers;  // [stage]: simulated layers [begin, end)
  std::vector<std::vector<sequence>> batches;     // [replica]: its sequences
  std::vector<std::vector<kv_cache_layout>> kv;   // [replica][simulated layer] (space sram: SRAM offsets)
  std::vector<uint64_t> x_in, x_out;              // [replica]: [T x h] fp32 HBM activations in and out
  // MoE: [replica][simulated layer][token] -> its experts (layer_job::experts; empty for dense layers).
  std::vector<std::vector<std::vector<std::vector<uint32_t>>>> routing;
  uint64_t hbm_bytes = 0;     // laid out
  uint64_t hbm_capacity = 0;  // of the chip
  uint64_t sram_peak = 0;     // highest SRAM use of any core
  stream_summary summary;
  std::vector<op_figures> ops;     // per op name, in op_id order (index 0: unlabelled)
  std::vector<std::string> notes;  // approximations the lowering made (printed with the figures)
};

// Throws npuvp::error when the step cannot be lowered: what does not fit (SRAM of
// a stage, HBM of the chip) and by how much, or an unsupported combination.
lowered_step lower_step(const scenario& s);

}  // namespace npuvp::kernels
