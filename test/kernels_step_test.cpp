// Scenarios and whole-step lowering (SystemC-free): parsing errors, the shipped
// scenarios, fit rejections, and a functional run of a tiny model's step on the
// reference executor against the host layer, for each residency.
#include <dirent.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <set>

#include "kernels/reference_executor.h"
#include "kernels/step_lowering.h"
#include "platform/base/error.h"
#include "platform/config/schema.h"
#include "test/step_reference.h"

using namespace npuvp;
using namespace npuvp::kernels;
using namespace npuvp::kernels::test;

namespace {

const std::string root = NPUVP_SOURCE_DIR;
const std::string zoo = root + "/scenarios/models";

// A scenario from text, as if it were a file in scenarios/run/ (so ../hw/ resolves).
scenario from_text(const std::string& text) { return parse_scenario(text, root + "/scenarios/run/test.yaml", zoo); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const error& e) {
    return e.what();
  }
  return "no error";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("scenario: keys parse, hw as a path or inline, errors name file and line", "[kernels][scenario]") {
  const scenario s = from_text(
      "hw: ../hw/npu_4x4.yaml\nmodel: qwen3-0.6b\nparallelism: {tp: 4, pp: 2, dp: 2, placement: ring_block}\n"
      "step: {prefill: [{tokens: 7}, {tokens: 3, context: 9}], decode: {batch: 5, context: 100}}\n");
  CHECK(s.hw.mesh.width == 4);
  CHECK(s.model_cfg.hidden_size == 1024);
  CHECK(s.weights == dtype::bf16);
  REQUIRE(s.step.prefill.size() == 2);
  CHECK(s.step.prefill[1].context == 9);
  CHECK(s.step.decode.batch == 5);
  const scenario inline_hw =
      from_text("hw: {mesh: {width: 2, height: 3}}\nmodel: qwen3-0.6b\nstep: {decode: {batch: 1}}\n");
  CHECK(inline_hw.hw.mesh.height == 3);

  CHECK(contains(error_of([] { from_text("hw: ../hw/npu_4x4.yaml\nstep: {decode: {batch: 1}}\nparalelism: {}\n"); }),
                 "test.yaml:3: paralelism: unknown key"));
  CHECK(contains(error_of([] { from_text("hw: ../hw/npu_4x4.yaml\nstep:\n  prefill:\n    - {tokens: many}\n"); }),
                 "test.yaml:4: step.prefill[0].tokens: expected an integer"));
  CHECK(contains(error_of([] { from_text("hw: {mesh: {widht: 2}}\nstep: {decode: {batch: 1}}\n"); }),
                 "test.yaml:1: hw.mesh.widht: unknown key"));
  CHECK(contains(error_of([] {
                   from_text(
                       "hw: ../hw/npu_4x4.yaml\nparallelism: {tp: 4, pp: 2, dp: 3}\nstep: {decode: {batch: 1}}\n");
                 }),
                 "tp x pp x dp = 24 cores, the mesh has 16"));
  CHECK(contains(error_of([] { from_text("hw: ../hw/npu_4x4.yaml\n"); }), "no work"));
  CHECK(contains(
      error_of([] { from_text("hw: ../hw/npu_4x4.yaml\nresidency: {kv: dram}\nstep: {decode: {batch: 1}}\n"); }),
      "'dram' is not one of sram|hbm"));

  // `scenario describe` comes from the same table: every key has a meaning.
  const auto rows = config::describe<scenario>();
  std::set<std::string> keys;
  for (const auto& r : rows) {
    keys.insert(r.key);
    CHECK_FALSE(r.doc.empty());
  }
  for (const char* k : {"hw", "model", "weights_dtype", "parallelism.partition", "parallelism.placement_file",
                        "parallelism.tp", "residency.weights", "residency.kv", "step.layers", "step.prefill[].tokens",
                        "step.prefill[].context", "step.decode.batch", "moe.distribution", "sim.seed"})
    CHECK(keys.count(k) == 1);
}

namespace {

// Lowers every DIR/*.yaml (DIR in the source tree) whose name starts with
// `prefix` (or does not, with `exclude`), and runs `more` on each.
void check_shipped(const std::string& in, const std::string& prefix, bool exclude, size_t at_least,
                   const std::function<void(const scenario&, const lowered_step&)>& more = {}) {
  const std::string dir = root + "/" + in;
  DIR* d = opendir(dir.c_str());
  REQUIRE(d != nullptr);
  std::vector<std::string> files;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() > 5 && name.substr(name.size() - 5) == ".yaml" && (name.rfind(prefix, 0) == 0) != exclude)
      files.push_back(name);
  }
  closedir(d);
  CHECK(files.size() >= at_least);
  for (const auto& f : files) {
    INFO(f);
    const scenario s = load_scenario(dir + "/" + f, zoo);
    const lowered_step step = lower_step(s);
    CHECK(step.summary.matmul_macs > 0);
    CHECK(step.sram_peak <= s.hw.core.sram.capacity_bytes());
    CHECK(step.hbm_bytes <= step.hbm_capacity);
    // Only the `end` commands are unlabelled.
    CHECK(step.ops[0].commands == step.programs.size());
    uint64_t macs = 0;
    for (const auto& op : step.ops) macs += op.macs;
    CHECK(macs == step.summary.matmul_macs);
    if (more) more(s, step);
  }
}

}  // namespace

