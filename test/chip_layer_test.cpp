// A whole decoder-layer step lowered by kernels::lower_step and run on the TLM
// chip in functional mode, for every partition strategy on every placement,
// against the host layers (test/step_reference.h, the same data and reference
// as the reference-executor step tests). Each simulation runs in its own
// process (run_isolated).
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/step_lowering.h"
#include "platform/chip.h"
#include "platform/sim/isolated_run.h"
#include "test/step_reference.h"

using namespace npuvp;
using namespace npuvp::kernels;
using namespace npuvp::kernels::test;

namespace {

const std::string root = NPUVP_SOURCE_DIR;

// The tiny Qwen3-type model of scenarios/run/tiny_functional_4x4.yaml with 8 query heads over 4 KV
// heads (GQA, 2 query heads per KV head), 2 replicas x 2 stages x tp 4 = all 16 cores, 2 layers per
// stage; each replica runs a prefill chunk (5 fresh tokens, or 3 after 4 cached ones) and a decode
// token after 6 cached ones, so every attention reads earlier context from the KV cache in HBM.
// variant "moe": every layer's MLP is 6 experts of 24 (top 2, expert parallel, all-to-all dispatch
// and combine); "resident": weights and KV cache in SRAM; "tiled": weights in HBM in the tiled
// layout; "fp8", "int8": 8-bit weights
// (W8A16), one layer (a bf16 rounding flip of an activation would grow over several layers).
scenario tiny_scenario(const std::string& partition, const std::string& placement, const std::string& variant) {
  scenario s = load_scenario(root + "/scenarios/run/tiny_functional_4x4.yaml", root + "/scenarios/models");
  s.parallelism.partition = partition;
  s.parallelism.placement = placement;
  s.parallelism.tp = 4;
  s.model_cfg.num_attention_heads = 8;
  s.model_cfg.num_key_value_heads = 4;
  s.hw.functional = true;
  if (variant == "moe") {
    s.model_cfg.model_type = "qwen3_moe";
    s.model_cfg.num_experts = 6;
    s.model_cfg.num_experts_per_tok = 2;
    s.model_cfg.moe_intermediate_size = 24;
    s.model_cfg.norm_topk_prob = true;
  }
  if (variant == "resident") s.residency.weights = s.residency.kv = "sram";
  if (variant == "tiled") s.residency.weight_layout = "tiled";
  if (variant == "fp8" || variant == "int8") {
    s.weights = variant == "fp8" ? dtype::fp8 : dtype::int8;
    s.step.layers = s.parallelism.pp = 1;
  }
  return s;
}

// Runs the step on the chip. Variant "corrupt": one element of layer 0's down projection is changed in
// HBM after the data is written, so the result must differ from the reference.
nlohmann::json run_step(const std::string& partition, const std::string& placement, const std::string& variant) {
  const scenario s = tiny_scenario(partition, placement, variant);
  const lowered_step step = lower_step(s);
  chip npu(s.hw);
  npu.load_programs(step.programs);
  const step_data data =
      write_step_data(s, step, [&](mem_space space, int core, uint64_t at, const matrix& values, dtype type) {
        const std::vector<uint8_t> bytes = encode_floats(values, type);
        if (space == mem_space::hbm)
          npu.write_hbm(at, bytes.data(), bytes.size());
        else
          npu.core(core).write_sram(at, bytes.data(), bytes.size());
      });
  for (size_t d = 0; d < step.batches.size(); ++d)  // outputs never stored stay NaN
    npu.write_hbm_floats(step.x_out[d], matrix(data.replicas[d].x.size(), NAN));
  if (variant == "corrupt") npu.write_hbm_floats(step.weights[0].down, {data.layers[0].wd[0] + 1.0f});
  const double elapsed_ns = npu.run().to_seconds() * 1e9;
  const auto expected = expected_step(s, step, data);
  double worst = 0, cache = 0;
  for (size_t d = 0; d < step.batches.size(); ++d) {
    const double out_err = worst_error(npu.read_hbm_floats(step.x_out[d], expected[d].x.size()), expected[d].x);
    const double k_err =  // (a cache in SRAM is checked through the outputs only)
        s.residency.kv == "sram"
            ? 0
            : worst_error(npu.read_hbm_floats(step.kv[d].back().k, expected[d].k_last.size()), expected[d].k_last);
    if (!(out_err <= worst)) worst = out_err;  // NaN sticks
    if (!(k_err <= cache)) cache = k_err;
  }
  return {{"elapsed_ns", elapsed_ns}, {"worst", worst}, {"cache", cache}};
}

const std::vector<std::string> placements = {"linear_sequential", "linear_interleaved", "mesh_block", "ring_block"};

// A functional step result matches the host layers: fp32 weights and operands, the device summing in
// another order than the host's double sums (a cache in SRAM reports 0: checked through the outputs).
void check_matches(const nlohmann::json& x) {
  CHECK(x["worst"].get<double>() < 5e-4);
  CHECK(x["cache"].get<double>() < 1e-4);
  CHECK(x["elapsed_ns"].get<double>() > 0);
}

// Runs the steps two at a time and checks each result.
void check_runs(const std::vector<isolated_job>& jobs) {
  for (const auto& x : run_isolated(jobs, 2)) {
    INFO(x.dump());
    check_matches(x);
  }
}

void check_layers(const std::string& partition, const std::string& variant = "dense", bool with_corruption = false) {
  std::vector<isolated_job> jobs;
  for (const auto& p : placements) jobs.push_back([=] { return run_step(partition, p, variant); });
  if (with_corruption) jobs.push_back([partition] { return run_step(partition, placements[0], "corrupt"); });
  const auto r = run_isolated(jobs, 2);
  for (size_t i = 0; i < placements.size(); ++i) {
    INFO(partition << " (" << variant << ") on " << placements[i] << ": " << r[i].dump());
    check_matches(r[i]);
  }
  if (with_corruption) {  // a changed weight (+1 on a weight of about 0.5) shows in the output
    INFO("corrupted: " << r.back().dump());
    CHECK(r.back()["worst"].get<double>() > 1e-2);
    // The functional run does not change the timing: same program, same time.
    CHECK(r.back()["elapsed_ns"].get<double>() == r[0]["elapsed_ns"].get<double>());
  }
}

}  // namespace

