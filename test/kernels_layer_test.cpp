// One decoder layer lowered over a TP group and run on the reference executor,
// against a plain host implementation of the same layer.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "kernels/reference_executor.h"
#include "kernels/transformer_layer.h"
#include "platform/base/error.h"

using namespace npuvp;
using namespace npuvp::kernels;

namespace {

using matrix = std::vector<float>;

model_config tiny_model(const std::string& type) {
  return parse_model_config(R"({"model_type": ")" + type + R"(", "hidden_size": 64, "intermediate_size": 96,
    "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
    "vocab_size": 10, "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000})",
                            type + "/config.json");
}

matrix matmul(const matrix& a, const matrix& b, size_t m, size_t k, size_t n) {
  matrix c(m * n);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      double acc = 0;
      for (size_t p = 0; p < k; ++p) acc += double(a[i * k + p]) * b[p * n + j];
      c[i * n + j] = float(acc);
    }
  return c;
}

void rmsnorm(float* x, size_t cols, const float* w, double eps) {
  double ss = 0;
  for (size_t e = 0; e < cols; ++e) ss += double(x[e]) * x[e];
  const double inv = 1.0 / std::sqrt(ss / cols + eps);
  for (size_t e = 0; e < cols; ++e) x[e] = float(x[e] * inv * w[e]);
}

void rope(float* x, size_t hd, double pos, double theta) {
  for (size_t i = 0; i < hd / 2; ++i) {
    const double a = pos * std::pow(theta, -2.0 * i / hd);
    const double x0 = x[i], x1 = x[i + hd / 2];
    x[i] = float(x0 * std::cos(a) - x1 * std::sin(a));
    x[i + hd / 2] = float(x1 * std::cos(a) + x0 * std::sin(a));
  }
}

struct layer_data {
  matrix x, in_norm, wq, wk, wv, q_norm, k_norm, wo, post_norm, wg, wu, wd, kcache, vcache;
};

// The layer on the host, in the textbook order. Updates the caches like the device does.
matrix reference_layer(const model_config& m, layer_data& L, const std::vector<sequence>& batch, uint32_t max_pos) {
  const size_t h = m.hidden_size, hd = m.head_dim, H = m.num_attention_heads, KV = m.num_key_value_heads,
               I = m.intermediate_size;
  size_t T = 0;
  for (const auto& s : batch) T += s.new_tokens;
  matrix xn = L.x;
  for (size_t t = 0; t < T; ++t) rmsnorm(&xn[t * h], h, L.in_norm.data(), m.rms_norm_eps);
  matrix q = matmul(xn, L.wq, T, h, H * hd), k = matmul(xn, L.wk, T, h, KV * hd), v = matmul(xn, L.wv, T, h, KV * hd);
  matrix att(T * H * hd);
  size_t t0 = 0;
  for (size_t s = 0; s < batch.size(); ++s) {
    for (size_t i = 0; i < batch[s].new_tokens; ++i) {
      const size_t t = t0 + i, pos = batch[s].past + i;
      for (size_t hq = 0; hq < H; ++hq) {
        if (m.has_qk_norm()) rmsnorm(&q[(t * H + hq) * hd], hd, L.q_norm.data(), m.rms_norm_eps);
        rope(&q[(t * H + hq) * hd], hd, double(pos), m.rope_theta);
      }
      for (size_t g = 0; g < KV; ++g) {
        if (m.has_qk_norm()) rmsnorm(&k[(t * KV + g) * hd], hd, L.k_norm.data(), m.rms_norm_eps);
        rope(&k[(t * KV + g) * hd], hd, double(pos), m.rope_theta);
        for (size_t e = 0; e < hd; ++e) {
          L.kcache[((s * KV + g) * max_pos + pos) * hd + e] = k[(t * KV + g) * hd + e];
          L.vcache[((s * KV + g) * max_pos + pos) * hd + e] = v[(t * KV + g) * hd + e];
        }
      }
    }
    for (size_t i = 0; i < batch[s].new_tokens; ++i) {
      const size_t t = t0 + i, pos = batch[s].past + i;
      for (size_t hq = 0; hq < H; ++hq) {
        const size_t g = hq / (H / KV);
        std::vector<double> p(pos + 1);
        double mx = -1e300, sum = 0;
        for (size_t key = 0; key <= pos; ++key) {
          double dot = 0;
          for (size_t e = 0; e < hd; ++e)
            dot += double(q[(t * H + hq) * hd + e]) * L.kcache[((s * KV + g) * max_pos + key) * hd + e];
          p[key] = dot / std::sqrt(double(hd));
          mx = std::max(mx, p[key]);
        }
        for (auto& e : p) sum += (e = std::exp(e - mx));
        for (size_t e = 0; e < hd; ++e) {
          double acc = 0;
          for (size_t key = 0; key <= pos; ++key) acc += p[key] * L.vcache[((s * KV + g) * max_pos + key) * hd + e];
          att[(t * H + hq) * hd + e] = float(acc / sum);
        }
      }
    }
    t0 += batch[s].new_tokens;
  }
  matrix x2 = matmul(att, L.wo, T, H * hd, h);
  for (size_t e = 0; e < x2.size(); ++e) x2[e] += L.x[e];
  matrix xn2 = x2;
  for (size_t t = 0; t < T; ++t) rmsnorm(&xn2[t * h], h, L.post_norm.data(), m.rms_norm_eps);
  matrix gate = matmul(xn2, L.wg, T, h, I), up = matmul(xn2, L.wu, T, h, I);
  for (size_t e = 0; e < gate.size(); ++e) gate[e] = float(gate[e] / (1 + std::exp(-double(gate[e]))) * up[e]);
  matrix out = matmul(gate, L.wd, T, I, h);
  for (size_t e = 0; e < out.size(); ++e) out[e] += x2[e];
  return out;
}

