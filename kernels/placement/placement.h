// Placement policies: which physical core [x, y] of the W x H mesh runs rank r
// of parallel group g (G groups of n ranks). docs/lowering.md describes each.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace npuvp::kernels {

struct core_xy {
  int x = 0;
  int y = 0;
  bool operator==(const core_xy& o) const { return x == o.x && y == o.y; }
};

// [group][rank] -> core.
using group_map = std::vector<std::vector<core_xy>>;

class placement_policy {
 public:
  virtual ~placement_policy() = default;
  virtual const char* name() const = 0;
  // Throws npuvp::error when G x n ranks cannot be placed on the mesh.
  virtual group_map place(int groups, int group_size, int width, int height) const = 0;
};

// linear_sequential, linear_interleaved, mesh_block, ring_block; `explicit`
// reads `map_file` (YAML, see docs/lowering.md).
std::unique_ptr<placement_policy> make_placement(const std::string& name, const std::string& map_file = "");
const std::vector<std::string>& placement_names();

// Row-major core id: y * width + x.
inline int core_id(const core_xy& c, int width) { return c.y * width + c.x; }
std::vector<int> core_ids(const std::vector<core_xy>& cores, int width);

// Checks shape, bounds and that no core is used twice; throws npuvp::error naming `origin`.
void check_group_map(const group_map& map, int groups, int group_size, int width, int height,
                     const std::string& origin);

// Shared by the block policies: the bw x bh block shape (bw * bh = n) for G
// blocks tiled on the mesh, preferring square blocks (and, with `even_side`,
// blocks that have a Hamiltonian cycle). Returns {bw, bh}; throws if none fits.
std::pair<int, int> choose_block(int groups, int group_size, int width, int height, bool even_side);
// Top-left corner of block g when blocks are tiled row-major.
core_xy block_origin(int g, int bw, int bh, int width);

}  // namespace npuvp::kernels
