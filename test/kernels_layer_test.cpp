// One decoder layer lowered over a TP group and run on the reference executor,
// against a plain host implementation of the same layer.
#include <catch2/catch.hpp>
#include <cmath>

#include "kernels/reference_executor.h"
#include "kernels/stream_summary.h"
#include "kernels/transformer_layer.h"
#include "platform/base/error.h"
#include "test/kernels_layer_reference.h"

using namespace npuvp;
using namespace npuvp::kernels;
using namespace npuvp::kernels::test;

namespace {

model_config tiny_model(const std::string& type) {
  return parse_model_config(R"({"model_type": ")" + type + R"(", "hidden_size": 64, "intermediate_size": 96,
    "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
    "vocab_size": 10, "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000})",
                            type + "/config.json");
}

// The batch, the attention tiling and the output mode of a check_layer run.
struct layer_case {
  std::vector<sequence> batch = {{5, 1}, {0, 7}, {20, 3}};  // decode, prefill, chunked prefill
  uint32_t kv_tile = 8;                                     // several tiles per sequence, masked ones included
  uint32_t query_tile = 1024;
  bool out_rows_only = false;
};

// Runs the layer and checks it against the host reference; returns the stream's matmul MACs.
uint64_t check_layer(const std::string& type, const std::vector<int>& group, executor_options::order order,
                     dtype weights = dtype::fp32, const layer_case& ac = {}) {
  INFO(type << " on " << group.size() << " cores" << (order == executor_options::order::random ? ", random order" : "")
            << ", " << dtype_name(weights) << " weights");
  const bool bf16 = weights == dtype::bf16;
  const model_config m = tiny_model(type);
  const size_t h = 64, hd = 16, KV = 2;
  const uint32_t max_pos = 32;
  const std::vector<sequence>& batch = ac.batch;
  size_t T = 0;
  for (const auto& seq : batch) T += seq.new_tokens;
  random_values random(7);
  layer_data L = random_layer(random, m, T, batch.size() * KV * max_pos * hd);
  hw_config hw;
  hw.core.sram.capacity_kib = 1024;
  layer_job job;
  uint64_t top = 0;
  reference_executor ex(16, hw.core.sram.capacity_bytes(), 4 << 20);
  auto place = [&](const matrix& data, dtype type = dtype::fp32) {
    const uint64_t at = top;
    ex.write_floats(mem_space::hbm, 0, at, data, type);
    top += (data.size() * dtype_bytes(type) + 63) / 64 * 64;
    return at;
  };
  for (auto* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.wg, &L.wu, &L.wd}) *w = narrowed(*w, bf16);
  job.x_in = place(L.x);
  job.weights = {place(L.in_norm),     place(L.wq, weights), place(L.wk, weights), place(L.wv, weights),
                 place(L.q_norm),      place(L.k_norm),      place(L.wo, weights), place(L.post_norm),
                 place(L.wg, weights), place(L.wu, weights), place(L.wd, weights)};
  job.weight_type = weights;
  job.cache = {place(L.kcache), place(L.vcache), max_pos};
  job.x_out = place(matrix(T * h, NAN));
  job.batch = batch;
  job.kv_tile = ac.kv_tile;
  job.query_tile = ac.query_tile;
  job.out_rows_only = ac.out_rows_only;
  job.weight_tile = 24;  // several streamed weight tiles per GEMM, the last one narrower
  lowering_context ctx(hw);
  lower_transformer_layer(ctx, m, job, group);
  const auto programs = ctx.finish();
  ex.run(programs, {order, 5});
  const matrix expected = reference_layer(m, L, batch, max_pos, bf16);
  const matrix got = ex.read_floats(mem_space::hbm, 0, job.x_out, T * h);
  const double worst = worst_error(got, expected);
  // bf16 operands: the data is seeded and no operand lies so close to a bf16 rounding boundary that
  // the device's fp32 sums (differing from the host's in the last bits) round it the other way.
  CHECK(worst < 2e-4);
  if (bf16) {  // and the rounding of the activations matters: without it the result is visibly different
    layer_data copy = L;
    const matrix unrounded = reference_layer(m, copy, batch, max_pos, false);
    double gap = 0;
    for (size_t e = 0; e < got.size(); ++e) gap = std::max(gap, std::abs(double(got[e]) - unrounded[e]));
    CHECK(gap > 1e-3);
  }
  // The new keys and values landed in the cache (K after RoPE).
  const matrix kc = ex.read_floats(mem_space::hbm, 0, job.cache.k, L.kcache.size());
  const matrix vc = ex.read_floats(mem_space::hbm, 0, job.cache.v, L.vcache.size());
  double cache_err = 0;
  for (size_t e = 0; e < kc.size(); ++e)
    cache_err = std::max({cache_err, std::abs(double(kc[e]) - L.kcache[e]), std::abs(double(vc[e]) - L.vcache[e])});
  CHECK(cache_err < 1e-5);
  return summarize(programs, hw.mesh.width).matmul_macs;
}

}  // namespace

