// Host implementation of one decoder layer (textbook order, double accumulation),
// shared by the layer and step tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "kernels/transformer_layer.h"

namespace npuvp::kernels::test {

using matrix = std::vector<float>;

inline matrix matmul(const matrix& a, const matrix& b, size_t m, size_t k, size_t n) {
  matrix c(m * n);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      double acc = 0;
      for (size_t p = 0; p < k; ++p) acc += double(a[i * k + p]) * b[p * n + j];
      c[i * n + j] = float(acc);
    }
  return c;
}

inline void rmsnorm(float* x, size_t cols, const float* w, double eps) {
  double ss = 0;
  for (size_t e = 0; e < cols; ++e) ss += double(x[e]) * x[e];
  const double inv = 1.0 / std::sqrt(ss / cols + eps);
  for (size_t e = 0; e < cols; ++e) x[e] = float(x[e] * inv * w[e]);
}

inline void rope(float* x, size_t hd, double pos, double theta) {
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

// Seeded uniform test data in [offset - 0.5, offset + 0.5).
class random_values {
 public:
  explicit random_values(uint32_t seed) : m_rng(seed) {}
  matrix operator()(size_t count, float offset = 0) {
    matrix v(count);
    for (auto& e : v) e = m_dist(m_rng) + offset;
    return v;
  }

 private:
  std::mt19937 m_rng;
  std::uniform_real_distribution<float> m_dist{-0.5f, 0.5f};
};

// A layer's data drawn in member order: x [tokens x h], norm weights around 1, the
// projection and MLP weights, then K and V caches of cache_elems each (0: empty).
inline layer_data random_layer(random_values& random, const model_config& m, size_t tokens, size_t cache_elems) {
  const size_t h = m.hidden_size, hd = m.head_dim, H = m.num_attention_heads, KV = m.num_key_value_heads,
               I = m.intermediate_size;
  layer_data L;
  L.x = random(tokens * h);
  L.in_norm = random(h, 1);
  L.wq = random(h * H * hd);
  L.wk = random(h * KV * hd);
  L.wv = random(h * KV * hd);
  L.q_norm = random(hd, 1);
  L.k_norm = random(hd, 1);
  L.wo = random(H * hd * h);
  L.post_norm = random(h, 1);
  L.wg = random(h * I);
  L.wu = random(h * I);
  L.wd = random(I * h);
  L.kcache = random(cache_elems);
  L.vcache = random(cache_elems);
  return L;
}

// Worst |got - want| over the elements; a NaN (an element never written) sticks.
inline double worst_error(const matrix& got, const matrix& want) {
  if (got.size() != want.size()) return NAN;
  double worst = 0;
  for (size_t e = 0; e < got.size(); ++e) {
    const double err = std::abs(double(got[e]) - want[e]);
    if (!(err <= worst)) worst = err;
  }
  return worst;
}

// The layer on the host, in the textbook order. Updates the caches like the device does.
// Rounds to bf16 and back when `on`: what the device's matmul operands hold.
inline matrix narrowed(matrix v, bool on) {
  if (on)
    for (auto& e : v) e = from_bf16(to_bf16(e));
  return v;
}

// The values as stored with element type t (the weights the device multiplies).
inline matrix stored(matrix v, dtype t) {
  for (auto& e : v) e = stored_value(e, t);
  return v;
}

// `mlp` (optional) replaces the dense SwiGLU MLP: normed x2 (bf16-rounded with bf16) -> MLP output.
inline matrix reference_layer(const model_config& m, layer_data& L, const std::vector<sequence>& batch,
                              uint32_t max_pos, bool bf16, const std::function<matrix(const matrix&)>& mlp = nullptr) {
  const size_t h = m.hidden_size, hd = m.head_dim, H = m.num_attention_heads, KV = m.num_key_value_heads,
               I = m.intermediate_size;
  size_t T = 0;
  for (const auto& s : batch) T += s.new_tokens;
  matrix xn = L.x;
  for (size_t t = 0; t < T; ++t) rmsnorm(&xn[t * h], h, L.in_norm.data(), m.rms_norm_eps);
  xn = narrowed(xn, bf16);
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
  matrix x2 = matmul(narrowed(att, bf16), L.wo, T, H * hd, h);
  for (size_t e = 0; e < x2.size(); ++e) x2[e] += L.x[e];
  matrix xn2 = x2;
  for (size_t t = 0; t < T; ++t) rmsnorm(&xn2[t * h], h, L.post_norm.data(), m.rms_norm_eps);
  xn2 = narrowed(xn2, bf16);
  matrix out;
  if (mlp) {
    out = mlp(xn2);
  } else {
    matrix gate = matmul(xn2, L.wg, T, h, I), up = matmul(xn2, L.wu, T, h, I);
    for (size_t e = 0; e < gate.size(); ++e) gate[e] = float(gate[e] / (1 + std::exp(-double(gate[e]))) * up[e]);
    out = matmul(narrowed(gate, bf16), L.wd, T, I, h);
  }
  for (size_t e = 0; e < out.size(); ++e) out[e] += x2[e];
  return out;
}

}  // namespace npuvp::kernels::test
