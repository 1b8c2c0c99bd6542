// Routing policies of the mesh routers: an interface plus one file per policy,
// chosen by `noc.routing` in the hardware YAML.
//
// Only deterministic dimension-order policies are offered: on a mesh they have
// no cyclic channel dependencies and are therefore deadlock-free without any
// virtual-channel restriction (Dally & Towles, "Principles and Practices of
// Interconnection Networks", 2004, sec. 14.2, and Dally & Seitz 1987). Do not
// add a policy that allows both XY and YX turns without a VC discipline.
#pragma once

#include <memory>
#include <string>

namespace npuvp {

// Mesh output directions; local ports follow (noc_router numbers them 4, 5, ...).
// Row 0 is the north edge, column 0 the west edge.
enum noc_direction : int { dir_north = 0, dir_east = 1, dir_south = 2, dir_west = 3, mesh_directions = 4 };

class routing_policy {
 public:
  virtual ~routing_policy() = default;
  // Output direction (dir_*) from router (x, y) towards router (dx, dy), or -1
  // when the packet has arrived and leaves through a local port.
  virtual int route(int x, int y, int dx, int dy) const = 0;
  virtual const char* name() const = 0;
};

std::unique_ptr<routing_policy> make_xy_routing();
std::unique_ptr<routing_policy> make_yx_routing();

// The policy named by `noc.routing` ("xy" or "yx"); throws npuvp::error otherwise.
std::unique_ptr<routing_policy> make_routing(const std::string& name);

}  // namespace npuvp
