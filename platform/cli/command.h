// The `npuvp` subcommands. Each command parses its own flags with
// Boost.Program_options; `npuvp <command> --help` documents them.
#pragma once

#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "platform/base/error.h"
#include "platform/config/hw_config.h"

namespace npuvp::cli {

namespace po = boost::program_options;

// Bad command-line use (exit code 2).
class usage_error : public error {
 public:
  using error::error;
};

struct command {
  const char* name;     // one or two words: "bench hbm"
  const char* summary;  // one line for `npuvp --help`
  int (*run)(const std::vector<std::string>& args);
};

// All commands, in the order `npuvp --help` lists them.
const std::vector<command>& commands();

// Parses `args` against `desc` (plus --help). Returns false when help was
// printed and the command should return 0. Throws usage_error on bad flags.
bool parse(const std::string& usage, po::options_description& desc, const std::vector<std::string>& args,
           po::variables_map& vm, const po::positional_options_description* positional = nullptr);

// --mode of `run` and `bench roofline`: "at" or "lt" puts the NoC, HBM and
// SRAM models of `hw` in that mode, "" leaves them as configured; anything
// else is a usage_error.
void override_mode(hw_config& hw, const std::string& mode);

// --progress of the commands that run the TLM chip (chip_run_options::progress):
// the option, and whether it is on (asked for, or stderr is a terminal).
void add_progress_option(po::options_description& desc);
bool progress_wanted(const po::variables_map& vm);

// `config check` and `scenario check`: the keys are valid one by one; this
// also builds the global address map (memory_map), which every engine needs,
// so "ok" means the chip can be built. Throws npuvp::error naming `file`.
void check_address_map(const hw_config& hw, const std::string& file);

// Path of a file shipped in the source tree's scenarios/ folder (model zoo,
// default scenarios), so defaults work from any working directory.
inline std::string shipped(const std::string& relative) { return std::string(NPUVP_SCENARIOS_DIR "/") + relative; }

// The commands themselves (one file per family).
int config_check(const std::vector<std::string>& args);
int config_describe(const std::vector<std::string>& args);
int bench_dma(const std::vector<std::string>& args);
int bench_hbm(const std::vector<std::string>& args);
int run_gemm(const std::vector<std::string>& args);
int run(const std::vector<std::string>& args);
int bench_roofline(const std::vector<std::string>& args);
int disasm(const std::vector<std::string>& args);
int lower_gemm(const std::vector<std::string>& args);
int bench_noc(const std::vector<std::string>& args);
int lower_layer(const std::vector<std::string>& args);
int perf(const std::vector<std::string>& args);
int calibrate(const std::vector<std::string>& args);
int crosscheck(const std::vector<std::string>& args);
int crosscheck_gemm(const std::vector<std::string>& args);
int lower_step(const std::vector<std::string>& args);
int scenario_check(const std::vector<std::string>& args);
int scenario_describe(const std::vector<std::string>& args);

}  // namespace npuvp::cli
