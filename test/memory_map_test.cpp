#include "platform/memory_map.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <random>

#include "platform/base/error.h"

using namespace npuvp;
using coords = std::vector<std::array<int, 2>>;

static std::string preset(const char* name) { return std::string(NPUVP_SOURCE_DIR) + "/scenarios/hw/" + name; }

static std::string decode_error(const memory_map& m, uint64_t addr, uint64_t len) {
  try {
    m.decode(addr, len);
  } catch (const error& e) {
    return e.what();
  }
  return "";
}

TEST_CASE("memory map: HBM interleaving by hand and round trips", "[memory_map]") {
  const hw_config hw = load_hw_config(preset("npu_4x4.yaml"));
  const memory_map m(hw);
  REQUIRE(m.hbm_channels() == 8);
  REQUIRE(m.interleave_bytes() == 256);
  const uint64_t base = m.hbm_base();
  CHECK(m.hbm_channel_bytes() == hw.hbm.org.capacity_bytes());
  CHECK(m.hbm_bytes() == 8 * hw.hbm.org.capacity_bytes());

  auto at = [&](uint64_t off) { return m.decode(base + off, 1); };
  CHECK(at(0).kind == mem_target::hbm);
  CHECK(at(0).index == 0);
  CHECK(at(0).local == 0);
  CHECK(at(255).index == 0);
  CHECK(at(255).local == 255);
  CHECK(at(256).index == 1);
  CHECK(at(256).local == 0);
  CHECK(at(7 * 256 + 10).index == 7);
  CHECK(at(8 * 256).index == 0);
  CHECK(at(8 * 256).local == 256);
  CHECK(at(9 * 256 + 5).index == 1);
  CHECK(at(9 * 256 + 5).local == 261);
  CHECK(m.hbm_global(1, 261) == base + 9 * 256 + 5);
  CHECK(m.decode(base + 256, 256).index == 1);  // a whole block

  std::mt19937_64 rng(11);
  for (int i = 0; i < 10000; ++i) {
    const uint64_t a = base + rng() % m.hbm_bytes();
    const mem_location l = m.decode(a, 1);
    CHECK(l.local < m.hbm_channel_bytes());
    CHECK(m.global(l) == a);
    CHECK(m.target_index(l) == l.index);
  }
  const uint64_t last = base + m.hbm_bytes() - 1;
  CHECK(m.decode(last, 1).index == 7);
  CHECK(m.decode(last, 1).local == m.hbm_channel_bytes() - 1);
}

TEST_CASE("memory map: SRAM windows by core index", "[memory_map]") {
  const hw_config hw = load_hw_config(preset("npu_4x4.yaml"));
  const memory_map m(hw);
  CHECK(m.cores() == 16);
  CHECK(m.core_index(1, 2) == 9);
  CHECK(m.core_router(9) == std::array<int, 2>{1, 2});
  CHECK(m.sram_bytes() == 32768ull * 1024);
  const uint64_t b = uint64_t(1) << 40, s = uint64_t(1) << 30;
  const mem_location l = m.decode(b + 9 * s + 100, 64);
  CHECK(l.kind == mem_target::sram);
  CHECK(l.index == 9);
  CHECK(l.local == 100);
  CHECK(m.target_index(l) == 8 + 9);
  CHECK(m.target_count() == 24);
  CHECK(m.sram_global(9, 100) == b + 9 * s + 100);
  CHECK(m.decode(b + 15 * s + m.sram_bytes() - 1, 1).index == 15);
}

TEST_CASE("memory map: unmapped and straddling accesses throw naming the address", "[memory_map]") {
  const hw_config hw = load_hw_config(preset("npu_4x4.yaml"));
  const memory_map m(hw);
  const uint64_t sram0 = uint64_t(1) << 40;
  // just past HBM
  std::string e = decode_error(m, m.hbm_bytes(), 1);
  CHECK(e.find("not mapped") != std::string::npos);
  char hex[32];
  std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(m.hbm_bytes()));
  CHECK(e.find(hex) != std::string::npos);
  // across two channels
  e = decode_error(m, 200, 100);
  CHECK(e.find("straddles") != std::string::npos);
  CHECK(e.find("0xc8") != std::string::npos);
  // gap between core 0's SRAM and core 1's window
  e = decode_error(m, sram0 + m.sram_bytes(), 4);
  CHECK(e.find("not mapped") != std::string::npos);
  // runs off the end of core 0's SRAM
  e = decode_error(m, sram0 + m.sram_bytes() - 8, 16);
  CHECK(e.find("past the end") != std::string::npos);
  // beyond the last core
  CHECK(decode_error(m, sram0 + 16 * (uint64_t(1) << 30), 1).find("not mapped") != std::string::npos);
  CHECK_THROWS_AS(m.hbm_global(8, 0), error);
  CHECK_THROWS_AS(m.sram_global(0, m.sram_bytes()), error);
}

