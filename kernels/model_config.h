// A transformer LLM described by its Hugging Face config.json fields
// (scenarios/models/*.json, or any config.json path). docs/models.md lists the
// zoo and the formulas used here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/command.h"

namespace npuvp::kernels {

struct parameter_counts {
  int64_t embedding = 0;  // vocab x hidden input embedding
  int64_t lm_head = 0;    // 0 when tied to the embedding
  int64_t attention = 0;  // q, k, v, o projections (+ biases, + q/k norms), all layers
  int64_t mlp = 0;        // dense SwiGLU MLPs (gate, up, down), all layers
  int64_t experts = 0;    // MoE experts, all layers
  int64_t router = 0;     // MoE router (gate) matrices, all layers
  int64_t norms = 0;      // RMSNorm weights (2 per layer + final)
  int64_t total() const { return embedding + lm_head + attention + mlp + experts + router + norms; }
};

struct model_config {
  std::string name;    // file stem, e.g. "qwen3-8b"
  std::string origin;  // the file it came from
  std::string model_type;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 0;
  double rope_theta = 0;
  bool tie_word_embeddings = false;
  bool attention_bias = false;
  std::string torch_dtype;
  // Mixture of experts (num_experts == 0: dense).
  int64_t num_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t moe_intermediate_size = 0;
  int64_t decoder_sparse_step = 1;
  std::vector<int64_t> mlp_only_layers;
  bool norm_topk_prob = false;

  bool is_moe() const { return num_experts > 0; }
  // Qwen3 normalises q and k per head (q_norm, k_norm of head_dim each).
  bool has_qk_norm() const { return model_type == "qwen3" || model_type == "qwen3_moe"; }
  bool layer_is_moe(int64_t layer) const;

  parameter_counts parameters() const;
  // Parameters one token touches (MoE: num_experts_per_tok experts per layer).
  int64_t active_parameters() const;
  // All weights stored in `weights` (bf16: 2 B, fp8/int8: 1 B per parameter; norms too).
  uint64_t weight_bytes(dtype weights) const;
  // K and V of every layer for one token.
  uint64_t kv_bytes_per_token(dtype kv) const;
};

// Reads a config.json; `name_or_path` is a path, or the name of a file in
// `zoo_dir` (e.g. "qwen3-8b" -> zoo_dir/qwen3-8b.json). Throws npuvp::error
// naming the file and the key for a missing, mistyped or inconsistent field.
model_config load_model_config(const std::string& name_or_path, const std::string& zoo_dir = "scenarios/models");
model_config parse_model_config(const std::string& json_text, const std::string& origin);

}  // namespace npuvp::kernels
