// `npuvp crosscheck`: the same lowered command streams on the TLM chip
// (isolated runs) and on the perfmodel, with the error of the model, its
// split by bound class and the speed-up. `crosscheck SCENARIO... --grid
// GRID.yaml`: serving steps of scenarios (kernels::lower_step), a grid being a
// cartesian product over scenario keys; `crosscheck gemm`: lowered GEMMs for
// every partition strategy x placement policy. docs/perfmodel.md.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "kernels/encoding.h"
#include "kernels/partition/partition.h"
#include "kernels/step_lowering.h"
#include "perfmodel/calibration.h"
#include "perfmodel/perfmodel.h"
#include "platform/base/file_io.h"
#include "platform/base/stopwatch.h"
#include "platform/chip_run.h"
#include "platform/cli/command.h"
#include "platform/config/hw_config.h"
#include "platform/config/schema.h"
#include "platform/sim/isolated_run.h"

namespace npuvp::cli {

namespace {

// The names of cases, for progress_lines().
template <class Cases>
std::vector<std::string> names_of(const Cases& cases) {
  std::vector<std::string> names;
  for (const auto& c : cases) names.push_back(c.name);
  return names;
}

// The perfmodel on one case, and its wall-clock: the best of three
// evaluations (a few milliseconds each; one context switch or a burst of
// first-touch page faults would otherwise count as the model's cost).
std::pair<perf::perf_result, double> timed_evaluate(const hw_config& hw, const std::vector<kernels::program>& programs,
                                                    const perf::perf_params& params) {
  double best = 0;
  perf::perf_result r;
  for (int k = 0; k < 3; ++k) {
    const stopwatch clock;
    r = perf::evaluate(hw, programs, params);
    const double wall = clock.seconds();
    best = k == 0 ? wall : std::min(best, wall);
  }
  return {std::move(r), best};
}

}  // namespace

int crosscheck_gemm(const std::vector<std::string>& args) {
  po::options_description desc("crosscheck gemm options");
  std::string hw_file, calibration;
  int groups = 4, parallel = 2;
  uint32_t m = 512, k = 512, n = 512;
  desc.add_options()("hw", po::value(&hw_file)->required(), "hardware YAML file")(
      "calibration", po::value(&calibration), "perfmodel calibration YAML (default: first-principles parameters)")(
      "groups", po::value(&groups)->default_value(groups), "independent GEMMs, each on all cores / groups")(
      "m", po::value(&m)->default_value(m), "rows of A and C")(
      "k", po::value(&k)->default_value(k), "columns of A, rows of B")("n", po::value(&n)->default_value(n),
                                                                       "columns of B and C")(
      "parallel", po::value(&parallel)->default_value(parallel), "TLM simulations run at once");
  po::variables_map vm;
  if (!parse("npuvp crosscheck gemm --hw FILE [--calibration FILE] [--groups G] [--m M --k K --n N]", desc, args, vm))
    return 0;
  if (groups < 1 || parallel < 1) throw usage_error("--groups and --parallel must be >= 1");
  const hw_config hw = load_hw_config(hw_file);
  std::string warning;
  const perf::perf_params params = perf::load_perf_params(hw, calibration, warning);
  if (!warning.empty()) std::cerr << "npuvp: warning: " << warning << "\n";
  const int cores = hw.mesh.width * hw.mesh.height;

  struct case_t {
    std::string name;
    std::vector<kernels::program> programs;
  };
  const auto gemms = kernels::stacked_gemm_jobs(groups, m, k, n);
  for (const auto& g : gemms) kernels::check_gemm_job(g);  // once, not as every case's reason to skip
  std::vector<case_t> cases;
  for (const auto& strategy : kernels::partition_names())
    for (const auto& placement : kernels::placement_names()) {
      if (placement == "explicit") continue;
      const std::string name = strategy + " / " + placement;
      try {
        const auto map =
            kernels::make_placement(placement)->place(groups, cores / groups, hw.mesh.width, hw.mesh.height);
        kernels::lowering_context ctx(hw);
        kernels::lower_gemm(ctx, *kernels::make_partition(strategy), map, gemms);
        cases.push_back({name, ctx.finish()});
      } catch (const error& e) {
        std::cout << "skipped " << name << ": " << e.what() << "\n";
      }
    }
  if (cases.empty()) throw error("crosscheck gemm: the GEMM fits no partition and placement (skipped above)");
  std::vector<isolated_job> jobs;
  for (const auto& c : cases)
    jobs.push_back([&hw, &c] {
      const stopwatch clock;
      const stats_writer st = run_chip(hw, c.programs, {});
      const double wall = clock.seconds();
      return nlohmann::json{{"elapsed_ns", st.value(hw.name, "elapsed_ns")}, {"wall_s", wall}};
    });
  std::cout << "running " << cases.size() << " cases on the TLM chip (" << parallel << " at a time)" << std::endl;
  const auto tlm = run_isolated(jobs, parallel, progress_lines(names_of(cases)));
  std::cout << std::left << std::setw(34) << "strategy / placement" << std::right << std::setw(13) << "TLM us"
            << std::setw(13) << "model us" << std::setw(9) << "error %" << std::setw(11) << "TLM s" << std::setw(11)
            << "model ms" << std::setw(10) << "speed-up"
            << "  model bound\n";
  double sum = 0, worst = 0, tlm_wall = 0, model_wall = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto [r, wall] = timed_evaluate(hw, cases[i].programs, params);
    const double t = tlm[i]["elapsed_ns"].get<double>(), w = tlm[i]["wall_s"].get<double>();
    const double err = 100 * (r.time_ns - t) / t;
    sum += std::fabs(err);
    worst = std::max(worst, std::fabs(err));
    tlm_wall += w;
    model_wall += wall;
    std::cout << std::left << std::setw(34) << cases[i].name << std::right << std::fixed << std::setprecision(2)
              << std::setw(13) << t / 1e3 << std::setw(13) << r.time_ns / 1e3 << std::setw(9) << err << std::setw(11)
              << w << std::setw(11) << wall * 1e3 << std::setw(10) << std::setprecision(0) << w / wall << "  "
              << perf::bound_name(r.bounded_by) << "\n";
  }
  if (!cases.empty())
    std::cout << std::setprecision(2) << "MAPE " << sum / cases.size() << "%, worst " << worst << "%; TLM " << tlm_wall
              << " s, model " << model_wall * 1e3 << " ms in total (speed-up " << std::setprecision(0)
              << tlm_wall / model_wall << "x)\n";
  return 0;
}