TEST_CASE("memory map: overlapping regions are rejected", "[memory_map]") {
  hw_config hw = load_hw_config(preset("npu_4x4.yaml"));
  hw.memory_map.sram_base = 1 << 20;  // inside HBM
  CHECK_THROWS_WITH(memory_map(hw), Catch::Contains("overlaps"));
  hw = load_hw_config(preset("npu_4x4.yaml"));
  hw.memory_map.sram_stride = 1 << 20;  // smaller than 32 MiB SRAM
  CHECK_THROWS_WITH(memory_map(hw), Catch::Contains("sram_stride"));
}

TEST_CASE("hbm placement: 4x4 preset puts 8 channels on the west and east columns", "[memory_map]") {
  const hw_config hw = load_hw_config(preset("npu_4x4.yaml"));
  CHECK(hbm_channel_routers(hw) == coords{{0, 0}, {0, 1}, {0, 2}, {0, 3}, {3, 0}, {3, 1}, {3, 2}, {3, 3}});
}

TEST_CASE("hbm placement: 8x8 preset spreads 32 channels over the 28 perimeter routers", "[memory_map]") {
  const hw_config hw = load_hw_config(preset("npu_8x8.yaml"));
  const coords r = hbm_channel_routers(hw);
  REQUIRE(r.size() == 32);
  // Ring index of channel i is floor((2i + 1) * 28 / 64): ring routers 3, 10,
  // 17 and 24 get two channels, all others one.
  std::map<std::array<int, 2>, int> per_router;
  for (const auto& c : r) {
    ++per_router[c];
    CHECK((c[0] == 0 || c[0] == 7 || c[1] == 0 || c[1] == 7));
  }
  CHECK(per_router.size() == 28);
  CHECK(per_router[{3, 0}] == 2);  // ring 3: north row
  CHECK(per_router[{7, 3}] == 2);  // ring 10: east column
  CHECK(per_router[{4, 7}] == 2);  // ring 17: south row, east to west
  CHECK(per_router[{0, 4}] == 2);  // ring 24: west column, south to north
  CHECK(r[0] == std::array<int, 2>{0, 0});
  CHECK(r[3] == std::array<int, 2>{3, 0});
  CHECK(r[4] == std::array<int, 2>{3, 0});
  CHECK(r[9] == std::array<int, 2>{7, 1});
  CHECK(r[31] == std::array<int, 2>{0, 1});
}

TEST_CASE("hbm placement: fewer and more channels than routers, explicit routers win", "[memory_map]") {
  hw_config hw = load_hw_config(preset("npu_4x4.yaml"));
  hw.hbm.channels = 2;  // 8 routers: floor((2i + 1) * 8 / 4) = 2, 6
  CHECK(hbm_channel_routers(hw) == coords{{0, 2}, {3, 2}});
  hw.hbm.channels = 8;
  hw.hbm.placement = "west";  // 4 routers, two channels each
  CHECK(hbm_channel_routers(hw) == coords{{0, 0}, {0, 0}, {0, 1}, {0, 1}, {0, 2}, {0, 2}, {0, 3}, {0, 3}});
  hw.hbm.channels = 4;
  hw.hbm.placement = "north_south";  // 8 routers: 1, 3, 5, 7
  CHECK(hbm_channel_routers(hw) == coords{{1, 0}, {3, 0}, {1, 3}, {3, 3}});
  hw.hbm.placement = "east";
  CHECK(hbm_channel_routers(hw) == coords{{3, 0}, {3, 1}, {3, 2}, {3, 3}});
  hw.hbm.routers = {{1, 1}, {2, 2}, {1, 2}, {2, 1}};
  CHECK(hbm_channel_routers(hw) == hw.hbm.routers);
  hw.hbm.routers.clear();
  hw.mesh.width = 1;  // west == east: the column is listed once
  hw.hbm.placement = "west_east";
  CHECK(hbm_channel_routers(hw) == coords{{0, 0}, {0, 1}, {0, 2}, {0, 3}});
}
