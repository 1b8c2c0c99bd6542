#include "kernels/placement/policies.h"

namespace npuvp::kernels {

group_map mesh_block::place(int groups, int group_size, int width, int height) const {
  const auto [bw, bh] = choose_block(groups, group_size, width, height, false);
  group_map map(groups);
  for (int g = 0; g < groups; ++g) {
    const core_xy o = block_origin(g, bw, bh, width);
    for (int r = 0; r < group_size; ++r) map[g].push_back({o.x + r % bw, o.y + r / bw});
  }
  return map;
}

}  // namespace npuvp::kernels
