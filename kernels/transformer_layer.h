// Lowering of one dense decoder layer (Llama / Qwen3 style) for a batch of
// sequences over a tensor-parallel group: RMSNorm, QKV projections (column
// parallel by heads), Qwen3 q/k norm, RoPE, KV-cache append, FlashAttention-
// style tiled attention with online softmax (GQA, causal), o_proj (row
// parallel) + ring all-reduce + residual, RMSNorm, SwiGLU MLP (gate/up column
// parallel, down row parallel) + all-reduce + residual. docs/lowering.md.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/lowering_context.h"
#include "kernels/model_config.h"

namespace npuvp::kernels {

// HBM addresses of one layer's fp32 weights. Matrices are [in x out] row-major
// (the transpose of torch's nn.Linear.weight); norms are vectors.
struct layer_weights {
  uint64_t input_norm = 0;          // [h]
  uint64_t q = 0, k = 0, v = 0;     // [h x H*hd], [h x KV*hd], [h x KV*hd]
  uint64_t q_norm = 0, k_norm = 0;  // [hd], Qwen3 only
  uint64_t o = 0;                   // [H*hd x h]
  uint64_t post_norm = 0;           // [h]
  uint64_t gate = 0, up = 0;        // [h x I]
  uint64_t down = 0;                // [I x h]
};

// The layer's KV cache in HBM: K and V each [sequence][kv head][max_positions][hd]
// fp32, K stored after RoPE.
struct kv_cache_layout {
  uint64_t k = 0, v = 0;
  uint32_t max_positions = 0;
};

struct sequence {
  uint32_t past = 0;        // tokens already in the cache
  uint32_t new_tokens = 1;  // tokens of this step (1: decode; more: (chunked) prefill)
};

struct layer_job {
  layer_weights weights;
  kv_cache_layout cache;
  std::vector<sequence> batch;
  uint64_t x_in = 0, x_out = 0;  // [T x h] fp32, T = sum of new_tokens, rows in batch order
  uint32_t kv_tile = 128;        // keys per attention tile (<= core.matrix.rows and cols)
};

// Appends the layer to the programs of `group` (rank order). Needs the group
// size to divide num_key_value_heads. Throws npuvp::error for MoE layers, a
// cache too small, or buffers that do not fit SRAM (saying by how much).
void lower_transformer_layer(lowering_context& ctx, const model_config& model, const layer_job& job,
                             const std::vector<int>& group);

}  // namespace npuvp::kernels