namespace {

// One cross-check case: a scenario with the grid's keys applied.
struct step_case {
  std::string name;
  kernels::lowered_step step;
  hw_config hw;
};

// What a case's TLM result depends on besides the TLM platform's code: its
// chip and its command streams (FNV-1a, 64 bits, over the hardware config as
// JSON and every stream's records), as 16 hex digits.
std::string tlm_key(const hw_config& hw, const std::vector<kernels::program>& programs) {
  uint64_t h = 1469598103934665603ull;
  auto add = [&h](const auto& bytes) {
    for (const auto b : bytes) h = (h ^ uint8_t(b)) * 1099511628211ull;
  };
  add(config::to_json(hw).dump());
  for (const kernels::program& p : programs) {
    add(std::to_string(p.size()) + " commands:");  // where one stream ends
    add(kernels::encode(p));
  }
  std::ostringstream hex;
  hex << std::hex << std::setw(16) << std::setfill('0') << h;
  return hex.str();
}

// The TLM results an earlier `crosscheck --json` wrote, by tlm_key.
std::map<std::string, nlohmann::json> earlier_tlm_results(const std::string& file) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::exception& e) {
    throw error(file + ": not a crosscheck --json file (" + e.what() + ")");
  }
  std::map<std::string, nlohmann::json> by_key;
  if (j.is_object() && j.contains("cases") && j["cases"].is_array())
    for (const auto& c : j["cases"]) {
      if (!c.is_object() || !c.contains("tlm_key") || !c.contains("tlm")) continue;
      const nlohmann::json& t = c["tlm"];
      const bool whole = c["tlm_key"].is_string() && t.is_object() && t.contains("elapsed_ns") &&
                         t["elapsed_ns"].is_number() && t.contains("wall_s") && t["wall_s"].is_number() &&
                         t.contains("ops") && t["ops"].is_array();
      if (!whole) throw error(file + ": case " + c.value("name", std::string("?")) + " has an incomplete TLM result");
      by_key[c["tlm_key"].get<std::string>()] = t;
    }
  if (by_key.empty())
    throw error(file + ": no case with a TLM result to reuse (tlm_key and tlm; written by crosscheck --json)");
  return by_key;
}

