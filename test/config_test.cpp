#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

#include "platform/base/error.h"
#include "platform/config/hw_config.h"

using namespace npuvp;

static std::string preset(const char* name) { return std::string(NPUVP_SOURCE_DIR) + "/scenarios/hw/" + name; }

TEST_CASE("shipped hardware presets parse and validate", "[config]") {
  const hw_config a = load_hw_config(preset("npu_4x4.yaml"));
  CHECK(a.mesh.width == 4);
  CHECK(a.hbm.preset == "hbm2e");
  CHECK(a.hbm.peak_gbps() == Approx(51.2));
  const hw_config b = load_hw_config(preset("npu_8x8.yaml"));
  CHECK(b.mesh.width == 8);
  CHECK(b.hbm.channels == 32);
  CHECK(b.hbm.peak_gbps() == Approx(51.2));
}

static config_error parse_error(const std::string& text) {
  try {
    parse_hw_config(text, "chip.yaml");
  } catch (const config_error& e) {
    return e;
  }
  FAIL("no error for:\n" << text);
  throw std::logic_error("unreachable");
}

TEST_CASE("unknown key names file, line and path", "[config]") {
  const auto e = parse_error("name: x\nmesh:\n  width: 4\n  hieght: 4\n");
  CHECK(e.file() == "chip.yaml");
  CHECK(e.line() == 4);
  CHECK(e.path() == "mesh.hieght");
  CHECK(std::string(e.what()).find("unknown key") != std::string::npos);
}

TEST_CASE("wrong type and out-of-range values are rejected with their line", "[config]") {
  auto e = parse_error("mesh:\n  width: four\n");
  CHECK(e.line() == 2);
  CHECK(e.path() == "mesh.width");
  CHECK(std::string(e.what()).find("expected an integer") != std::string::npos);
  e = parse_error("noc:\n  vcs: 0\n");
  CHECK(e.path() == "noc.vcs");
  CHECK(std::string(e.what()).find("out of range") != std::string::npos);
  e = parse_error("hbm:\n  preset: hbm9\n");
  CHECK(e.path() == "hbm.preset");
  e = parse_error("functional: maybe\n");
  CHECK(e.path() == "functional");
  e = parse_error("core:\n  sram: 12\n");
  CHECK(e.path() == "core.sram");
}

TEST_CASE("cross-field rules point at the offending key", "[config]") {
  auto e = parse_error("mesh: {width: 2, height: 2}\nhbm:\n  channels: 2\n  routers: [[0, 0], [5, 1]]\n");
  CHECK(e.path() == "hbm");
  CHECK(std::string(e.what()).find("[5, 1]") != std::string::npos);
  e = parse_error("hbm:\n  channels: 3\n  routers: [[0, 0]]\n");
  CHECK(e.path() == "hbm.routers");
  CHECK(e.line() == 3);
  e = parse_error("hbm:\n  interleave_bytes: 300\n");
  CHECK(e.path() == "hbm.interleave_bytes");
}

TEST_CASE("malformed YAML and missing files are errors", "[config]") {
  const auto e = parse_error("mesh: {width: 4\nhbm: [\n");
  CHECK(e.line() > 0);
  CHECK(std::string(e.what()).find("malformed YAML") != std::string::npos);
  CHECK_THROWS_AS(load_hw_config("/nonexistent/chip.yaml"), npuvp::error);
}

TEST_CASE("preset timing is overridable key by key", "[config]") {
  const hw_config hw = parse_hw_config("hbm:\n  preset: hbm2\n  timing:\n    tRCD: 20\n", "x.yaml");
  const auto p = hbm_preset("hbm2");
  CHECK(hw.hbm.timing.tRCD == 20);
  CHECK(hw.hbm.timing.tRP == p.timing.tRP);
  CHECK(hw.hbm.timing.tck_ns == p.timing.tck_ns);
}

TEST_CASE("describe lists every key that the parser accepts", "[config]") {
  const auto rows = config::describe<hw_config>();
  // Every described leaf key can be written back and parsed: build a YAML
  // document from the effective-config dump and parse it.
  const auto dumped = config::to_json(hw_config{});
  YAML::Node root = YAML::Load(dumped.dump());
  CHECK_NOTHROW(config::read<hw_config>(root, "dump.yaml"));
  bool saw_trfc = false, saw_vcs = false;
  for (const auto& r : rows) {
    saw_trfc |= r.key == "hbm.timing.tRFC" && r.unit == "tCK";
    saw_vcs |= r.key == "noc.vcs";
    CHECK_FALSE(r.doc.empty());
  }
  CHECK(saw_trfc);
  CHECK(saw_vcs);
}
