#include "kernels/placement/policies.h"
#include "platform/base/error.h"

namespace npuvp::kernels {

group_map linear_interleaved::place(int groups, int group_size, int width, int height) const {
  if (groups * group_size > width * height)
    throw error("linear_interleaved: " + std::to_string(groups * group_size) + " ranks exceed " +
                std::to_string(width * height) + " cores");
  group_map map(groups);
  for (int g = 0; g < groups; ++g)
    for (int r = 0; r < group_size; ++r) {
      const int i = r * groups + g;
      map[g].push_back({i % width, i / width});
    }
  return map;
}

}  // namespace npuvp::kernels
