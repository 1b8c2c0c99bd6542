#include <iomanip>
#include <iostream>

#include "kernels/scenario.h"
#include "kernels/step_lowering.h"
#include "platform/cli/command.h"

namespace npuvp::cli {

int scenario_check(const std::vector<std::string>& args) {
  po::options_description desc("scenario check options");
  std::string file, zoo;
  desc.add_options()("file", po::value(&file)->required(), "scenario YAML file")(
      "zoo", po::value(&zoo)->default_value(shipped("models")), "folder of the model zoo")(
      "dump", "print the effective scenario (defaults filled in) as JSON");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse("npuvp scenario check FILE [--dump]", desc, args, vm, &pos)) return 0;
  const kernels::scenario s = kernels::load_scenario(file, zoo);
  check_address_map(s.hw, file);
  // What the keys cannot say alone (tp and the model's heads, SRAM and HBM
  // that hold the step): "ok" means the step lowers and runs.
  const kernels::lowered_step step = kernels::lower_step(s);
  if (vm.count("dump")) {
    auto j = config::to_json(s);
    j["hw"] = config::to_json(s.hw);
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  size_t commands = 0;
  for (const auto& program : step.programs) commands += program.size();
  const auto& p = s.parallelism;
  std::cout << file << ": ok: " << s.model_cfg.name << " on " << s.hw.name << " " << s.hw.mesh.width << "x"
            << s.hw.mesh.height << ", tp " << p.tp << " pp " << p.pp << " dp " << p.dp << ", " << p.partition << ", "
            << p.placement << ", " << s.step.prefill.size() << " prefill sequences, decode batch "
            << s.step.decode.batch << "; lowers to " << commands << " commands\n";
  return 0;
}

int scenario_describe(const std::vector<std::string>& args) {
  po::options_description desc("scenario describe options");
  desc.add_options()("markdown", "print a Markdown table (docs/scenario.md includes it)");
  po::variables_map vm;
  if (!parse("npuvp scenario describe [--markdown]", desc, args, vm)) return 0;
  const auto rows = config::describe<kernels::scenario>();
  if (vm.count("markdown")) {
    auto cell = [](std::string text) {  // a '|' inside a cell would end it
      for (size_t at = text.find('|'); at != std::string::npos; at = text.find('|', at + 2)) text.replace(at, 1, "\\|");
      return text;
    };
    std::cout << "| key | type | unit | default | meaning |\n|---|---|---|---|---|\n";
    for (const auto& r : rows)
      std::cout << "| `" << r.key << "` | " << cell(r.type) << " | " << r.unit << " | " << r.default_value << " | "
                << cell(r.doc) << " |\n";
    return 0;
  }
  for (const auto& r : rows)
    std::cout << std::left << std::setw(34) << r.key << " " << std::setw(26) << r.type << " " << std::setw(10) << r.unit
              << " " << std::setw(18) << r.default_value << " " << r.doc << "\n";
  return 0;
}

}  // namespace npuvp::cli