TEST_CASE("chip: megatron decoder-layer steps on every placement match the host layers (functional)", "[chip][layer]") {
  check_layers("megatron", "dense", true);
}
TEST_CASE("chip: k_split decoder-layer steps on every placement match the host layers (functional)", "[chip][layer]") {
  check_layers("k_split");
}
TEST_CASE("chip: mn_split decoder-layer steps on every placement match the host layers (functional)", "[chip][layer]") {
  check_layers("mn_split");
}
TEST_CASE("chip: mnk_2d decoder-layer steps (2 x 2 grids) on every placement match the host layers (functional)",
          "[chip][layer]") {
  check_layers("mnk_2d");
}
TEST_CASE("chip: MoE decoder-layer steps (all-to-all dispatch and combine) on every placement match the host layers",
          "[chip][layer]") {
  check_layers("megatron", "moe");
}
TEST_CASE("chip: decoder-layer steps with weights and KV cache in SRAM on every placement match the host layers",
          "[chip][layer]") {
  check_layers("megatron", "resident");
}
TEST_CASE("chip: k_split, mn_split and mnk_2d steps with weights and KV cache in SRAM match the host layers",
          "[chip][layer]") {
  check_runs({[] { return run_step("k_split", "mesh_block", "resident"); },
              [] { return run_step("mn_split", "ring_block", "resident"); },
              [] { return run_step("mnk_2d", "linear_interleaved", "resident"); }});
}
TEST_CASE("chip: decoder-layer steps with tiled HBM weights match the host layers (functional)", "[chip][layer]") {
  check_runs({[] { return run_step("megatron", "linear_sequential", "tiled"); },
              [] { return run_step("k_split", "mesh_block", "tiled"); },
              [] { return run_step("mn_split", "ring_block", "tiled"); },
              [] { return run_step("mnk_2d", "linear_interleaved", "tiled"); }});
}
TEST_CASE("chip: decoder-layer steps with fp8 and int8 weights match the host layers (functional)", "[chip][layer]") {
  check_runs({[] { return run_step("megatron", "ring_block", "fp8"); },
              [] { return run_step("mnk_2d", "mesh_block", "fp8"); },
              [] { return run_step("megatron", "ring_block", "int8"); },
              [] { return run_step("k_split", "linear_interleaved", "int8"); }});
}
