// A serving scenario: hardware + model + parallelism + residency + one step of
// work (prefill chunks and decode tokens). Parsed from YAML with the config
// table framework (platform/config/schema.h), so unknown keys and wrong types are
// errors with file:line, and `npuvp scenario describe` lists every key from the
// same table. docs/scenario.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/model_config.h"
#include "platform/config/hw_config.h"

namespace npuvp::kernels {

struct parallelism_config {
  std::string partition = "megatron";
  std::string placement = "linear_sequential";
  std::string placement_file;
  int64_t tp = 1, pp = 1, dp = 1;
  template <class V>
  void visit(V& v) {
    v.choice("partition", partition, {"mn_split", "k_split", "mnk_2d", "megatron"},
             "tensor partition strategy of the layer GEMMs across a TP group (docs/lowering.md)");
    v.choice("placement", placement,
             {"linear_sequential", "linear_interleaved", "mesh_block", "ring_block", "explicit"},
             "where the ranks of each group sit on the mesh (docs/lowering.md)");
    v.field("placement_file", placement_file, "path",
            "logical->physical map for placement: explicit (YAML, relative to the scenario file)");
    v.field("tp", tp, "cores", "tensor-parallel group size", 1, 65536);
    v.field("pp", pp, "stages", "pipeline stages (layers split evenly over them)", 1, 65536);
    v.field("dp", dp, "replicas", "data-parallel replicas (the batch's sequences split over them)", 1, 65536);
    v.check(placement != "explicit" || !placement_file.empty(), "placement_file",
            "placement: explicit needs placement_file");
  }
};

struct residency_config {
  std::string weights = "hbm";
  std::string kv = "hbm";
  std::string weight_layout = "row_major";
  std::string tile_order = "staggered";
  template <class V>
  void visit(V& v) {
    v.choice("weights", weights, {"sram", "hbm"},
             "sram: each rank's weight blocks of its stage's layers stay in SRAM (no weight DMA in the step); "
             "hbm: streamed from HBM in double-buffered column tiles");
    v.choice("kv", kv, {"sram", "hbm"}, "where the KV cache lives (sram: each rank holds its KV heads)");
    v.choice("weight_layout", weight_layout, {"row_major", "tiled"},
             "layout of the dense layers' projection and MLP weights in HBM (weights: hbm). row_major: the "
             "checkpoint's [in x out] matrices, so a streamed column tile reads one short segment per row; "
             "tiled: each rank's block stored tile by tile, as NPU toolchains lay weights out ahead of time, so "
             "a streamed tile is one contiguous range over every HBM channel (docs/lowering.md, Residency)");
    v.choice("tile_order", tile_order, {"staggered", "in_order"},
             "order in which the ranks stream their column tiles with weight_layout row_major. staggered: each "
             "rank starts at a tile in other HBM channels than the other ranks' (diagonal order; ranks share "
             "channels only when there are more ranks than channel classes); in_order: every rank from tile 0, so "
             "ranks whose rows share channels (k_split, mnk_2d) read one channel together (docs/lowering.md, "
             "Residency)");
  }
};

struct prefill_chunk {
  int64_t tokens = 1;
  int64_t context = 0;
  template <class V>
  void visit(V& v) {
    v.field("tokens", tokens, "tokens", "new tokens of this sequence in the step", 1, 1 << 24);
    v.field("context", context, "tokens", "tokens already in the KV cache (0: a fresh prefill; > 0: a later chunk)", 0,
            1 << 24);
  }
};

struct decode_batch {
  int64_t batch = 0;
  int64_t context = 0;
  template <class V>
  void visit(V& v) {
    v.field("batch", batch, "sequences", "decode sequences, one new token each", 0, 1 << 20);
    v.field("context", context, "tokens", "tokens already in each decode sequence's KV cache", 0, 1 << 24);
  }
};

struct step_config {
  int64_t layers = 0;
  std::vector<prefill_chunk> prefill;
  decode_batch decode;
  int64_t kv_tile = 128;
  int64_t weight_tile = 128;
  int64_t chunk_tokens = 0;
  template <class V>
  void visit(V& v) {
    v.field("layers", layers, "layers", "how many of the model's first layers to simulate (0: all)", 0, 1 << 16);
    v.list("prefill", prefill, "prefill (or chunked-prefill) sequences of the step");
    v.section("decode", decode, "decode sequences of the step");
    v.field("kv_tile", kv_tile, "keys", "keys per attention tile (online softmax over KV blocks)", 1, 1 << 16);
    v.field("weight_tile", weight_tile, "columns", "weight columns per streamed tile (two tiles in SRAM)", 1, 1 << 20);
    v.field("chunk_tokens", chunk_tokens, "tokens",
            "at most this many token rows per pass through the layers (0: all in one pass); a longer step runs in "
            "passes of consecutive rows, a sequence split over passes attending to its earlier pieces in the KV "
            "cache (chunked prefill: activations of a long prompt that do not fit SRAM)",
            0, 1 << 24);
  }
};

struct moe_config {
  std::string distribution = "uniform";
  double zipf_s = 1.0;
  int64_t seed = 1;
  template <class V>
  void visit(V& v) {
    v.choice("distribution", distribution, {"uniform", "zipf"},
             "token->expert load distribution of the static per-step routing (docs/scenario.md)");
    v.field("zipf_s", zipf_s, "", "Zipf exponent (distribution: zipf)", 0.0, 10.0);
    v.field("seed", seed, "", "seed of the token->expert assignment", 0, 9.0e18);
  }
};

struct sim_config {
  std::string stats;
  std::string trace;
  int64_t seed = 1;
  template <class V>
  void visit(V& v) {
    v.field("stats", stats, "path", "statistics JSON output of a simulation run (empty: none)");
    v.field("trace", trace, "path", "Chrome trace output of a simulation run (empty: none)");
    v.field("seed", seed, "", "seed of the data of a functional run", 0, 9.0e18);
  }
};

struct scenario {
  YAML::Node hw_node;
  std::string model = "qwen3-0.6b";
  std::string weights_dtype = "bf16";
  parallelism_config parallelism;
  residency_config residency;
  step_config step;
  moe_config moe;
  sim_config sim;

