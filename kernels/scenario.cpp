#include "kernels/scenario.h"

#include "platform/base/error.h"
#include "platform/base/file_io.h"

namespace npuvp::kernels {

namespace {

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

std::string relative_to(const std::string& dir, const std::string& path) {
  return path.empty() || path[0] == '/' ? path : dir + path;
}

}  // namespace

scenario parse_scenario(const std::string& yaml_text, const std::string& origin, const std::string& zoo_dir) {
  const YAML::Node root = config::parse_yaml(yaml_text, origin);
  scenario s = config::read<scenario>(root, origin);
  s.origin = origin;
  const std::string dir = directory_of(origin);
  const auto line = [](const YAML::Node& n) { return n.Mark().is_null() ? 0 : n.Mark().line + 1; };
  if (!s.hw_node) throw config_error(origin, 0, "hw", "missing: a hardware YAML path or an inline mapping");
  if (s.hw_node.IsScalar()) {
    s.hw = load_hw_config(relative_to(dir, s.hw_node.Scalar()));
  } else if (s.hw_node.IsMap()) {
    s.hw = config::read<hw_config>(s.hw_node, origin, "hw");
  } else {
    throw config_error(origin, line(s.hw_node), "hw", "expected a path or a mapping");
  }
  // A model name without a slash or .json is a zoo entry; anything else a path next to the scenario.
  const bool is_path = s.model.find('/') != std::string::npos || s.model.find(".json") != std::string::npos;
  s.model_cfg = load_model_config(is_path ? relative_to(dir, s.model) : s.model, zoo_dir);
  if (!s.parallelism.placement_file.empty())
    s.parallelism.placement_file = relative_to(dir, s.parallelism.placement_file);
  static const std::pair<const char*, dtype> types[] = {
      {"fp32", dtype::fp32}, {"bf16", dtype::bf16}, {"fp8", dtype::fp8}, {"int8", dtype::int8}};
  for (const auto& [name, t] : types)
    if (s.weights_dtype == name) s.weights = t;
  check_scenario(s, origin);
  return s;
}

void check_scenario(const scenario& s, const std::string& origin) {
  const auto& p = s.parallelism;
  const int64_t cores = int64_t(s.hw.mesh.width) * s.hw.mesh.height;
  if (p.tp * p.pp * p.dp > cores)
    throw config_error(
        origin, 0, "parallelism",
        "tp x pp x dp = " + std::to_string(p.tp * p.pp * p.dp) + " cores, the mesh has " + std::to_string(cores));
  const int64_t layers = s.step.layers ? s.step.layers : s.model_cfg.num_hidden_layers;
  if (layers > s.model_cfg.num_hidden_layers)
    throw config_error(origin, 0, "step.layers",
                       std::to_string(layers) + " layers, " + s.model_cfg.name + " has " +
                           std::to_string(s.model_cfg.num_hidden_layers));
  if (p.pp > layers)
    throw config_error(origin, 0, "parallelism.pp",
                       std::to_string(p.pp) + " stages for " + std::to_string(layers) + " layers");
  if (s.step.prefill.empty() && s.step.decode.batch == 0)
    throw config_error(origin, 0, "step", "no work: give prefill sequences or a decode batch");
}

scenario load_scenario(const std::string& path, const std::string& zoo_dir) {
  return parse_scenario(read_file(path), path, zoo_dir);
}

}  // namespace npuvp::kernels
