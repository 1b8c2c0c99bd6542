#include <iostream>

#include "kernels/encoding.h"
#include "kernels/mem_access.h"
#include "perfmodel/calibration.h"
#include "perfmodel/perfmodel.h"
#include "platform/base/file_io.h"
#include "platform/base/stopwatch.h"
#include "platform/cli/command.h"
#include "platform/config/hw_config.h"

namespace npuvp::cli {

int perf(const std::vector<std::string>& args) {
  po::options_description desc("perf options");
  std::string hw_file, calibration, json_file;
  std::vector<std::string> streams;
  desc.add_options()("hw", po::value(&hw_file)->required(), "hardware YAML file")(
      "streams", po::value(&streams)->multitoken()->required(),
      "stream files (npuvp lower ... --out DIR: DIR/core_*.bin); each names its core, the others stay idle")(
      "calibration", po::value(&calibration),
      "perfmodel calibration YAML (docs/perfmodel.md); without it, first-principles parameters and a warning")(
      "json", po::value(&json_file), "write the full result (breakdowns, utilisation, critical path) as JSON")(
      "no-repeat", po::bool_switch(),
      "simulate every segment between barriers, also those that repeat the one before (docs/perfmodel.md)");
  po::positional_options_description pos;
  pos.add("streams", -1);
  po::variables_map vm;
  if (!parse("npuvp perf --hw FILE [--calibration FILE] [--json FILE] [--no-repeat] STREAM_FILE...", desc, args, vm,
             &pos))
    return 0;
  const hw_config hw = load_hw_config(hw_file);
  check_writable(json_file);
  std::string warning;
  const perf::perf_params params = perf::load_perf_params(hw, calibration, warning);
  if (!warning.empty()) std::cerr << "npuvp: warning: " << warning << "\n";
  const int cores = hw.mesh.width * hw.mesh.height;
  std::vector<kernels::program> programs(static_cast<size_t>(cores), kernels::program{kernels::end_cmd{}});
  std::vector<bool> seen(static_cast<size_t>(cores), false);
  for (const auto& file : streams) {
    const std::string bytes = read_file(file);
    auto s = kernels::decode_stream(std::vector<uint8_t>(bytes.begin(), bytes.end()), file);
    if (s.core_id >= cores)
      throw error(file + ": core " + std::to_string(s.core_id) + " is outside the " + std::to_string(cores) +
                  "-core mesh of " + hw_file);
    if (seen[s.core_id]) throw error(file + ": a second stream for core " + std::to_string(s.core_id));
    // A stream lowered for a larger chip, or an address written by hand: the TLM chip would stop at it.
    const std::string beyond = kernels::range_error(s.commands, hw.core.sram.capacity_bytes(), hw.hbm.capacity_bytes());
    if (!beyond.empty()) throw error(file + ": " + beyond + " (" + hw_file + ")");
    seen[s.core_id] = true;
    programs[s.core_id] = std::move(s.commands);
  }
  const stopwatch clock;
  perf::evaluate_options options;
  options.repeat_segments = !vm["no-repeat"].as<bool>();
  const perf::perf_result r = perf::evaluate(hw, programs, params, options);
  const double wall = clock.seconds();
  std::cout << streams.size() << " streams, " << r.commands << " commands, " << r.events << " events, "
            << r.repeated_segments << " repeated segments, evaluated in " << wall * 1e3 << " ms\n"
            << perf::summary(r);
  if (!json_file.empty()) {
    nlohmann::json j = perf::to_json(r);
    j["hw"] = hw.name;
    j["calibration"] = calibration.empty() ? "first principles" : calibration;
    write_file_atomically(json_file, j.dump(2) + "\n");
  }
  return 0;
}

}  // namespace npuvp::cli