TEST_CASE("step lowering: the 12 Qwen3-4B prefill strategy x placement scenarios lower, labelled per operator",
          "[kernels][step]") {
  check_shipped("scenarios/run", "qwen3-4b_prefill", false, 12);
}

TEST_CASE("step lowering: the 12 Qwen3-4B decode strategy x placement scenarios lower, labelled per operator",
          "[kernels][step]") {
  check_shipped("scenarios/run", "qwen3-4b_decode", false, 12);
}

TEST_CASE("step lowering: the other shipped scenarios lower, labelled per operator", "[kernels][step]") {
  check_shipped("scenarios/run", "qwen3-4b_", true, 6);
}

TEST_CASE("step lowering: the shipped whole-step cross-check cases lower every layer", "[kernels][step]") {
  check_shipped("scenarios/crosscheck/steps", "", false, 6, [](const scenario& s, const lowered_step& step) {
    CHECK(s.step.layers == 0);
    REQUIRE_FALSE(step.stage_layers.empty());
    CHECK(step.stage_layers.back().second == s.model_cfg.num_hidden_layers);
  });
}

TEST_CASE("step lowering: figures of the Qwen3-8B 512-token layer prefill", "[kernels][step]") {
  const lowered_step step = lower_step(load_scenario(root + "/scenarios/run/qwen3-8b_layer_prefill512.yaml", zoo));
  auto op = [&](const std::string& name) {
    for (const auto& o : step.ops)
      if (o.name == name) return o;
    FAIL("no operator " << name);
    return op_figures{};
  };
  // Q, K, V: 512 tokens x 4096 x (32 + 8 + 8) heads x 128; gate and up 512 x 4096 x 2 x 12288.
  CHECK(op("layer0.qkv_proj").macs == 512ull * 4096 * 48 * 128);
  CHECK(op("layer0.gate_up").macs == 512ull * 4096 * 2 * 12288);
  CHECK(op("layer0.down_proj").macs == 512ull * 12288 * 4096);
  // Every bf16 weight byte of the projections is read once (streamed), split over the 8 ranks.
  CHECK(op("layer0.qkv_proj").hbm_bytes == 4096ull * 48 * 128 * 2);
  // The step's only layer is its last: ring reduce-scatter of the [512 x 4096] fp32 o_proj partial,
  // (n-1) / n of it sent per rank, 8 ranks; then the all-gather of the bf16 gate/up operand, and the
  // reduce-scatter of the down partial.
  CHECK(op("layer0.o_reduce_scatter").noc_bytes == 7ull * 512 * 4096 * 4);
  CHECK(op("layer0.post_norm_allgather").noc_bytes == 7ull * 512 * 4096 * 2);
  CHECK(op("layer0.down_reduce_scatter").noc_bytes == 7ull * 512 * 4096 * 4);
  CHECK(step.groups.size() == 1);
  CHECK(step.stage_layers == std::vector<std::pair<int, int>>{{0, 1}});
}

