// XY dimension-order routing: correct X first, then Y (Dally & Towles 2004,
// sec. 14.2). Never turns from Y back to X, so no channel-dependency cycle.
#include "models/noc/routing/routing_policy.h"

#include "platform/base/error.h"

namespace npuvp {

namespace {

class xy_routing : public routing_policy {
 public:
  int route(int x, int y, int dx, int dy) const override {
    if (dx > x) return dir_east;
    if (dx < x) return dir_west;
    if (dy > y) return dir_south;
    if (dy < y) return dir_north;
    return -1;
  }
  const char* name() const override { return "xy"; }
};

}  // namespace

std::unique_ptr<routing_policy> make_xy_routing() { return std::make_unique<xy_routing>(); }

std::unique_ptr<routing_policy> make_routing(const std::string& name) {
  if (name == "xy") return make_xy_routing();
  if (name == "yx") return make_yx_routing();
  throw error("unknown NoC routing policy '" + name + "' (expected xy or yx)");
}

}  // namespace npuvp
