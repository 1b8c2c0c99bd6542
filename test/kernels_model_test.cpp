// Model zoo: every shipped config.json loads, and parameter counts match the
// figures published with each model (hand-computed exact values for some).
#include <catch2/catch.hpp>

#include "kernels/model_config.h"
#include "platform/base/error.h"

using namespace npuvp;
using namespace npuvp::kernels;

static const std::string zoo = std::string(NPUVP_SOURCE_DIR) + "/scenarios/models";

TEST_CASE("every zoo model loads with parameter counts near the published ones", "[kernels][models]") {
  // Billions of parameters from the Hugging Face model cards.
  const std::vector<std::pair<std::string, double>> published = {
      {"qwen3-0.6b", 0.6},    {"qwen3-1.7b", 1.7},    {"qwen3-4b", 4.0},       {"qwen3-8b", 8.2},
      {"qwen3-14b", 14.8},    {"qwen3-32b", 32.8},    {"qwen3-30b-a3b", 30.5}, {"llama-3.2-1b", 1.24},
      {"llama-3.2-3b", 3.21}, {"llama-3.1-8b", 8.03}, {"llama-3.1-70b", 70.6}};
  for (const auto& [name, billions] : published) {
    INFO(name);
    const model_config m = load_model_config(name, zoo);
    CHECK(m.name == name);
    CHECK(m.parameters().total() / 1e9 == Approx(billions).epsilon(0.03));
  }
}

TEST_CASE("parameter counts, weight bytes and KV bytes by hand", "[kernels][models]") {
  const model_config q8 = load_model_config(zoo + "/qwen3-8b.json");
  // Per layer: q,o 2*4096*4096 + k,v 2*4096*1024 + q/k norm 256 + MLP 3*4096*12288 + 2 norms 8192.
  CHECK(q8.parameters().total() == 36LL * 192946432 + 2LL * 151936 * 4096 + 4096);  // 8 190 735 360
  CHECK(q8.weight_bytes(dtype::bf16) == 2ULL * 8190735360ULL);
  CHECK(q8.weight_bytes(dtype::fp8) == 8190735360ULL);
  CHECK(q8.kv_bytes_per_token(dtype::bf16) == 2ULL * 36 * 8 * 128 * 2);  // 144 KiB
  const model_config l8 = load_model_config("llama-3.1-8b", zoo);
  CHECK(l8.head_dim == 128);  // derived: the file has no head_dim
  CHECK(l8.parameters().total() == 8030261248LL);
  CHECK(l8.kv_bytes_per_token(dtype::bf16) == 131072);
  const model_config l1 = load_model_config("llama-3.2-1b", zoo);
  CHECK(l1.parameters().lm_head == 0);  // tied
  CHECK(l1.parameters().total() == 1235814400LL);
  const model_config moe = load_model_config("qwen3-30b-a3b", zoo);
  CHECK(moe.is_moe());
  CHECK(moe.layer_is_moe(0));
  CHECK(moe.parameters().experts == 48LL * 128 * 3 * 2048 * 768);
  CHECK(moe.parameters().mlp == 0);
  CHECK(moe.parameters().total() == 30532122624LL);
  CHECK(moe.active_parameters() == 3353032704LL);  // "3.3B activated"
}

TEST_CASE("bad config.json files are rejected naming the file and key", "[kernels][models]") {
  const std::string ok = R"({"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "max_position_embeddings": 512,
    "rms_norm_eps": 1e-6, "rope_theta": 10000})";
  const model_config m = parse_model_config(ok, "tiny/config.json");
  CHECK(m.name == "tiny");
  CHECK(m.head_dim == 16);
  auto error_of = [](const std::string& text) {
    try {
      parse_model_config(text, "m.json");
    } catch (const error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = ok;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  CHECK(error_of(with("\"hidden_size\": 64,", "")) == "m.json: key 'hidden_size': missing");
  CHECK(error_of(with("\"hidden_size\": 64", "\"hidden_size\": \"64\"")) ==
        "m.json: key 'hidden_size': expected an integer, got \"64\"");
  CHECK(error_of(with("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3")) ==
        "m.json: key 'num_key_value_heads': 3 does not divide num_attention_heads (4)");
  CHECK(error_of(with("\"rope_theta\": 10000", "\"rope_theta\": 0")) == "m.json: key 'rope_theta': must be > 0, got 0");
  CHECK(error_of(with("\"vocab_size\": 100",
                      "\"vocab_size\": 100, \"num_experts\": 4, \"num_experts_per_tok\": 8, "
                      "\"moe_intermediate_size\": 32")) ==
        "m.json: key 'num_experts_per_tok': 8 exceeds num_experts (4)");
  CHECK(error_of("{\"hidden_size\": ").find("m.json: malformed JSON") == 0);
  CHECK_THROWS_WITH(load_model_config("qwen9-1t", zoo),
                    Catch::Contains("no such file, and no") && Catch::Contains("qwen9-1t.json"));
}
