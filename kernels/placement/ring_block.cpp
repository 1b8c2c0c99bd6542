#include <utility>

#include "kernels/placement/policies.h"

namespace npuvp::kernels {

namespace {

// A cycle through every cell of a w x h block (h even, w >= 2): along row 0,
// snake back through columns 1..w-1 of rows 1..h-1, then up column 0. With an
// odd cell count no cycle exists; a boustrophedon path is returned instead.
std::vector<core_xy> block_cycle(int w, int h) {
  std::vector<core_xy> path;
  if (w >= 2 && h >= 2 && h % 2 == 0) {
    for (int x = 0; x < w; ++x) path.push_back({x, 0});
    for (int y = 1; y < h; ++y)
      for (int i = 0; i < w - 1; ++i) path.push_back({y % 2 ? w - 1 - i : 1 + i, y});
    for (int y = h - 1; y >= 1; --y) path.push_back({0, y});
    return path;
  }
  if (w >= 2 && h >= 2 && w % 2 == 0) {
    for (auto c : block_cycle(h, w)) path.push_back({c.y, c.x});
    return path;
  }
  for (int y = 0; y < h; ++y)
    for (int i = 0; i < w; ++i) path.push_back({y % 2 ? w - 1 - i : i, y});
  return path;
}

}  // namespace

group_map ring_block::place(int groups, int group_size, int width, int height) const {
  const auto [bw, bh] = choose_block(groups, group_size, width, height, true);
  const auto cycle = block_cycle(bw, bh);
  group_map map(groups);
  for (int g = 0; g < groups; ++g) {
    const core_xy o = block_origin(g, bw, bh, width);
    for (const auto& c : cycle) map[g].push_back({o.x + c.x, o.y + c.y});
  }
  return map;
}

}  // namespace npuvp::kernels
