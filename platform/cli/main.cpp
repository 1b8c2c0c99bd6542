// npuvp entry point: dispatches to a subcommand, turns typed errors into exit
// codes (1: error in input or simulation, 2: bad command line).
#include <systemc>

#include <unistd.h>

#include <cstdlib>

#include <iostream>

#include "platform/cli/command.h"
#include "platform/memory_map.h"

namespace npuvp::cli {

bool parse(const std::string& usage, po::options_description& desc, const std::vector<std::string>& args,
           po::variables_map& vm, const po::positional_options_description* positional) {
  desc.add_options()("help,h", "show this help");
  try {
    auto parser = po::command_line_parser(args).options(desc);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << usage << "\n\n" << desc << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw usage_error(std::string(e.what()) + " (usage: " + usage + ")");
  }
  return true;
}

void override_mode(hw_config& hw, const std::string& mode) {
  if (mode.empty()) return;
  if (mode != "at" && mode != "lt") throw usage_error("--mode must be at or lt, not " + mode);
  hw.noc.mode = hw.hbm.mode = hw.core.sram.mode = mode;
}

void add_progress_option(po::options_description& desc) {
  desc.add_options()("progress", "print progress to stderr every ~2 s (default: when stderr is a terminal)");
}

bool progress_wanted(const po::variables_map& vm) { return vm.count("progress") || isatty(STDERR_FILENO); }

void check_address_map(const hw_config& hw, const std::string& file) {
  try {
    const memory_map map(hw);
  } catch (const error& e) {
    throw error(file + ": " + e.what());
  }
}

static void print_help(const std::string& prefix) {
  std::cout << "npuvp: virtual platform and performance model of multi-core NPUs serving LLMs\n\n"
            << "usage: npuvp <command> [options]     (npuvp <command> --help for its options)\n\ncommands:\n";
  for (const auto& c : commands()) {
    const std::string name = c.name;
    if (name.rfind(prefix, 0) == 0) std::cout << "  " << name << std::string(name.size() < 20 ? 20 - name.size() : 1, ' ') << c.summary << "\n";
  }
}

static int dispatch(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  if (words.empty() || words[0] == "--help" || words[0] == "-h" || words[0] == "help") {
    print_help("");
    return words.empty() ? 2 : 0;
  }
  // Longest match of one or two words.
  for (size_t n : {2u, 1u}) {
    if (words.size() < n) continue;
    std::string name = words[0];
    if (n == 2) name += " " + words[1];
    for (const auto& c : commands())
      if (name == c.name) return c.run(std::vector<std::string>(words.begin() + n, words.end()));
  }
  // A family name alone ("npuvp bench") lists its members.
  bool family = false;
  for (const auto& c : commands()) family |= std::string(c.name).rfind(words[0] + " ", 0) == 0;
  if (family) {
    print_help(words[0] + " ");
    const bool asked = words.size() > 1 && (words[1] == "--help" || words[1] == "-h");
    if (!asked && words.size() > 1) std::cerr << "npuvp: error: unknown command '" << words[0] << " " << words[1] << "'\n";
    return asked ? 0 : 2;
  }
  std::cerr << "npuvp: error: unknown command '" << words[0] << "' (see: npuvp --help)\n";
  return 2;
}

}  // namespace npuvp::cli

int sc_main(int argc, char** argv) {
  sc_core::sc_report_handler::set_actions("/IEEE_Std_1666/deprecated", sc_core::SC_DO_NOTHING);
  try {
    return npuvp::cli::dispatch(argc, argv);
  } catch (const npuvp::cli::usage_error& e) {
    std::cerr << "npuvp: error: " << e.what() << "\n";
    return 2;
  } catch (const npuvp::error& e) {
    std::cerr << "npuvp: error: " << e.what() << "\n";
    return 1;
  } catch (const sc_core::sc_report& e) {
    std::cerr << "npuvp: error: SystemC: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "npuvp: internal error: " << e.what() << "\n";
    return 3;
  }
}

// Our own main (the linker prefers it over libsystemc's) so the SystemC banner
// stays out of machine-readable output.
int main(int argc, char** argv) {
  ::setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}
