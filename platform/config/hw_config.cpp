#include "platform/config/hw_config.h"

#include "platform/base/file_io.h"

namespace npuvp {

namespace config {

YAML::Node parse_yaml(const std::string& text, const std::string& origin) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw config_error(origin, e.mark.is_null() ? 0 : e.mark.line + 1, "", "malformed YAML: " + e.msg);
  }
}

YAML::Node load_yaml_file(const std::string& path) { return parse_yaml(read_file(path), path); }

}  // namespace config

hw_config parse_hw_config(const std::string& yaml_text, const std::string& origin) {
  return config::read<hw_config>(config::parse_yaml(yaml_text, origin), origin);
}

hw_config load_hw_config(const std::string& path) { return parse_hw_config(read_file(path), path); }

}  // namespace npuvp