TEST_CASE("step lowering: what does not fit is rejected saying by how much", "[kernels][step]") {
  // Qwen3-8B bf16 on 8 cores: a rank's slices of one layer are q 4096x512, k and v 4096x128, o 512x4096,
  // gate and up 4096x1536, down 1536x4096, 2 B each = 46 MiB; 36 layers = 1656 MiB.
  CHECK(contains(
      error_of([] {
        lower_step(
            from_text("hw: ../hw/npu_8x8.yaml\nmodel: qwen3-8b\nparallelism: {tp: 8}\n"
                      "residency: {weights: sram}\nstep: {decode: {batch: 1}}\n"));
      }),
      "weights of stage 0 need 1656.0 MiB per core, SRAM has 48.0 MiB, over by 1608.0 MiB (36 layers x 46.0 MiB"));
  // Qwen3-0.6B KV in SRAM: 28 layers x 2 x 64 sequences x 1 KV head x 4097 positions x 128 x 4 B per core.
  CHECK(contains(error_of([] {
                   lower_step(
                       from_text("hw: ../hw/npu_8x8.yaml\nmodel: qwen3-0.6b\nparallelism: {tp: 8}\n"
                                 "residency: {kv: sram}\nstep: {decode: {batch: 64, context: 4096}}\n"));
                 }),
                 "KV cache of stage 0 needs 7169.8 MiB per core, SRAM has 48.0 MiB, over by 7121.8 MiB"));
  // Llama-3.1-70B bf16: 80 layers x (2 x 8192^2 + 2 x 8192 x 1024 + 3 x 8192 x 28672) x 2 B = 127.5 GiB,
  // plus the KV caches and the alignment of layers 1..79 and their KV caches to the 1 MiB row window;
  // the 8x8 chip has 32 GiB of HBM.
  const std::string hbm = error_of([] {
    lower_step(
        from_text("hw: ../hw/npu_8x8.yaml\nmodel: llama-3.1-70b\nparallelism: {tp: 8, pp: 8}\n"
                  "step: {decode: {batch: 1, context: 16}}\n"));
  });
  CHECK(contains(hbm, "HBM does not fit: the step needs 127.65 GiB"));
  CHECK(contains(hbm, "the chip has 32.00 GiB (32 channels x 1.00 GiB), over by 95.65 GiB"));
  // Activations of a long prefill replicated per rank: the SRAM allocator names the regions.
  CHECK(contains(error_of([] {
                   lower_step(
                       from_text("hw: ../hw/npu_8x8.yaml\nmodel: qwen3-8b\nparallelism: {tp: 8}\n"
                                 "step: {layers: 1, prefill: [{tokens: 2048}]}\n"));
                 }),
                 "SRAM does not fit"));
  CHECK(contains(error_of([] {
                   lower_step(
                       from_text("hw: ../hw/npu_8x8.yaml\nmodel: qwen3-30b-a3b\nparallelism: {tp: 4, "
                                 "partition: k_split}\nstep: {layers: 1, decode: {batch: 1}}\n"));
                 }),
                 "MoE layers are lowered with the megatron partition and weights in HBM only"));
}

namespace {

// The tiny model with an MoE MLP on every layer: 6 experts of 24, top 2.
void make_tiny_moe(scenario& s) {
  s.model_cfg.model_type = "qwen3_moe";
  s.model_cfg.num_experts = 6;
  s.model_cfg.num_experts_per_tok = 2;
  s.model_cfg.moe_intermediate_size = 24;
  s.model_cfg.norm_topk_prob = true;
}

// Runs the tiny scenario's step on the reference executor and compares every
// replica's output and KV caches with the host layer applied layer by layer.
// weights: sram, hbm, or "tiled" (in HBM, residency.weight_layout tiled).
// chunk_tokens > 0: the step in passes of that many token rows.
void check_tiny_step(const std::string& weights, const std::string& kv, executor_options::order order,
                     const std::string& partition = "megatron", dtype weight_type = dtype::fp32, int group_size = 2,
                     bool moe = false, bool wide = false, int64_t chunk_tokens = 0) {
  INFO("weights " << weights << ", kv " << kv << ", " << partition << ", " << dtype_name(weight_type) << ", tp "
                  << group_size << ", chunk_tokens " << chunk_tokens);
  const bool narrow = weight_type != dtype::fp32;  // bf16 activation operands
  scenario s = load_scenario(root + "/scenarios/run/tiny_functional_4x4.yaml", zoo);
  s.parallelism.partition = partition;
  s.weights = weight_type;
  if (wide) s.parallelism.tp = group_size;  // more ranks than the 2 KV heads (wide k_split)
  if (group_size == 4 &&
      !wide) {  // 8 query heads over 4 KV heads, so 4 ranks own one GQA group each; 2 x 2 x 4 = all 16 cores
    s.model_cfg.num_attention_heads = 8;
    s.model_cfg.num_key_value_heads = 4;
    s.parallelism.tp = 4;
  }
  if (moe) make_tiny_moe(s);
  s.step.chunk_tokens = chunk_tokens;
  // Narrow weights: one layer. The device rounds its fp32 sums to bf16 operands where the host's sums
  // (differing in the last bits) may round the other way; over several layers one such flip grows past any
  // useful bound.
  if (narrow) s.step.layers = s.parallelism.pp = 1;
  s.residency.weights = weights == "tiled" ? "hbm" : weights;
  if (weights == "tiled") s.residency.weight_layout = "tiled";
  s.residency.kv = kv;
  s.hw.core.sram.capacity_kib = 512;  // keeps the executor small; the step needs less
  const lowered_step step = lower_step(s);
  reference_executor ex(s.hw.mesh.width * s.hw.mesh.height, s.hw.core.sram.capacity_bytes(), step.hbm_bytes);
  const step_data data =
      write_step_data(s, step, [&](mem_space space, int core, uint64_t at, const matrix& values, dtype type) {
        ex.write_floats(space, core, at, values, type);
      });
  for (size_t d = 0; d < step.batches.size(); ++d)  // outputs never stored stay NaN
    ex.write_floats(mem_space::hbm, 0, step.x_out[d], matrix(data.replicas[d].x.size(), NAN));
  ex.run(step.programs, {order, 11});
  const auto expected = expected_step(s, step, data);
  for (size_t d = 0; d < step.batches.size(); ++d) {
    INFO("replica " << d);
    const matrix got = ex.read_floats(mem_space::hbm, 0, step.x_out[d], expected[d].x.size());
    CHECK(worst_error(got, expected[d].x) < (narrow ? 2e-4 : 5e-4));
    if (kv == "hbm") {  // the last layer's cache holds the new keys (after RoPE) and values
      const matrix kc = ex.read_floats(mem_space::hbm, 0, step.kv[d].back().k, expected[d].k_last.size());
      CHECK(worst_error(kc, expected[d].k_last) < 1e-4);
    }
  }
  if (weight_type == dtype::fp8 || weight_type == dtype::int8) {
    // The 8-bit rounding of the weights matters: the host layers with the same draws rounded to bf16 instead
    // are visibly off.
    scenario finer = s;
    finer.weights = dtype::bf16;
    const auto with_bf16 = expected_step(finer, step, write_step_data(finer, step, [](auto...) {}));
    const matrix got = ex.read_floats(mem_space::hbm, 0, step.x_out[0], with_bf16[0].x.size());
    CHECK(worst_error(got, with_bf16[0].x) > 1e-2);
  }
}

}  // namespace