// Sets `value` at the dotted `key` of `root` (creating maps on the way).
void set_dotted(YAML::Node root, const std::string& key, const YAML::Node& value) {
  YAML::Node at = root;
  std::stringstream ss(key);
  std::vector<std::string> parts;
  for (std::string part; std::getline(ss, part, '.');) parts.push_back(part);
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (!at[parts[i]] || !at[parts[i]].IsMap()) at[parts[i]] = YAML::Node(YAML::NodeType::Map);
    at.reset(at[parts[i]]);
  }
  at[parts.back()] = YAML::Clone(value);
}

std::string compact(const YAML::Node& n) {
  YAML::Emitter e;
  e.SetMapFormat(YAML::Flow);
  e.SetSeqFormat(YAML::Flow);
  e << n;
  return e.c_str();
}

std::string dir_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

// One case of the cross-check: a scenario's text, from a scenario file or a grid.
struct case_text {
  std::string name, yaml;
  std::string origin;                                  // the file its paths are relative to (a grid's base scenario)
  std::string grid;                                    // the grid file it comes from ("": a scenario file)
  std::vector<std::pair<std::string, int>> grid_keys;  // the grid's set and vary keys and their lines
};

// Scenario texts of a grid file:
//   base: scenario.yaml              # relative to the grid file
//   set: {step.layers: 1}            # dotted keys applied to every case (optional)
//   vary:                            # cartesian product, first key varies slowest
//     parallelism.partition: [mn_split, k_split]
//     step: [{layers: 1, decode: {batch: 1, context: 512}}, ...]
// Values are YAML nodes replacing the key; paths inside them are relative to the base scenario.
std::vector<case_text> expand_grid(const std::string& grid_file) {
  const YAML::Node grid = config::parse_yaml(read_file(grid_file), grid_file);
  if (!grid.IsMap() || !grid["base"]) throw config_error(grid_file, 0, "base", "missing: the base scenario");
  for (const auto& kv : grid) {
    const std::string k = kv.first.as<std::string>();
    if (k != "base" && k != "set" && k != "vary")
      throw config_error(grid_file, kv.first.Mark().line + 1, k, "unknown key (expected base, set, vary)");
  }
  const std::string base_key = grid["base"].as<std::string>();
  const std::string base = base_key[0] == '/' ? base_key : dir_of(grid_file) + base_key;
  const YAML::Node root = config::parse_yaml(read_file(base), base);
  std::vector<std::pair<std::string, int>> keys;
  if (grid["set"])
    for (const auto& kv : grid["set"]) {
      set_dotted(root, kv.first.as<std::string>(), kv.second);
      keys.emplace_back(kv.first.as<std::string>(), kv.first.Mark().line + 1);
    }
  std::vector<std::pair<std::string, YAML::Node>> axes;
  if (grid["vary"])
    for (const auto& kv : grid["vary"]) {
      if (!kv.second.IsSequence() || kv.second.size() == 0)
        throw config_error(grid_file, kv.second.Mark().line + 1, "vary." + kv.first.as<std::string>(),
                           "expected a non-empty list of values");
      axes.emplace_back(kv.first.as<std::string>(), kv.second);
      keys.emplace_back(kv.first.as<std::string>(), kv.first.Mark().line + 1);
    }
  std::vector<case_text> out;
  std::vector<size_t> idx(axes.size(), 0);
  const std::string stem = grid_file.substr(grid_file.find_last_of('/') + 1);
  for (;;) {
    YAML::Node doc = YAML::Clone(root);
    std::string name = stem;
    for (size_t a = 0; a < axes.size(); ++a) {
      const YAML::Node v = axes[a].second[idx[a]];
      set_dotted(doc, axes[a].first, v);
      name += " " + axes[a].first.substr(axes[a].first.find_last_of('.') + 1) + "=" + compact(v);
    }
    YAML::Emitter e;
    e << doc;
    out.push_back({name, e.c_str(), base, grid_file, keys});
    size_t a = axes.size();
    while (a > 0 && ++idx[a - 1] == axes[a - 1].second.size()) idx[--a] = 0;
    if (a == 0) break;
  }
  return out;
}

