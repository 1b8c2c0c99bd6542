// The placement policies (one .cpp each). Use make_placement() to pick by name.
#pragma once

#include <string>

#include "kernels/placement/placement.h"

namespace npuvp::kernels {

// Rank r of group g on core g*n + r in row-major order.
class linear_sequential : public placement_policy {
 public:
  const char* name() const override { return "linear_sequential"; }
  group_map place(int groups, int group_size, int width, int height) const override;
};

// Rank r of group g on core r*G + g in row-major order: groups interleave.
class linear_interleaved : public placement_policy {
 public:
  const char* name() const override { return "linear_interleaved"; }
  group_map place(int groups, int group_size, int width, int height) const override;
};

// Each group on a bw x bh block, ranks row-major inside the block.
class mesh_block : public placement_policy {
 public:
  const char* name() const override { return "mesh_block"; }
  group_map place(int groups, int group_size, int width, int height) const override;
};

// Each group on a block, ranks along a Hamiltonian cycle of the block so ring
// neighbours (including last -> first) are one hop apart.
class ring_block : public placement_policy {
 public:
  const char* name() const override { return "ring_block"; }
  group_map place(int groups, int group_size, int width, int height) const override;
};

// Reads the map from a YAML file: `groups: [[[x, y], ...], ...]`.
class explicit_map : public placement_policy {
 public:
  explicit explicit_map(std::string file) : m_file(std::move(file)) {}
  const char* name() const override { return "explicit"; }
  group_map place(int groups, int group_size, int width, int height) const override;

 private:
  std::string m_file;
};

}  // namespace npuvp::kernels