TEST_CASE("step lowering: a tiny model's step matches the host layers (dp 2 x pp 2 x tp 2)", "[kernels][step]") {
  check_tiny_step("hbm", "hbm", executor_options::order::round_robin);
  check_tiny_step("hbm", "hbm", executor_options::order::random);
}

TEST_CASE("step lowering: a step in passes of chunk_tokens rows (chunked prefill) matches the host layers",
          "[kernels][step]") {
  // Replica 0 holds prefills of 5 (context 0) and 3 (context 4) tokens: passes of 3 rows cut the first
  // sequence after 3 tokens, then take its last 2 with the second's first, then the second's last 2,
  // each piece attending to the earlier ones in the KV cache. Replica 1's 2 decode tokens are one pass.
  // Two stages pipeline the passes (pp 2); bf16 weights run one layer on one stage (x read from HBM).
  check_tiny_step("hbm", "hbm", executor_options::order::random, "megatron", dtype::fp32, 2, false, false, 3);
  check_tiny_step("hbm", "hbm", executor_options::order::random, "megatron", dtype::bf16, 2, false, false, 3);
  check_tiny_step("hbm", "sram", executor_options::order::round_robin, "k_split", dtype::fp32, 2, false, false, 3);
  check_tiny_step("sram", "hbm", executor_options::order::random, "mn_split", dtype::fp32, 2, false, false, 3);
  check_tiny_step("hbm", "hbm", executor_options::order::random, "megatron", dtype::fp32, 2, true, false, 3);
  check_tiny_step("hbm", "hbm", executor_options::order::round_robin, "megatron", dtype::fp32, 2, false, false, 1);
  scenario s = load_scenario(root + "/scenarios/run/tiny_functional_4x4.yaml", zoo);
  s.step.chunk_tokens = 3;
  const lowered_step chunked = lower_step(s);
  CHECK(std::any_of(chunked.notes.begin(), chunked.notes.end(), [](const std::string& n) {
    return contains(n, "8 token rows of replica 0 in 3 passes of at most 3");
  }));
  // A 2048-token prefill of Qwen3-8B on 8 cores does not fit 48 MiB of SRAM per core in one pass; in passes
  // of 512 tokens it does, and reads each layer's weights once per pass.
  scenario big = from_text(
      "hw: ../hw/npu_8x8.yaml\nmodel: qwen3-8b\nparallelism: {tp: 8}\n"
      "step: {layers: 1, prefill: [{tokens: 2048}], chunk_tokens: 512}\n");
  const lowered_step four = lower_step(big);
  big.step.prefill[0].tokens = 512;
  const lowered_step one = lower_step(big);
  CHECK(four.summary.hbm_read_bytes > 4 * one.summary.hbm_read_bytes);
  CHECK(four.summary.matmul_macs > 4 * one.summary.matmul_macs);  // later passes attend to more keys
}

TEST_CASE("step lowering: mn_split layers (MN-split MLP, rotated weight blocks, all-gather) match the host layers",
          "[kernels][step]") {
  check_tiny_step("hbm", "hbm", executor_options::order::random, "mn_split");
  check_tiny_step("hbm", "sram", executor_options::order::round_robin, "mn_split", dtype::bf16);
  scenario s = load_scenario(root + "/scenarios/run/tiny_functional_4x4.yaml", zoo);
  s.parallelism.partition = "mn_split";
  const lowered_step step = lower_step(s);
  for (const auto& op : step.ops) {
    // Each rank loads one column block of gate and up (h x I/2) once; the other block arrives over the NoC.
    if (op.name == "layer0.gate_up") CHECK(op.hbm_bytes == 2 * 2 * 64 * 96 * 4);      // 2 replicas, whole gate + up
    if (op.name == "layer0.gate_up") CHECK(op.noc_bytes == 2 * 2 * 2 * 64 * 48 * 4);  // 2 replicas x 2 ranks x 2 GEMMs
  }
}

