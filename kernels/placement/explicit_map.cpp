#include <yaml-cpp/yaml.h>

#include "kernels/placement/policies.h"
#include "platform/base/error.h"
#include "platform/base/file_io.h"

namespace npuvp::kernels {

group_map explicit_map::place(int groups, int group_size, int width, int height) const {
  const std::string text = read_file(m_file);
  group_map map;
  try {
    const YAML::Node root = YAML::Load(text);
    const YAML::Node list = root["groups"];
    if (!list || !list.IsSequence()) throw error(m_file + ": expected a key 'groups' holding a list of groups");
    for (const auto& group : list) {
      if (!group.IsSequence())
        throw error(m_file + ":" + std::to_string(group.Mark().line + 1) + ": a group is a list of [x, y]");
      map.emplace_back();
      for (const auto& xy : group) {
        if (!xy.IsSequence() || xy.size() != 2)
          throw error(m_file + ":" + std::to_string(xy.Mark().line + 1) + ": a core is [x, y]");
        map.back().push_back({xy[0].as<int>(), xy[1].as<int>()});
      }
    }
  } catch (const YAML::Exception& e) {
    throw error(m_file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  check_group_map(map, groups, group_size, width, height, m_file);
  return map;
}

}  // namespace npuvp::kernels