void check_layer(const std::string& type, const std::vector<int>& group, executor_options::order order) {
  INFO(type << " on " << group.size() << " cores"
            << (order == executor_options::order::random ? ", random order" : ""));
  const model_config m = tiny_model(type);
  const size_t h = 64, hd = 16, H = 4, KV = 2, I = 96;
  const uint32_t max_pos = 32;
  const std::vector<sequence> batch = {{5, 1}, {0, 7}, {20, 3}};  // decode, prefill, chunked prefill
  const size_t T = 11;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-0.5f, 0.5f);
  auto random = [&](size_t count, float offset = 0) {
    matrix v(count);
    for (auto& e : v) e = dist(rng) + offset;
    return v;
  };
  layer_data L{random(T * h),
               random(h, 1),
               random(h * H * hd),
               random(h * KV * hd),
               random(h * KV * hd),
               random(hd, 1),
               random(hd, 1),
               random(H * hd * h),
               random(h, 1),
               random(h * I),
               random(h * I),
               random(I * h),
               random(batch.size() * KV * max_pos * hd),
               random(batch.size() * KV * max_pos * hd)};
  hw_config hw;
  hw.core.sram.capacity_kib = 1024;
  layer_job job;
  uint64_t top = 0;
  reference_executor ex(16, hw.core.sram.capacity_bytes(), 4 << 20);
  auto place = [&](const matrix& data) {
    const uint64_t at = top;
    ex.write_floats(mem_space::hbm, 0, at, data);
    top += (data.size() * 4 + 63) / 64 * 64;
    return at;
  };
  job.x_in = place(L.x);
  job.weights = {place(L.in_norm), place(L.wq),        place(L.wk), place(L.wv), place(L.q_norm), place(L.k_norm),
                 place(L.wo),      place(L.post_norm), place(L.wg), place(L.wu), place(L.wd)};
  job.cache = {place(L.kcache), place(L.vcache), max_pos};
  job.x_out = place(matrix(T * h, NAN));
  job.batch = batch;
  job.kv_tile = 8;  // several tiles per sequence, masked ones included
  lowering_context ctx(hw);
  lower_transformer_layer(ctx, m, job, group);
  ex.run(ctx.finish(), {order, 5});
  const matrix expected = reference_layer(m, L, batch, max_pos);
  const matrix got = ex.read_floats(mem_space::hbm, 0, job.x_out, T * h);
  double worst = 0;
  for (size_t e = 0; e < got.size(); ++e) {
    const double err = std::abs(double(got[e]) - expected[e]);
    if (!(err <= worst)) worst = err;
  }
  CHECK(worst < 2e-4);
  // The new keys and values landed in the cache (K after RoPE).
  const matrix kc = ex.read_floats(mem_space::hbm, 0, job.cache.k, L.kcache.size());
  const matrix vc = ex.read_floats(mem_space::hbm, 0, job.cache.v, L.vcache.size());
  double cache_err = 0;
  for (size_t e = 0; e < kc.size(); ++e)
    cache_err = std::max({cache_err, std::abs(double(kc[e]) - L.kcache[e]), std::abs(double(vc[e]) - L.vcache[e])});
  CHECK(cache_err < 1e-5);
}

}  // namespace

TEST_CASE("a decoder layer lowered over 1 and 2 cores matches the host reference", "[kernels][layer]") {
  for (const auto& type : {"qwen3", "llama"}) {
    check_layer(type, {5}, executor_options::order::round_robin);
    check_layer(type, {1, 2}, executor_options::order::round_robin);
    check_layer(type, {9, 10}, executor_options::order::random);
  }
}

TEST_CASE("layer lowering rejects what it cannot do, saying why", "[kernels][layer]") {
  const std::string zoo = std::string(NPUVP_SOURCE_DIR) + "/scenarios/models";
  hw_config hw;  // 32 MiB SRAM per core
  layer_job job;
  job.batch = {{0, 16}};
  job.cache.max_positions = 4096;
  lowering_context ctx(hw);
  // Qwen3-8B's fp32 layer slice on 4 cores needs far more than 32 MiB.
  CHECK_THROWS_WITH(
      lower_transformer_layer(ctx, load_model_config("qwen3-8b", zoo), job, {0, 1, 2, 3}),
      Catch::Contains("SRAM does not fit") && Catch::Contains("over by") && Catch::Contains("Wq slice 16384.0 KiB"));
  CHECK_THROWS_WITH(lower_transformer_layer(ctx, load_model_config("qwen3-30b-a3b", zoo), job, {0}),
                    Catch::Contains("MoE layers are not lowered yet"));
  CHECK_THROWS_WITH(lower_transformer_layer(ctx, tiny_model("llama"), job, {0, 1, 2}),
                    Catch::Contains("group size must divide num_key_value_heads (2)"));
  job.batch = {{4090, 16}};
  CHECK_THROWS_WITH(lower_transformer_layer(ctx, tiny_model("llama"), job, {0}),
                    Catch::Contains("sequence 0 needs 4106 cache positions, the cache has 4096"));
}