TEST_CASE("step lowering: mnk_2d layers (2-D split MLP) match the host layers", "[kernels][step]") {
  // tp 2 is a 1 x 2 grid; the 2 x 2 grid is in the 4-core test below.
  check_tiny_step("hbm", "hbm", executor_options::order::random, "mnk_2d");
  check_tiny_step("hbm", "sram", executor_options::order::round_robin, "mnk_2d", dtype::bf16);
}

TEST_CASE("step lowering: every partition on 4-core TP groups (2 x 2 grid for mnk_2d) matches the host layers",
          "[kernels][step]") {
  for (const char* partition : {"megatron", "k_split", "mn_split", "mnk_2d"})
    check_tiny_step("hbm", "hbm", executor_options::order::random, partition, dtype::fp32, 4);
  check_tiny_step("sram", "sram", executor_options::order::random, "megatron", dtype::fp32, 4);
}

TEST_CASE("step lowering: MoE layers (static routing, expert parallel, all-to-all) match the host layers",
          "[kernels][step]") {
  check_tiny_step("hbm", "hbm", executor_options::order::random, "megatron", dtype::fp32, 2, true);
  check_tiny_step("hbm", "hbm", executor_options::order::random, "megatron", dtype::fp32, 4, true);
  check_tiny_step("hbm", "hbm", executor_options::order::round_robin, "megatron", dtype::bf16, 2, true);
  // All-to-all: token t belongs to the rank whose rows T_r hold it, expert e sits on rank e % tp. Each
  // (token, choice) whose expert is on another rank moves the token's row there (h x 4 B, fp32 operands) and
  // the expert's output row back; the output rows are then all-gathered: (tp - 1) T h x 4 B per group.
  for (int tp : {2, 4}) {
    scenario s = load_scenario(root + "/scenarios/run/tiny_functional_4x4.yaml", zoo);
    make_tiny_moe(s);
    if (tp == 4) {
      s.model_cfg.num_attention_heads = 8;
      s.model_cfg.num_key_value_heads = 4;
      s.parallelism.tp = 4;
    }
    const lowered_step step = lower_step(s);
    const uint64_t h = 64;
    uint64_t remote = 0, all_gather = 0;
    for (size_t d = 0; d < step.batches.size(); ++d)
      for (size_t l = 0; l < step.layers.size(); ++l) {
        const auto& tokens = step.routing[d][l];
        const uint64_t T = tokens.size();
        all_gather += (tp - 1) * T * h * 4;
        for (uint64_t t = 0; t < T; ++t) {
          int owner = 0;
          while (t >= split_range(T, tp, owner).second) ++owner;
          for (uint32_t e : tokens[t]) remote += int(e % tp) != owner;
        }
      }
    INFO("tp " << tp << ": " << remote << " remote (token, expert) pairs");
    CHECK(remote > 0);
    uint64_t dispatch = 0, combine = 0, gathered = 0, all_reduce = 0;
    for (const auto& op : step.ops) {
      if (contains(op.name, ".moe_dispatch")) dispatch += op.noc_bytes;
      if (contains(op.name, ".moe_combine")) combine += op.noc_bytes;
      if (contains(op.name, ".moe_allgather")) gathered += op.noc_bytes;
      if (contains(op.name, ".moe_allreduce")) all_reduce += op.noc_bytes;
    }
    CHECK(dispatch == remote * h * 4);
    CHECK(combine == remote * h * 4);
    CHECK(gathered == all_gather);
    CHECK(all_reduce == 0);
  }
  // The routing is seeded: the same seed gives the same assignment, another seed another one; Zipf skews the load.
  scenario s = load_scenario(root + "/scenarios/run/qwen3-30b-a3b_moe_decode.yaml", zoo);
  s.step.layers = 1;
  s.parallelism.pp = 1;
  const lowered_step a = lower_step(s), b = lower_step(s);
  CHECK(a.routing[0][0] == b.routing[0][0]);
  s.moe.seed = 4;
  CHECK(lower_step(s).routing[0][0] != a.routing[0][0]);
  s.step.decode.batch = 512;
  s.parallelism.dp = 1;
  for (const char* dist : {"uniform", "zipf"}) {
    s.moe.distribution = dist;
    const lowered_step z = lower_step(s);
    std::vector<int> load(128);
    for (const auto& token : z.routing[0][0]) {
      CHECK(std::set<uint32_t>(token.begin(), token.end()).size() == 8);  // distinct experts
      for (uint32_t e : token) ++load[e];
    }
    const int top = *std::max_element(load.begin(), load.end());
    // 4096 choices over 128 experts: 32 on average; Zipf (s = 1) gives the favourite expert about 4096 / H(128) / ...
    if (std::string(dist) == "uniform") CHECK(top < 64);
    if (std::string(dist) == "zipf") CHECK(top > 200);
  }
}