TEST_CASE("a decoder layer lowered over 1 and 2 cores matches the host reference", "[kernels][layer]") {
  for (const auto& type : {"qwen3", "llama"}) {
    check_layer(type, {5}, executor_options::order::round_robin);
    check_layer(type, {1, 2}, executor_options::order::round_robin);
    check_layer(type, {9, 10}, executor_options::order::random);
    check_layer(type, {3, 7}, executor_options::order::random, dtype::bf16);
    // Only the stored rows needed: o_proj and down reduce-scattered, the gate/up operand all-gathered,
    // rank r normalising and storing chunk r+1.
    layer_case rows_only;
    rows_only.out_rows_only = true;
    check_layer(type, {9, 10}, executor_options::order::random, dtype::bf16, rows_only);
    check_layer(type, {1, 2}, executor_options::order::random, dtype::fp32, rows_only);
  }
}

TEST_CASE("a causal prefill skips the key tiles after each query block and still matches the reference",
          "[kernels][layer]") {
  // 24 new tokens after 6 cached ones, keys in tiles of 4 (tile 1 straddles the cached and the new
  // positions). One query block of 24 rows reads all 30 keys; blocks of 8 rows (positions 6-13, 14-21,
  // 22-29) read the tiles up to their last query only: 14, 22 and 30 keys.
  layer_case whole{{{6, 24}}, 4, 24}, blocks{{{6, 24}}, 4, 8};
  for (const auto& type : {"qwen3", "llama"}) {
    const uint64_t all = check_layer(type, {1, 2}, executor_options::order::random, dtype::fp32, whole);
    const uint64_t skipped = check_layer(type, {1, 2}, executor_options::order::random, dtype::fp32, blocks);
    // QK^T and PV MACs per key for 8 query rows: 2 x 8 x 16 (head_dim). Skipped per head:
    // (30 - 14) + (30 - 22) = 24 keys of 8 rows, times 4 heads.
    CHECK(all - skipped == 4 * 24 * (2 * 8 * 16));
  }
  // Query blocks in a mixed batch (decode, prefill and chunked prefill), in random order with bf16 weights.
  check_layer("qwen3", {3, 7}, executor_options::order::random, dtype::bf16,
              layer_case{{{5, 1}, {0, 7}, {20, 3}}, 4, 2});
}

TEST_CASE("a Qwen3-8B layer lowers onto 4 cores with weights streamed through SRAM", "[kernels][layer]") {
  const std::string zoo = std::string(NPUVP_SOURCE_DIR) + "/scenarios/models";
  const model_config m = load_model_config("qwen3-8b", zoo);
  hw_config hw;  // 128x128 arrays, 32 MiB SRAM per core
  layer_job job;
  job.batch = std::vector<sequence>(16, sequence{1000, 1});  // decode step, 16 sequences
  job.cache.max_positions = 4096;
  job.cache.v = uint64_t(16) * 8 * 4096 * 128 * 4;
  lowering_context ctx(hw);
  lower_transformer_layer(ctx, m, job, {0, 1, 2, 3});
  uint64_t peak = 0;
  for (int c = 0; c < 4; ++c) peak = std::max(peak, ctx.sram_used(c));
  CHECK(peak < hw.core.sram.capacity_bytes() / 4);  // double-buffered weight tiles, not whole slices
  const auto programs = ctx.finish();
  const stream_summary s = summarize(programs, hw.mesh.width);
  // Every fp32 weight of the layer is read once (norm vectors once per rank), plus activations and the cache.
  const auto p = m.parameters();
  const uint64_t weights = uint64_t(p.total() - p.embedding - p.lm_head - m.hidden_size) / m.num_hidden_layers * 4;
  CHECK(s.hbm_read_bytes > weights);
  CHECK(s.matmul_macs >= 16 * weights / 4);  // one MAC per weight per token, attention on top
  for (const auto& prog : programs)
    for (const auto& c : prog)
      if (auto* mm = std::get_if<matmul_cmd>(&c)) REQUIRE((mm->k <= 128 && mm->n <= 128));
}

TEST_CASE("layer lowering rejects what it cannot do, saying why", "[kernels][layer]") {
  const std::string zoo = std::string(NPUVP_SOURCE_DIR) + "/scenarios/models";
  hw_config hw;  // 32 MiB SRAM per core
  layer_job job;
  job.batch = {{0, 4096}};  // a 4096-token prefill keeps 64 MiB of activations per buffer
  job.cache.max_positions = 4096;
  lowering_context ctx(hw);
  CHECK_THROWS_WITH(
      lower_transformer_layer(ctx, load_model_config("qwen3-8b", zoo), job, {0, 1, 2, 3}),
      Catch::Contains("SRAM does not fit") && Catch::Contains("over by") && Catch::Contains("x 65536.0 KiB"));
  job.batch = {{0, 16}};
  CHECK_THROWS_WITH(lower_transformer_layer(ctx, load_model_config("qwen3-30b-a3b", zoo), job, {0}),
                    Catch::Contains("MoE layers need a static token->expert assignment"));
  CHECK_THROWS_WITH(lower_transformer_layer(ctx, tiny_model("llama"), job, {0, 1, 2}),
                    Catch::Contains("group size must divide num_key_value_heads (2)"));
  job.batch = {{4090, 16}};
  CHECK_THROWS_WITH(lower_transformer_layer(ctx, tiny_model("llama"), job, {0}),
                    Catch::Contains("sequence 0 needs 4106 cache positions, the cache has 4096"));
}
