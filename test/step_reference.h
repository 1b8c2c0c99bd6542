// Seeded data of a functional run of a lowered step (every layer's weights, each
// replica's input and KV caches) and the host's expected results, shared by the
// reference-executor step tests and the chip tests: the device is reached only
// through a store function, so the same data goes to either.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/step_lowering.h"
#include "test/kernels_layer_reference.h"

namespace npuvp::kernels::test {

// Stores `values` as `type` at `addr` of `space` (core: whose SRAM; unused for HBM).
using store_fn = std::function<void(mem_space space, int core, uint64_t addr, const matrix& values, dtype type)>;

struct moe_data {
  matrix router, gate, up, down;  // [h x E], [E][h x mI], [E][h x mI], [E][mI x h]
};

struct replica_data {
  matrix x;                  // [T x h] input
  std::vector<matrix> k, v;  // [simulated layer] caches, [seq][KV][max_positions][hd], past positions filled
};

struct step_data {
  std::vector<layer_data> layers;  // [simulated layer] weights (rounded to the weight type)
  std::vector<moe_data> experts;   // [simulated layer] (MoE models)
  std::vector<replica_data> replicas;
};

// Draws the step's data from sim.seed and stores it: weights (rounded to weights_dtype) in HBM (and, resident, each
// rank's slices in SRAM), inputs and caches where the step keeps them.
inline step_data write_step_data(const scenario& s, const lowered_step& step, const store_fn& store) {
  const model_config& m = s.model_cfg;
  const bool moe = m.is_moe();
  const size_t h = m.hidden_size, hd = m.head_dim, KV = m.num_key_value_heads, E = m.num_experts,
               mI = m.moe_intermediate_size;
  const size_t tp = s.parallelism.tp, kvr = KV / tp, pp = step.stage_layers.size();
  random_values random(static_cast<uint32_t>(s.sim.seed));
  step_data data;
  for (size_t l = 0; l < step.layers.size(); ++l) {
    layer_data L = random_layer(random, m, 0, 0);
    const auto& w = step.weights[l];
    for (auto* mat : {&L.wq, &L.wk, &L.wv, &L.wo, &L.wg, &L.wu, &L.wd}) *mat = stored(*mat, s.weights);
    const std::pair<uint64_t, const matrix*> norms[] = {
        {w.input_norm, &L.in_norm}, {w.q_norm, &L.q_norm}, {w.k_norm, &L.k_norm}, {w.post_norm, &L.post_norm}};
    for (const auto& [at, values] : norms) store(mem_space::hbm, 0, at, *values, dtype::fp32);
    const std::pair<uint64_t, const matrix*> matrices[] = {{w.q, &L.wq},    {w.k, &L.wk},  {w.v, &L.wv},   {w.o, &L.wo},
                                                           {w.gate, &L.wg}, {w.up, &L.wu}, {w.down, &L.wd}};
    // The rows of rank r's block of weight w (resident_block), row-major or (tiled) in tiled_index order.
    auto block_of = [&](int which, size_t r, bool tiled) {
      const weight_block b = resident_block(m, s.parallelism.partition, static_cast<int>(tp), static_cast<int>(r),
                                            layer_weight(which));
      const size_t ld = weight_shape(m, layer_weight(which)).second;
      const uint64_t tile = tiled_width(s.parallelism.partition, layer_weight(which), b, s.step.weight_tile);
      matrix block(b.rows * b.cols);
      for (uint64_t i = 0; i < b.rows; ++i)
        for (uint64_t j = 0; j < b.cols; ++j)
          block[tiled ? tiled_index(b, i, j, tile) : i * b.cols + j] =
              (*matrices[which].second)[(b.row0 + i * b.row_step) * ld + b.col0 + j];
      return block;
    };
    const bool tiled = step.resident_weights.empty() && s.residency.weight_layout == "tiled";
    const int dense = moe ? 4 : layer_weight_count;  // MoE layers: q, k, v, o (the experts stay row-major)
    for (int i = 0; i < dense; ++i)
      if (tiled)
        for (size_t r = 0; r < tp; ++r)
          store(mem_space::hbm, 0,
                matrices[i].first + tiled_block_offset(m, s.parallelism.partition, static_cast<int>(tp),
                                                       static_cast<int>(r), layer_weight(i), s.weights),
                block_of(i, r, true), s.weights);
      else
        store(mem_space::hbm, 0, matrices[i].first, *matrices[i].second, s.weights);
    if (moe) {
      moe_data X{stored(random(h * E), s.weights), stored(random(E * h * mI), s.weights),
                 stored(random(E * h * mI), s.weights), stored(random(E * mI * h), s.weights)};
      store(mem_space::hbm, 0, w.router, X.router, s.weights);
      store(mem_space::hbm, 0, w.experts_gate, X.gate, s.weights);
      store(mem_space::hbm, 0, w.experts_up, X.up, s.weights);
      store(mem_space::hbm, 0, w.experts_down, X.down, s.weights);
      data.experts.push_back(X);
    }
    if (!step.resident_weights.empty()) {
      const resident_slices sl = resident_layout(m, s.parallelism.partition, static_cast<int>(tp), s.weights);
      for (size_t st = 0; st < pp; ++st) {
        if (int(l) < step.stage_layers[st].first || int(l) >= step.stage_layers[st].second) continue;
        for (size_t d = 0; d < step.batches.size(); ++d)
          for (size_t r = 0; r < tp; ++r)
            for (int which = 0; which < layer_weight_count; ++which)
              store(mem_space::sram, step.groups[d * pp + st][r], step.resident_weights[l] + sl.offset[which],
                    block_of(which, r, false), s.weights);
      }
    }
    data.layers.push_back(L);
  }
  // Per replica: input activations and the caches of every layer (past positions filled).
  for (size_t d = 0; d < step.batches.size(); ++d) {
    const auto& batch = step.batches[d];
    size_t T = 0;
    for (const auto& q : batch) T += q.new_tokens;
    replica_data R{random(T * h), {}, {}};
    store(mem_space::hbm, 0, step.x_in[d], R.x, dtype::fp32);
    for (size_t l = 0; l < step.layers.size(); ++l) {
      const auto& c = step.kv[d][l];
      R.k.push_back(random(batch.size() * KV * c.max_positions * hd));
      R.v.push_back(random(batch.size() * KV * c.max_positions * hd));
      if (c.space == mem_space::hbm) {
        store(mem_space::hbm, 0, c.k, R.k.back(), dtype::fp32);
        store(mem_space::hbm, 0, c.v, R.v.back(), dtype::fp32);
      } else {  // rank r holds its KV heads: [seq][kvr][pos][hd]
        size_t st = 0;
        while (int(l) >= step.stage_layers[st].second) ++st;
        for (size_t r = 0; r < tp; ++r)
          for (size_t q = 0; q < batch.size(); ++q)
            for (size_t j = 0; j < kvr; ++j) {
              const size_t n = size_t(c.max_positions) * hd, from = (q * KV + r * kvr + j) * n,
                           to = (q * kvr + j) * n * 4;
              const int core = step.groups[d * pp + st][r];
              store(mem_space::sram, core, c.k + to, matrix(&R.k.back()[from], &R.k.back()[from + n]), dtype::fp32);
              store(mem_space::sram, core, c.v + to, matrix(&R.v.back()[from], &R.v.back()[from + n]), dtype::fp32);
            }
      }
    }
    data.replicas.push_back(R);
  }
  return data;
}

// What a replica's step should leave: its output rows and the last layer's K cache.
struct replica_expected {
  matrix x;       // [T x h] at x_out
  matrix k_last;  // the last simulated layer's K cache (after RoPE)
};

// The host layers applied layer by layer to each replica (MoE: each token's statically routed
// experts, weighted by the softmax of its router logits over them).
inline std::vector<replica_expected> expected_step(const scenario& s, const lowered_step& step, const step_data& data) {
  const model_config& m = s.model_cfg;
  const bool bf16 = s.weights != dtype::fp32;  // the activation operands are rounded to bf16
  const size_t h = m.hidden_size, E = m.num_experts, mI = m.moe_intermediate_size;
  std::vector<replica_expected> out;
  for (size_t d = 0; d < step.batches.size(); ++d) {
    const auto& R = data.replicas[d];
    matrix x = R.x, k_last;
    for (size_t l = 0; l < step.layers.size(); ++l) {
      layer_data L = data.layers[l];
      L.x = x;
      L.kcache = R.k[l];
      L.vcache = R.v[l];
      auto moe_mlp = [&](const matrix& xn2) {
        const auto& X = data.experts[l];
        const size_t T = xn2.size() / h;
        matrix y(T * h, 0.0f);
        const matrix logits = matmul(xn2, X.router, T, h, E);
        for (size_t t = 0; t < T; ++t) {
          const auto& chosen = step.routing[d][l][t];
          double mx = -1e300, sum = 0;
          for (uint32_t e : chosen) mx = std::max(mx, double(logits[t * E + e]));
          for (uint32_t e : chosen) sum += std::exp(logits[t * E + e] - mx);
          const matrix row(&xn2[t * h], &xn2[(t + 1) * h]);
          for (uint32_t e : chosen) {
            const double weight = std::exp(logits[t * E + e] - mx) / sum;
            const matrix wg(&X.gate[e * h * mI], &X.gate[(e + 1) * h * mI]),
                wu(&X.up[e * h * mI], &X.up[(e + 1) * h * mI]), wd(&X.down[e * mI * h], &X.down[(e + 1) * mI * h]);
            matrix g = matmul(row, wg, 1, h, mI);
            const matrix u = matmul(row, wu, 1, h, mI);
            for (size_t i = 0; i < mI; ++i) g[i] = float(g[i] / (1 + std::exp(-double(g[i]))) * u[i]);
            const matrix e_out = matmul(narrowed(g, bf16), wd, 1, mI, h);
            for (size_t i = 0; i < h; ++i) y[t * h + i] += float(weight * e_out[i]);
          }
        }
        return y;
      };
      x = reference_layer(m, L, step.batches[d], step.kv[d][l].max_positions, bf16,
                          m.is_moe() ? std::function<matrix(const matrix&)>(moe_mlp) : nullptr);
      k_last = L.kcache;
    }
    out.push_back({x, k_last});
  }
  return out;
}

}  // namespace npuvp::kernels::test