TEST_CASE("step lowering: bf16 weights match the host layers with bf16 operands", "[kernels][step]") {
  check_tiny_step("hbm", "hbm", executor_options::order::random, "megatron", dtype::bf16);
  check_tiny_step("hbm", "hbm", executor_options::order::random, "k_split", dtype::bf16);
}

TEST_CASE("step lowering: fp8 and int8 weights (1 byte per element, W8A16) match the host layers", "[kernels][step]") {
  for (dtype t : {dtype::fp8, dtype::int8}) {
    check_tiny_step("hbm", "hbm", executor_options::order::random, "megatron", t);
    check_tiny_step("hbm", "sram", executor_options::order::random, "mn_split", t);
    check_tiny_step("hbm", "hbm", executor_options::order::random, "k_split", t, 4);
    check_tiny_step("sram", "hbm", executor_options::order::round_robin, "megatron", t);
    check_tiny_step("hbm", "hbm", executor_options::order::random, "megatron", t, 2, true);
  }
  // The formats: E4M3 keeps 3 mantissa bits, saturates at 448 and has subnormals down to 2^-9;
  // int8 holds q / 128.
  CHECK(stored_value(0.3f, dtype::fp8) == 0.3125f);  // 1.25 x 2^-2 (0.3 = 1.2 x 2^-2, step 2^-5)
  CHECK(stored_value(1000.0f, dtype::fp8) == 448.0f);
  CHECK(stored_value(-0.0029f, dtype::fp8) == -0.001953125f);  // subnormal: 1.48 x 2^-9 -> 2^-9
  CHECK(stored_value(0.3f, dtype::int8) == 38.0f / 128);
  CHECK(stored_value(-2.0f, dtype::int8) == -1.0f);
  CHECK(stored_value(2.0f, dtype::int8) == 127.0f / 128);
  for (int b = 0; b < 256; ++b)
    if ((b & 0x7F) != 0x7F) CHECK(to_fp8(from_fp8(uint8_t(b))) == (b == 0x80 ? 0x80 : b));
  // Weight bytes halve against bf16: the Qwen3-8B layer's projections read 1 byte per weight.
  scenario s = load_scenario(root + "/scenarios/run/qwen3-8b_layer_prefill512.yaml", zoo);
  std::map<std::string, uint64_t> bf16_bytes;
  const lowered_step bf16_step = lower_step(s);
  for (const auto& op : bf16_step.ops) bf16_bytes[op.name] = op.hbm_bytes;
  for (dtype t : {dtype::fp8, dtype::int8}) {
    s.weights = t;
    const lowered_step step = lower_step(s);
    for (const auto& op : step.ops)
      if (op.name == "layer0.qkv_proj" || op.name == "layer0.o_proj" || op.name == "layer0.gate_up" ||
          op.name == "layer0.down_proj") {
        INFO(op.name);
        CHECK(op.hbm_bytes * 2 == bf16_bytes[op.name]);
        if (op.name == "layer0.qkv_proj") CHECK(op.hbm_bytes == 4096ull * 48 * 128);  // 1 B per weight
      }
    // Laid out: the layer's weights (4096 x 48 x 128 QKV, 4096^2 o, 3 x 4096 x 12288 MLP) take half the bf16
    // bytes; KV cache, norms and activations are fp32 either way.
    CHECK(bf16_step.hbm_bytes - step.hbm_bytes >= (4096ull * 48 * 128 + 4096ull * 4096 + 3ull * 4096 * 12288));
    CHECK(bf16_step.hbm_bytes - step.hbm_bytes < (4096ull * 48 * 128 + 4096ull * 4096 + 3ull * 4096 * 12288) + 4096);
  }
}

TEST_CASE("step lowering: k_split layers (K-split QKV and gate/up, all-reduced) match the host layers",
          "[kernels][step]") {
  check_tiny_step("hbm", "hbm", executor_options::order::random, "k_split");
  check_tiny_step("hbm", "sram", executor_options::order::round_robin, "k_split");
  // Each rank reads only its rows h_r of the QKV weights, and the partial Q, K, V go around the ring.
  scenario s = load_scenario(root + "/scenarios/run/tiny_functional_4x4.yaml", zoo);
  s.parallelism.partition = "k_split";
  const lowered_step step = lower_step(s);
  for (const auto& op : step.ops) {
    if (op.name == "layer0.qkv_proj")
      CHECK(op.hbm_bytes == 2 * 64 * (64 + 32 + 32) * 4);  // 2 replicas, h x (H + 2 KV) hd fp32
    if (op.name == "layer0.qkv_allreduce") CHECK(op.noc_bytes > 0);
  }
}