// A grid case that is not a valid scenario. The lines of its merged text
// point nowhere: the error names the grid key whose value holds the fault
// (its line in the grid file), or else the base scenario, and the case.
config_error grid_case_error(const case_text& c, const config_error& e) {
  const auto within = [](const std::string& a, const std::string& b) {  // a is b or under it
    return a == b || (a.size() > b.size() && a.compare(0, b.size(), b) == 0 && a[b.size()] == '.');
  };
  for (auto k = c.grid_keys.rbegin(); k != c.grid_keys.rend(); ++k)  // vary after set: the value that applies
    if (within(e.path(), k->first) || within(k->first, e.path()))
      return config_error(c.grid, k->second, e.path(), e.reason() + " (case " + c.name + ")");
  return config_error(c.origin, 0, e.path(), e.reason() + " (grid " + c.grid + ", case " + c.name + ")");
}

// Bound classes of the acceptance split: what the perfmodel's critical path
// is mostly limited by (compute; HBM, SRAM or the DMA issue rate: memory; NoC
// bandwidth, transfer latency or waiting on other cores: communication).
const char* bound_class(perf::bound b) {
  switch (b) {
    case perf::bound::compute: return "compute";
    case perf::bound::hbm:
    case perf::bound::sram:
    case perf::bound::dma_issue: return "memory";
    default: return "communication";
  }
}