  // Resolved by load_scenario / parse_scenario.
  std::string origin;  // the scenario file
  hw_config hw;
  model_config model_cfg;
  dtype weights = dtype::bf16;

  template <class V>
  void visit(V& v) {
    v.node("hw", hw_node, "path|mapping",
           "hardware: a hardware YAML path (relative to the scenario file) or an inline mapping of its keys "
           "(npuvp config describe)");
    v.field("model", model, "", "zoo model name (scenarios/models/NAME.json) or a config.json path");
    v.choice("weights_dtype", weights_dtype, {"bf16", "fp8", "int8", "fp32"},
             "element type of the projection and MLP weights (norms and activations stay fp32)");
    v.section("parallelism", parallelism, "tensor, pipeline and data parallelism");
    v.section("residency", residency, "where weights and KV cache live");
    v.section("step", step, "the work of one serving step");
    v.section("moe", moe, "mixture-of-experts routing (MoE models)");
    v.section("sim", sim, "simulation outputs and seeds");
  }
};

// Reads a scenario file; hw and model paths are relative to its directory (a
// model name is looked up in `zoo_dir`). Throws config_error / npuvp::error.
scenario load_scenario(const std::string& path, const std::string& zoo_dir = "scenarios/models");
scenario parse_scenario(const std::string& yaml_text, const std::string& origin, const std::string& zoo_dir);
// What the keys' ranges cannot say: tp x pp x dp fits the mesh, step.layers
// the model, pp the layers, the step has work. parse_scenario runs it; a
// command overriding a key (npuvp run --layers) runs it again, with an
// `origin` that names the override. Throws config_error.
void check_scenario(const scenario& s, const std::string& origin);

}  // namespace npuvp::kernels