TEST_CASE("step lowering: SRAM-resident weights and KV cache give the same results", "[kernels][step]") {
  check_tiny_step("sram", "hbm", executor_options::order::random);
  check_tiny_step("hbm", "sram", executor_options::order::random);
  check_tiny_step("sram", "sram", executor_options::order::random);
  // Every partition multiplies the blocks resident_block gives it (mn_split rotates them over the ring).
  check_tiny_step("sram", "hbm", executor_options::order::random, "k_split");
  check_tiny_step("sram", "sram", executor_options::order::round_robin, "mn_split", dtype::bf16);
  check_tiny_step("sram", "hbm", executor_options::order::random, "mnk_2d", dtype::fp32, 4);
  check_tiny_step("sram", "hbm", executor_options::order::random, "k_split", dtype::fp32, 4, false, true);
  // Resident weights: no weight matrix is read from HBM during the step.
  for (const std::string partition : {"megatron", "k_split", "mn_split", "mnk_2d"}) {
    INFO(partition);
    scenario s = load_scenario(root + "/scenarios/run/tiny_functional_4x4.yaml", zoo);
    s.residency.weights = "sram";
    s.parallelism.partition = partition;
    const lowered_step step = lower_step(s);
    for (const auto& op : step.ops)
      if (contains(op.name, "_proj") || contains(op.name, "gate_up")) CHECK(op.hbm_bytes == 0);
  }
}

TEST_CASE("step lowering: tiled HBM weights (every streamed tile one contiguous range) match the host layers",
          "[kernels][step]") {
  check_tiny_step("tiled", "hbm", executor_options::order::random);
  check_tiny_step("tiled", "hbm", executor_options::order::random, "k_split");
  check_tiny_step("tiled", "sram", executor_options::order::round_robin, "mn_split", dtype::bf16);
  check_tiny_step("tiled", "hbm", executor_options::order::random, "mnk_2d", dtype::fp32, 4);
  check_tiny_step("tiled", "hbm", executor_options::order::random, "k_split", dtype::fp32, 4, false, true);
  check_tiny_step("tiled", "hbm", executor_options::order::random, "megatron", dtype::fp32, 2, true);
  // The same weight bytes are read, each weight load now contiguous (one row, or rows back to back).
  for (const std::string partition : {"megatron", "k_split", "mn_split", "mnk_2d"}) {
    INFO(partition);
    scenario s = load_scenario(root + "/scenarios/run/tiny_functional_4x4.yaml", zoo);
    s.parallelism.partition = partition;
    const lowered_step row_major = lower_step(s);
    s.residency.weight_layout = "tiled";
    const lowered_step tiled = lower_step(s);
    int strided = 0, contiguous = 0;
    for (size_t i = 0; i < row_major.ops.size(); ++i) {
      CHECK(tiled.ops[i].hbm_bytes == row_major.ops[i].hbm_bytes);
      const std::string& name = tiled.ops[i].name;
      if (!contains(name, "_proj") && !contains(name, "gate_up")) continue;
      for (const auto& [layout, step] : {std::pair<const char*, const lowered_step*>{"row_major", &row_major},
                                         {"tiled", &tiled}})
        for (const program& p : step->programs)
          for (const command& c : p) {
            const auto* d = std::get_if<dma_cmd>(&c);
            if (!d || d->src_space != mem_space::hbm || d->op_id != i) continue;
            const bool flat = d->rows == 1 || d->src_stride == d->row_bytes;
            if (std::string(layout) == "tiled")
              CHECK(flat);
            else
              strided += !flat;
            contiguous += flat;
          }
    }
    CHECK(strided > 0);  // row-major: the tiles are row segments
    CHECK(contiguous > 0);
  }
}

TEST_CASE("step lowering: the ranks stream their weight tiles from different HBM channels (tile_order)",
          "[kernels][step]") {
  // Qwen3-8B k_split on the 4x4 (8 channels x 256 B): every row of a rank's 256 B q tile lies in one
  // channel (rows 8 KiB apart), and the four ranks' blocks start in the same channel.
  scenario s = from_text(
      "hw: ../hw/npu_4x4.yaml\nmodel: qwen3-8b\nweights_dtype: bf16\n"
      "parallelism: {partition: k_split, placement: linear_sequential, tp: 4}\n"
      "step: {layers: 1, decode: {batch: 1, context: 512}}\n");
  auto first_tile_channels = [&] {
    const lowered_step step = lower_step(s);
    std::vector<int> channels;
    for (const program& p : step.programs)
      for (const command& c : p)
        if (const auto* d = std::get_if<dma_cmd>(&c); d && d->src_space == mem_space::hbm && d->rows > 1) {
          CHECK(d->row_bytes == 256);
          CHECK(d->src_stride % (8 * 256) == 0);
          channels.push_back(static_cast<int>(d->src / 256 % 8));
          break;
        }
    CHECK(channels.size() == 4);
    return channels;
  };
  CHECK(first_tile_channels() == std::vector<int>{0, 2, 4, 6});  // staggered (the default): r C / n apart
  s.residency.tile_order = "in_order";
  CHECK(first_tile_channels() == std::vector<int>{0, 0, 0, 0});
  // The rule itself: rows 19 KiB apart (76 blocks: a tile's rows alternate between channels c and c + 4,
  // four classes mod 4) put 4 ranks in classes 0..3; rows off the interleave grid are left alone.
  const hw_config& hw = s.hw;
  for (int r = 0; r < 4; ++r) {
    const uint64_t start = uint64_t(r) * 640 * 19456;  // rank r's first row, channel 0
    CHECK(staggered_first_tile(hw, 0, start, 19456, r, 4, 256, 76) == uint32_t(r));
    CHECK(staggered_first_tile(hw, 0, start, 19456 + 64, r, 4, 256, 76) == 0);
  }
  // Tiles of two blocks move two channels each: rank 1 of 2 skips 4 channels, 2 tiles.
  CHECK(staggered_first_tile(hw, 0, 8 * 256 * 7, 8 * 256, 1, 2, 512, 10) == 2);
}

