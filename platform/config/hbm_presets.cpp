// HBM presets. PRELIMINARY values, to be checked against JESD235/JESD238 and
// the public DRAMSys / Ramulator 2 presets (see docs/hbm.md).
#include "platform/base/error.h"
#include "platform/config/hbm_config.h"

namespace npuvp {

hbm_preset_values hbm_preset(const std::string& name) {
  hbm_preset_values p{};
  if (name == "hbm2") {
    p.org = {2, 64, 4, 4, 4, 16384, 1024};
    p.timing.tck_ns = 1.0;
    p.channels_per_stack = 8;
  } else if (name == "hbm2e") {
    p.org = {2, 64, 4, 4, 4, 32768, 1024};
    p.timing.tck_ns = 0.625;
    p.channels_per_stack = 8;
  } else if (name == "hbm3") {
    p.org = {2, 32, 8, 4, 4, 32768, 1024};
    p.timing.tck_ns = 0.625;
    p.channels_per_stack = 16;
  } else {
    throw error("unknown HBM preset '" + name + "' (hbm2|hbm2e|hbm3)");
  }
  return p;
}

}  // namespace npuvp
