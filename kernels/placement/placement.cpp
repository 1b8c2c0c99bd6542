#include "kernels/placement/placement.h"

#include <cstdlib>
#include <set>

#include "kernels/placement/policies.h"
#include "platform/base/error.h"

namespace npuvp::kernels {

const std::vector<std::string>& placement_names() {
  static const std::vector<std::string> names = {"linear_sequential", "linear_interleaved", "mesh_block", "ring_block",
                                                 "explicit"};
  return names;
}

std::unique_ptr<placement_policy> make_placement(const std::string& name, const std::string& map_file) {
  if (name == "linear_sequential") return std::make_unique<linear_sequential>();
  if (name == "linear_interleaved") return std::make_unique<linear_interleaved>();
  if (name == "mesh_block") return std::make_unique<mesh_block>();
  if (name == "ring_block") return std::make_unique<ring_block>();
  if (name == "explicit") {
    if (map_file.empty()) throw error("placement 'explicit' needs a map file");
    return std::make_unique<explicit_map>(map_file);
  }
  std::string known;
  for (const auto& n : placement_names()) known += " " + n;
  throw error("unknown placement policy '" + name + "' (known:" + known + ")");
}

std::vector<int> core_ids(const std::vector<core_xy>& cores, int width) {
  std::vector<int> ids;
  for (const auto& c : cores) ids.push_back(core_id(c, width));
  return ids;
}

void check_group_map(const group_map& map, int groups, int group_size, int width, int height,
                     const std::string& origin) {
  if (static_cast<int>(map.size()) != groups)
    throw error(origin + ": " + std::to_string(map.size()) + " groups, expected " + std::to_string(groups));
  std::set<std::pair<int, int>> used;
  for (size_t g = 0; g < map.size(); ++g) {
    if (static_cast<int>(map[g].size()) != group_size)
      throw error(origin + ": group " + std::to_string(g) + " has " + std::to_string(map[g].size()) +
                  " cores, expected " + std::to_string(group_size));
    for (const auto& c : map[g]) {
      const std::string at = "[" + std::to_string(c.x) + ", " + std::to_string(c.y) + "]";
      if (c.x < 0 || c.y < 0 || c.x >= width || c.y >= height)
        throw error(origin + ": group " + std::to_string(g) + ": core " + at + " lies outside the " +
                    std::to_string(width) + "x" + std::to_string(height) + " mesh");
      if (!used.insert({c.x, c.y}).second)
        throw error(origin + ": group " + std::to_string(g) + ": core " + at + " is used twice");
    }
  }
}

std::pair<int, int> choose_block(int groups, int group_size, int width, int height, bool even_side) {
  std::pair<int, int> best{0, 0};
  int best_score = -1;
  for (int bh = 1; bh <= group_size; ++bh) {
    if (group_size % bh) continue;
    const int bw = group_size / bh;
    if (bw > width || bh > height || (width / bw) * (height / bh) < groups) continue;
    // Squarer blocks have shorter internal paths; an even side allows a ring.
    const int squareness = -std::abs(bw - bh);
    const bool cycle = bw >= 2 && bh >= 2 && (bw % 2 == 0 || bh % 2 == 0);
    const int score = (even_side && cycle ? 10000 : 0) + 100 + squareness * 2 + (bw >= bh ? 1 : 0);
    if (score > best_score) {
      best_score = score;
      best = {bw, bh};
    }
  }
  if (best_score < 0)
    throw error("cannot tile " + std::to_string(groups) + " blocks of " + std::to_string(group_size) + " cores on a " +
                std::to_string(width) + "x" + std::to_string(height) + " mesh");
  return best;
}

core_xy block_origin(int g, int bw, int bh, int width) {
  const int per_row = width / bw;
  return {(g % per_row) * bw, (g / per_row) * bh};
}

}  // namespace npuvp::kernels
