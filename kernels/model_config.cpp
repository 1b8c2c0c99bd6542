#include "kernels/model_config.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "platform/base/error.h"
#include "platform/base/file_io.h"

namespace npuvp::kernels {

namespace {

using json = nlohmann::json;

struct reader {
  const json& j;
  const std::string& origin;
  error fail(const std::string& key, const std::string& what) const {
    return error(origin + ": key '" + key + "': " + what);
  }
  bool has(const std::string& key) const { return j.contains(key) && !j.at(key).is_null(); }
  int64_t integer(const std::string& key, int64_t min) const {
    if (!has(key)) throw fail(key, "missing");
    const json& v = j.at(key);
    if (!v.is_number_integer()) throw fail(key, "expected an integer, got " + v.dump());
    const int64_t x = v.get<int64_t>();
    if (x < min) throw fail(key, "must be >= " + std::to_string(min) + ", got " + std::to_string(x));
    return x;
  }
  int64_t integer_or(const std::string& key, int64_t min, int64_t fallback) const {
    return has(key) ? integer(key, min) : fallback;
  }
  double number(const std::string& key) const {
    if (!has(key)) throw fail(key, "missing");
    const json& v = j.at(key);
    if (!v.is_number()) throw fail(key, "expected a number, got " + v.dump());
    const double x = v.get<double>();
    if (!(x > 0)) throw fail(key, "must be > 0, got " + v.dump());
    return x;
  }
  bool boolean_or(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j.at(key).is_boolean()) throw fail(key, "expected true or false, got " + j.at(key).dump());
    return j.at(key).get<bool>();
  }
  std::string text_or(const std::string& key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!j.at(key).is_string()) throw fail(key, "expected a string, got " + j.at(key).dump());
    return j.at(key).get<std::string>();
  }
};

std::string stem(const std::string& path) {
  const auto slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base == "config.json" && slash != std::string::npos) {  // .../Qwen3-8B/config.json -> Qwen3-8B
    const std::string dir = path.substr(0, slash);
    return stem(dir);
  }
  const auto dot = base.rfind(".json");
  return dot == std::string::npos ? base : base.substr(0, dot);
}

}  // namespace

model_config parse_model_config(const std::string& json_text, const std::string& origin) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw error(origin + ": malformed JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  }
  if (!j.is_object()) throw error(origin + ": expected a JSON object (a Hugging Face config.json)");
  const reader r{j, origin};
  model_config m;
  m.origin = origin;
  m.name = stem(origin);
  m.model_type = r.text_or("model_type", "");
  m.hidden_size = r.integer("hidden_size", 1);
  m.intermediate_size = r.integer("intermediate_size", 1);
  m.num_hidden_layers = r.integer("num_hidden_layers", 1);
  m.num_attention_heads = r.integer("num_attention_heads", 1);
  m.num_key_value_heads = r.integer_or("num_key_value_heads", 1, m.num_attention_heads);
  if (!r.has("head_dim") && m.hidden_size % m.num_attention_heads != 0)
    throw r.fail("head_dim", "missing, and hidden_size is not a multiple of num_attention_heads");
  m.head_dim = r.integer_or("head_dim", 1, m.hidden_size / m.num_attention_heads);
  m.vocab_size = r.integer("vocab_size", 1);
  m.max_position_embeddings = r.integer("max_position_embeddings", 1);
  m.rms_norm_eps = r.number("rms_norm_eps");
  m.rope_theta = r.number("rope_theta");
  m.tie_word_embeddings = r.boolean_or("tie_word_embeddings", false);
  m.attention_bias = r.boolean_or("attention_bias", false);
  m.torch_dtype = r.text_or("torch_dtype", "bfloat16");
  if (m.num_attention_heads % m.num_key_value_heads != 0)
    throw r.fail("num_key_value_heads", std::to_string(m.num_key_value_heads) +
                                            " does not divide num_attention_heads (" +
                                            std::to_string(m.num_attention_heads) + ")");
  if (r.has("num_experts") && r.integer("num_experts", 0) > 0) {
    m.num_experts = r.integer("num_experts", 1);
    m.num_experts_per_tok = r.integer("num_experts_per_tok", 1);
    m.moe_intermediate_size = r.integer("moe_intermediate_size", 1);
    m.decoder_sparse_step = r.integer_or("decoder_sparse_step", 1, 1);
    m.norm_topk_prob = r.boolean_or("norm_topk_prob", false);
    if (m.num_experts_per_tok > m.num_experts)
      throw r.fail("num_experts_per_tok", std::to_string(m.num_experts_per_tok) + " exceeds num_experts (" +
                                              std::to_string(m.num_experts) + ")");
    if (r.has("mlp_only_layers")) {
      const json& list = j.at("mlp_only_layers");
      if (!list.is_array()) throw r.fail("mlp_only_layers", "expected a list of layer indices");
      for (const auto& v : list) {
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= m.num_hidden_layers)
          throw r.fail("mlp_only_layers", "entry " + v.dump() + " is not a layer index");
        m.mlp_only_layers.push_back(v.get<int64_t>());
      }
    }
  }
  return m;
}

model_config load_model_config(const std::string& name_or_path, const std::string& zoo_dir) {
  std::string path = name_or_path;
  if (!std::ifstream(path)) {
    const std::string in_zoo = zoo_dir + "/" + name_or_path + ".json";
    if (!std::ifstream(in_zoo)) throw error("model '" + name_or_path + "': no such file, and no " + in_zoo);
    path = in_zoo;
  }
  return parse_model_config(read_file(path), path);
}

bool model_config::layer_is_moe(int64_t layer) const {
  if (!is_moe()) return false;
  for (int64_t l : mlp_only_layers)
    if (l == layer) return false;
  // Hugging Face Qwen-MoE rule: sparse when (layer + 1) % decoder_sparse_step == 0.
  return (layer + 1) % decoder_sparse_step == 0;
}

parameter_counts model_config::parameters() const {
  parameter_counts p;
  const int64_t h = hidden_size, q = num_attention_heads * head_dim, kv = num_key_value_heads * head_dim;
  p.embedding = vocab_size * h;
  p.lm_head = tie_word_embeddings ? 0 : vocab_size * h;
  int64_t attention = h * q + 2 * h * kv + q * h;
  if (attention_bias) attention += q + 2 * kv;
  if (has_qk_norm()) attention += 2 * head_dim;
  for (int64_t l = 0; l < num_hidden_layers; ++l) {
    p.attention += attention;
    p.norms += 2 * h;
    if (layer_is_moe(l)) {
      p.router += h * num_experts;
      p.experts += num_experts * 3 * h * moe_intermediate_size;
    } else {
      p.mlp += 3 * h * intermediate_size;
    }
  }
  p.norms += h;  // final norm
  return p;
}

int64_t model_config::active_parameters() const {
  const parameter_counts p = parameters();
  if (!is_moe()) return p.total();
  return p.total() - p.experts + p.experts / num_experts * num_experts_per_tok;
}

uint64_t model_config::weight_bytes(dtype weights) const {
  return static_cast<uint64_t>(parameters().total()) * static_cast<uint64_t>(dtype_bytes(weights));
}

uint64_t model_config::kv_bytes_per_token(dtype kv) const {
  return static_cast<uint64_t>(2 * num_hidden_layers * num_key_value_heads * head_dim) *
         static_cast<uint64_t>(dtype_bytes(kv));
}

}  // namespace npuvp::kernels
