// YX dimension-order routing: correct Y first, then X. The mirror image of XY,
// deadlock-free on a mesh for the same reason (Dally & Towles 2004, sec. 14.2).
#include "models/noc/routing/routing_policy.h"

namespace npuvp {

namespace {

class yx_routing : public routing_policy {
 public:
  int route(int x, int y, int dx, int dy) const override {
    if (dy > y) return dir_south;
    if (dy < y) return dir_north;
    if (dx > x) return dir_east;
    if (dx < x) return dir_west;
    return -1;
  }
  const char* name() const override { return "yx"; }
};

}  // namespace

std::unique_ptr<routing_policy> make_yx_routing() { return std::make_unique<yx_routing>(); }

}  // namespace npuvp