std::string csv_field(const std::string& s) {
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

int crosscheck(const std::vector<std::string>& args) {
  po::options_description desc("crosscheck options");
  std::vector<std::string> files, grids;
  std::vector<std::string> calibrations;
  std::string csv, json_file, tlm_from, zoo = shipped("models");
  int parallel = 2;
  desc.add_options()("scenario", po::value(&files), "scenario YAML files (each one case)")(
      "grid", po::value(&grids), "grid YAML files (base scenario x cartesian product of keys; repeatable)")(
      "calibration", po::value(&calibrations),
      "perfmodel calibration YAML (default: first-principles parameters); repeatable: each case takes the one "
      "fitted on its chip")("csv", po::value(&csv), "write per-step and per-operator rows as CSV")(
      "json", po::value(&json_file), "write every case, operator and the summary as JSON")(
      "tlm-from", po::value(&tlm_from),
      "JSON of an earlier --json run: a case whose chip and command streams are unchanged takes its TLM result "
      "from there instead of running again (valid while the TLM platform's code is the same)")(
      "zoo", po::value(&zoo)->default_value(zoo), "folder of the model zoo")(
      "no-ops", "do not print the per-operator rows (engine time summed over cores: TLM us, model us, error %)")(
      "parallel", po::value(&parallel)->default_value(parallel), "TLM simulations run at once");
  po::positional_options_description pos;
  pos.add("scenario", -1);
  po::variables_map vm;
  if (!parse("npuvp crosscheck [SCENARIO...] [--grid GRID.yaml]... [--calibration FILE]... [--csv F] [--json F] "
             "[--tlm-from F] [--parallel N]",
             desc, args, vm, &pos))
    return 0;
  if (parallel < 1) throw usage_error("--parallel must be >= 1");
  if (files.empty() && grids.empty()) throw usage_error("give scenario files or --grid files");
  check_writable(csv);
  check_writable(json_file);
  const std::map<std::string, nlohmann::json> earlier =
      tlm_from.empty() ? std::map<std::string, nlohmann::json>{} : earlier_tlm_results(tlm_from);

  std::vector<case_text> texts;
  for (const auto& f : files) texts.push_back({f, read_file(f), f, "", {}});
  for (const auto& g : grids)
    for (auto& t : expand_grid(g)) texts.push_back(std::move(t));
  // A case that is not a valid scenario stops the command; one whose step
  // cannot be lowered on its chip (SRAM or HBM too small) is skipped.
  std::vector<step_case> cases;
  for (const case_text& t : texts) {
    kernels::scenario s;
    try {
      s = kernels::parse_scenario(t.yaml, t.origin, zoo);
    } catch (const config_error& e) {
      if (t.grid.empty()) throw;
      throw grid_case_error(t, e);
    }
    try {
      cases.push_back({t.name, kernels::lower_step(s), s.hw});
    } catch (const error& e) {
      std::cout << "skipped " << t.name << ": " << e.what() << "\n";
    }
  }
  if (cases.empty())
    throw error("crosscheck: none of the " + std::to_string(texts.size()) + " cases fits its chip (skipped above)");
  // Per chip (hw name): the calibration given, or of several the one fitted on it.
  std::map<std::string, perf::perf_params> params;
  std::map<std::string, std::string> calibration_of;
  for (const auto& c : cases) {
    if (params.count(c.hw.name)) continue;
    std::string warning;
    if (calibrations.size() <= 1) {
      calibration_of[c.hw.name] = calibrations.empty() ? "" : calibrations[0];
      params[c.hw.name] = perf::load_perf_params(c.hw, calibration_of[c.hw.name], warning);
    } else {
      for (const auto& file : calibrations) {
        const perf::perf_params p = perf::load_perf_params(c.hw, file, warning);
        if (!warning.empty()) continue;  // fitted on another chip
        params[c.hw.name] = p;
        calibration_of[c.hw.name] = file;
        break;
      }
      if (!params.count(c.hw.name)) {
        std::string given;
        for (const auto& file : calibrations) given += (given.empty() ? "" : ", ") + file;
        throw error("crosscheck: none of the calibration files (" + given + ") was fitted on '" + c.hw.name +
                    "' (case " + c.name + ")");
      }
    }
    if (!warning.empty()) std::cerr << "npuvp: warning: " << c.hw.name << ": " << warning << "\n";
  }
  std::vector<std::string> keys;
  std::vector<nlohmann::json> tlm(cases.size());
  std::vector<size_t> to_run;
  for (size_t i = 0; i < cases.size(); ++i) {
    keys.push_back(tlm_key(cases[i].hw, cases[i].step.programs));
    if (const auto it = earlier.find(keys.back()); it != earlier.end())
      tlm[i] = it->second;
    else
      to_run.push_back(i);
  }
  if (!tlm_from.empty())
    std::cout << "TLM results of " << cases.size() - to_run.size() << " of " << cases.size() << " cases from "
              << tlm_from << " (chip and command streams unchanged)\n";
  std::vector<isolated_job> jobs;
  std::vector<std::string> names;
  for (size_t i : to_run) {
    const step_case& c = cases[i];
    names.push_back(c.name);
    jobs.push_back([&c] {
      // Per operator: engine time (dma, matrix, vector) summed over the cores,
      // counted as the TLM core counts it (npu_core::op_times).
      std::vector<std::array<double, 3>> tlm_ops;
      chip_run_options options;
      options.after = [&tlm_ops](chip& npu, stats_writer&) {
        for (int k = 0; k < npu.cores(); ++k) {
          const auto& t = npu.core(k).op_times();
          if (t.size() > tlm_ops.size()) tlm_ops.resize(t.size(), {0, 0, 0});
          for (size_t o = 0; o < t.size(); ++o)
            for (int e = 0; e < 3; ++e) tlm_ops[o][size_t(e)] += t[o].busy[e].to_seconds() * 1e9;
        }
      };
      const stopwatch clock;
      const stats_writer st = run_chip(c.hw, c.step.programs, options);
      const double wall = clock.seconds();
      return nlohmann::json{{"elapsed_ns", st.value(c.hw.name, "elapsed_ns")}, {"wall_s", wall}, {"ops", tlm_ops}};
    });
  }
  if (!jobs.empty()) {
    std::cout << "running " << jobs.size() << " cases on the TLM chip (" << parallel << " at a time)" << std::endl;
    const auto ran = run_isolated(jobs, parallel, progress_lines(names));
    for (size_t k = 0; k < to_run.size(); ++k) tlm[to_run[k]] = ran[k];
  }

  nlohmann::json out = {{"calibration", calibration_of}, {"cases", nlohmann::json::array()}};
  std::ostringstream rows;
  rows << "kind,case,op_id,op,tlm_ns,model_ns,error_percent,tlm_wall_s,model_wall_s,speedup,bound,class\n";
  std::cout << std::left << std::setw(60) << "case" << std::right << std::setw(12) << "TLM us" << std::setw(12)
            << "model us" << std::setw(9) << "error %" << std::setw(9) << "TLM s" << std::setw(10) << "model ms"
            << std::setw(9) << "speedup"
            << "  bound (class)\n";
  struct stat_t {
    double sum = 0, worst = 0;
    int n = 0;
  };
  std::map<std::string, stat_t> by_class;
  stat_t all, op_stats;
  const bool show_ops = !vm.count("no-ops");
  std::vector<double> speedups;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const double t = tlm[i]["elapsed_ns"].get<double>(), w = tlm[i]["wall_s"].get<double>();
    const auto tlm_ops = tlm[i]["ops"].get<std::vector<std::array<double, 3>>>();
    // The perfmodel runs here, in the parent, as `npuvp perf` or a sweep
    // would run it (in the fork it pays copy-on-write faults on the parent's heap).
    const auto [r, wall] = timed_evaluate(c.hw, c.step.programs, params.at(c.hw.name));
    const double model_ns = r.time_ns;
    const double err = 100 * (model_ns - t) / t;
    const std::string cls = bound_class(r.bounded_by), bnd = perf::bound_name(r.bounded_by);
    nlohmann::json ops = nlohmann::json::array();
    for (size_t o = 1; o < std::max(r.by_op.size(), tlm_ops.size()); ++o) {
      const std::array<double, 3> none{0, 0, 0};
      const auto& m = o < r.by_op.size() ? r.by_op[o].engine_busy_ns : none;
      const auto& e = o < tlm_ops.size() ? tlm_ops[o] : none;
      if (m[0] + m[1] + m[2] + e[0] + e[1] + e[2] <= 0) continue;
      const perf::bound b = o < r.by_op.size() ? r.by_op[o].bounded_by() : perf::bound::sync;
      ops.push_back({{"op_id", o},
                     {"tlm_engine_ns", e[0] + e[1] + e[2]},
                     {"model_engine_ns", m[0] + m[1] + m[2]},
                     {"tlm_dma_ns", e[0]},
                     {"model_dma_ns", m[0]},
                     {"tlm_compute_ns", e[1] + e[2]},
                     {"model_compute_ns", m[1] + m[2]},
                     {"model_span_ns", o < r.by_op.size() ? r.by_op[o].last_end_ns - r.by_op[o].first_start_ns : 0.0},
                     {"bound", perf::bound_name(b)},
                     {"class", bound_class(b)}});
    }
    for (stat_t* st : {&all, &by_class[cls]}) {
      st->sum += std::fabs(err);
      st->worst = std::max(st->worst, std::fabs(err));
      ++st->n;
    }
    speedups.push_back(w / wall);
    std::cout << std::left << std::setw(60) << c.name << std::right << std::fixed << std::setprecision(2)
              << std::setw(12) << t / 1e3 << std::setw(12) << model_ns / 1e3 << std::setw(9) << err
              << std::setw(9) << w << std::setw(10) << wall * 1e3 << std::setw(9) << std::setprecision(0)
              << w / wall << "  " << bnd << " (" << cls << ")\n";
    rows << "step," << csv_field(c.name) << ",,," << t << "," << model_ns << "," << err << "," << w << "," << wall
         << "," << w / wall << "," << bnd << "," << cls << "\n";
    nlohmann::json jc = {{"name", c.name},       {"tlm_ns", t},
                         {"model_ns", model_ns}, {"error_percent", err},
                         {"tlm_wall_s", w},      {"model_wall_s", wall},
                         {"speedup", w / wall},  {"bound", bnd},
                         {"class", cls},         {"ops", nlohmann::json::array()},
                         {"tlm_key", keys[i]},   {"tlm", tlm[i]}};
    // Per operator: engine time summed over cores and engines (the DMA part in
    // brackets), TLM against perfmodel.
    double case_engine = 0;
    for (const nlohmann::json& op : ops) case_engine += op["tlm_engine_ns"].get<double>();
    for (nlohmann::json op : ops) {
      const size_t o = op["op_id"];
      const std::string op_name = o < c.step.op_names.size() ? c.step.op_names[o] : "op " + std::to_string(o);
      const double te = op["tlm_engine_ns"], me = op["model_engine_ns"];
      const double op_err = te > 0 ? 100 * (me - te) / te : 0.0;
      op["error_percent"] = op_err;
      op["op"] = op_name;
      rows << "op," << csv_field(c.name) << "," << o << "," << csv_field(op_name) << "," << te << "," << me << ","
           << op_err << ",,,," << op["bound"].get<std::string>() << "," << op["class"].get<std::string>() << "\n";
      // Operators with at least 1 % of the case's engine time enter the per-operator figures.
      if (te >= 0.01 * case_engine) {
        op_stats.sum += std::fabs(op_err);
        op_stats.worst = std::max(op_stats.worst, std::fabs(op_err));
        ++op_stats.n;
      }
      if (show_ops)
        std::cout << "    " << std::left << std::setw(56) << op_name << std::right << std::setprecision(2)
                  << std::setw(12) << te / 1e3 << std::setw(12) << me / 1e3 << std::setw(9) << op_err << "  dma "
                  << op["tlm_dma_ns"].get<double>() / 1e3 << " / " << op["model_dma_ns"].get<double>() / 1e3 << " us, "
                  << op["bound"].get<std::string>() << "\n";
      jc["ops"].push_back(op);
    }
    out["cases"].push_back(jc);
  }
  nlohmann::json summary = nlohmann::json::object();
  if (!cases.empty()) {
    std::sort(speedups.begin(), speedups.end());
    const double median = speedups.size() % 2 ? speedups[speedups.size() / 2]
                                              : 0.5 * (speedups[speedups.size() / 2 - 1] + speedups[speedups.size() / 2]);
    std::cout << std::setprecision(2) << "MAPE " << all.sum / all.n << "%, max error " << all.worst << "% over "
              << all.n << " cases; median speed-up " << std::setprecision(0) << median << "x\n";
    summary = {{"cases", all.n}, {"mape_percent", all.sum / all.n}, {"max_error_percent", all.worst},
               {"median_speedup", median}};
    if (op_stats.n) {
      std::cout << std::setprecision(2) << "  per operator (engine time, " << op_stats.n
                << " operators with >= 1% of their case): MAPE " << op_stats.sum / op_stats.n << "%, max "
                << op_stats.worst << "%\n";
      summary["per_operator"] = {{"operators", op_stats.n},
                                 {"mape_percent", op_stats.sum / op_stats.n},
                                 {"max_error_percent", op_stats.worst}};
    }
    for (const auto& [cls, st] : by_class) {
      std::cout << std::setprecision(2) << "  " << std::left << std::setw(14) << cls << std::right << std::setw(4)
                << st.n << " cases: MAPE " << st.sum / st.n << "%, max " << st.worst << "%\n";
      summary["by_class"][cls] = {{"cases", st.n}, {"mape_percent", st.sum / st.n}, {"max_error_percent", st.worst}};
    }
  }
  out["summary"] = summary;
  if (!csv.empty()) write_file_atomically(csv, rows.str());
  if (!json_file.empty()) write_file_atomically(json_file, out.dump(2));
  return 0;
}

}  // namespace npuvp::cli