TEST_CASE("resident_block: each partition's blocks cover every weight once over the group", "[kernels][step]") {
  const model_config tiny = load_scenario(root + "/scenarios/run/tiny_functional_4x4.yaml", zoo).model_cfg;
  model_config gqa4 = tiny;  // 8 query heads over 4 KV heads: 4 ranks own a GQA group each
  gqa4.num_attention_heads = 8;
  gqa4.num_key_value_heads = 4;
  for (const std::string partition : {"megatron", "k_split", "mn_split", "mnk_2d"})
    for (const auto& [m, n] : {std::pair<model_config, int>{tiny, 2}, {gqa4, 4}, {tiny, 4}}) {
      if (n > m.num_key_value_heads && partition != "k_split") continue;  // only k_split lowers wide groups
      const uint64_t h = m.hidden_size, q = m.num_attention_heads * m.head_dim, kv = m.num_key_value_heads * m.head_dim,
                     I = m.intermediate_size;
      const uint64_t rows[] = {h, h, h, q, h, h, I}, cols[] = {q, kv, kv, h, I, I, h};
      const resident_slices sl = resident_layout(m, partition, n, dtype::fp32);
      for (int w = 0; w < layer_weight_count; ++w) {
        INFO(partition << " over " << n << " ranks (" << m.num_key_value_heads << " KV heads), weight " << w);
        std::vector<int> seen(rows[w] * cols[w], 0);
        uint64_t largest = 0;
        for (int r = 0; r < n; ++r) {
          const weight_block b = resident_block(m, partition, n, r, layer_weight(w));
          largest = std::max(largest, b.rows * b.cols);
          for (uint64_t i = 0; i < b.rows; ++i)
            for (uint64_t j = 0; j < b.cols; ++j) ++seen.at((b.row0 + i * b.row_step) * cols[w] + b.col0 + j);
        }
        CHECK(std::count(seen.begin(), seen.end(), 1) == static_cast<long>(seen.size()));
        // Sized for the largest block (fp32), 64-byte aligned.
        const uint64_t end = w + 1 < layer_weight_count ? sl.offset[w + 1] : sl.bytes;
        CHECK(end - sl.offset[w] == (largest * 4 + 63) / 64 * 64);
      }
    }
}

TEST_CASE(
    "step lowering: wide k_split (tp 4 over 2 KV heads: cyclic weight rows, attention leaders, direct "
    "collectives) matches the host layers",
    "[kernels][step]") {
  check_tiny_step("hbm", "hbm", executor_options::order::random, "k_split", dtype::fp32, 4, false, true);
  check_tiny_step("hbm", "hbm", executor_options::order::round_robin, "k_split", dtype::bf16, 4, false, true);
  // Every weight is read once over the group (rank r: rows r, r + 4, ...), the partial Q, K, V and the
  // leaders' attention outputs cross the NoC; the KV cache in SRAM is not lowered wide.
  scenario s = load_scenario(root + "/scenarios/run/tiny_functional_4x4.yaml", zoo);
  s.parallelism.partition = "k_split";
  s.parallelism.tp = 4;
  const lowered_step step = lower_step(s);
  int seen = 0;
  for (const auto& op : step.ops) {
    if (op.name == "layer0.qkv_proj") CHECK(op.hbm_bytes == 2 * 64 * (64 + 32 + 32) * 4);  // 2 replicas
    if (op.name == "layer0.o_proj") CHECK(op.hbm_bytes == 2 * 64 * 64 * 4);
    if (op.name == "layer0.down_proj") CHECK(op.hbm_bytes == 2 * 96 * 64 * 4);
    if (op.name == "layer0.qkv_allreduce" || op.name == "layer0.attention_allgather") seen += op.noc_bytes > 0;
  }
  CHECK(seen == 2);
  s.residency.kv = "sram";
  CHECK_THROWS_WITH(lower_step(s), Catch::Contains("multiple of it"));
}
