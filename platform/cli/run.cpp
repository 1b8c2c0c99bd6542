// `npuvp run [SCENARIO.yaml]`: lowers one serving step of a scenario
// (kernels/scenario.h, kernels/step_lowering.h), runs it on the TLM chip and
// prints a per-operator breakdown, totals and utilisation; writes stats.json
// and a Perfetto trace.json (a track per core engine, router and HBM channel).
// docs/run.md.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "kernels/step_lowering.h"
#include "platform/base/file_io.h"
#include "platform/base/stopwatch.h"
#include "platform/chip_run.h"
#include "platform/cli/command.h"

namespace npuvp::cli {

namespace {

using kernels::engine;
constexpr int engines = kernels::engine_count;

std::string core_name(const hw_config& hw, int id) {
  return hw.name + ".core_" + std::to_string(id % hw.mesh.width) + "_" + std::to_string(id / hw.mesh.width);
}

// Per operator, summed over the cores: engine busy and stall time (ns).
struct op_row {
  double busy[engines] = {}, stalled[engines] = {};
};

// The resource that bounds an operator: sync when its engines spent longer
// blocked (wait, recv, barrier) than busy, else the busiest engine; DMA time is attributed to HBM or the NoC when their bytes at
// peak bandwidth explain at least a third of it, else to DMA issue.
std::string bound_of(const op_row& r, const kernels::op_figures& f, double hbm_peak_bpns, double noc_peak_bpns,
                     int cores) {
  const double t[] = {r.busy[0], r.busy[1], r.busy[2]};
  const double stall = r.stalled[0] + r.stalled[1] + r.stalled[2] + r.stalled[3];
  if (stall > t[0] + t[1] + t[2]) return "sync";
  const int k = static_cast<int>(std::max_element(t, t + 3) - t);
  if (t[k] <= 0) return "-";
  if (k == 1) return "compute (matrix)";
  if (k == 2) return "compute (vector)";
  const double dma = t[0] / cores;  // mean per active core
  const double hbm = static_cast<double>(f.hbm_bytes) / hbm_peak_bpns;
  const double noc = static_cast<double>(f.noc_bytes) / noc_peak_bpns;
  if (hbm >= noc && hbm >= dma / 3) return "HBM";
  if (noc > hbm && noc >= dma / 3) return "NoC";
  return "DMA issue";
}

}  // namespace

int run(const std::vector<std::string>& args) {
  po::options_description desc("run options");
  std::string file = shipped("run/default.yaml"), zoo = shipped("models"), out_dir = ".", stats_path, trace_path,
              mode;
  int64_t layers = -1;
  desc.add_options()("scenario", po::value(&file)->default_value(file), "scenario YAML file")(
      "zoo", po::value(&zoo)->default_value(zoo), "folder of the model zoo")(
      "out", po::value(&out_dir)->default_value(out_dir), "folder for stats.json and trace.json")(
      "stats", po::value(&stats_path), "statistics JSON file (default: OUT/stats.json)")(
      "trace", po::value(&trace_path), "Perfetto trace file (default: OUT/trace.json)")(
      "no-trace", "do not trace (faster)")("mode", po::value(&mode), "at|lt: override NoC, HBM and SRAM modes")(
      "functional", "carry real bytes (HBM holds zeros unless the scenario loads data)")(
      "layers", po::value(&layers), "override step.layers (simulate the model's first N layers; 0: all)");
  add_progress_option(desc);
  po::positional_options_description pos;
  pos.add("scenario", 1);
  po::variables_map vm;
  if (!parse("npuvp run [SCENARIO.yaml] [--out DIR] [--stats FILE] [--trace FILE|--no-trace] [--mode at|lt] "
             "[--functional] [--layers N] [--progress]",
             desc, args, vm, &pos))
    return 0;
  kernels::scenario s = kernels::load_scenario(file, zoo);
  if (vm.count("layers")) {
    if (layers < 0) throw usage_error("--layers must be 0 (all) or more, not " + std::to_string(layers));
    s.step.layers = layers;
    kernels::check_scenario(s, file + " with --layers " + std::to_string(layers));
  }
  override_mode(s.hw, mode);
  if (vm.count("functional")) s.hw.functional = true;
  hw_config& hw = s.hw;
  const stopwatch clock;
  const kernels::lowered_step step = kernels::lower_step(s);
  const double lower_s = clock.seconds();

  int64_t tokens = s.step.decode.batch;
  for (const auto& p : s.step.prefill) tokens += p.tokens;
  std::vector<int> active;
  for (const auto& g : step.groups) active.insert(active.end(), g.begin(), g.end());
  std::sort(active.begin(), active.end());
  active.erase(std::unique(active.begin(), active.end()), active.end());
  const auto& p = s.parallelism;
  std::cout << std::fixed << std::setprecision(3) << "scenario  " << file << "\n  " << s.model_cfg.name << " ("
            << s.weights_dtype << " weights), " << step.layers.size() << " of " << s.model_cfg.num_hidden_layers
            << " layers simulated, on " << hw.name << " " << hw.mesh.width << "x" << hw.mesh.height << " ("
            << active.size() << " cores active)\n  " << p.partition << " on " << p.placement << ", tp " << p.tp
            << " pp " << p.pp << " dp " << p.dp << "; weights in " << s.residency.weights << ", KV in "
            << s.residency.kv << "\n  step: " << s.step.prefill.size() << " prefill sequences, decode batch "
            << s.step.decode.batch << " (context " << s.step.decode.context << "), " << tokens << " tokens\n  "
            << step.summary.commands << " commands; modes: NoC " << hw.noc.mode << ", HBM " << hw.hbm.mode
            << ", SRAM " << hw.core.sram.mode << (hw.functional ? ", functional" : ", timing only") << "\n";
  for (const auto& n : step.notes) std::cout << "  note: " << n << "\n";

  make_folder(out_dir);
  if (!vm.count("stats")) stats_path = out_dir + "/stats.json";
  if (vm.count("no-trace")) trace_path.clear();
  else if (!vm.count("trace")) trace_path = out_dir + "/trace.json";

  const double hbm_peak = hw.hbm.channels * hw.hbm.peak_gbps();  // GB/s = B/ns
  const double noc_link = hw.noc.link_bytes_per_ns();
  const double noc_peak = noc_link * std::max<size_t>(1, active.size());  // every active core injecting at once

  std::vector<op_row> ops(step.op_names.size());
  chip_run_options options;
  options.stats_path = stats_path;
  options.trace_path = trace_path;
  options.progress = progress_wanted(vm);
  options.after = [&](chip& npu, stats_writer& st) {
    for (int c = 0; c < npu.cores(); ++c) {
      const auto& t = npu.core(c).op_times();
      if (t.size() > ops.size()) ops.resize(t.size());
      for (size_t o = 0; o < t.size(); ++o)
        for (int e = 0; e < engines; ++e) {
          ops[o].busy[e] += t[o].busy[e].to_seconds() * 1e9;
          ops[o].stalled[e] += t[o].stalled[e].to_seconds() * 1e9;
        }
    }
    st.meta("scenario", file);
    st.meta("tokens", tokens);
    st.meta("simulated_layers", step.layers.size());
    for (size_t o = 0; o < ops.size(); ++o) {
      const std::string g = "run.ops." + (o < step.op_names.size() && !step.op_names[o].empty()
                                              ? step.op_names[o]
                                              : std::string("unlabelled"));
      for (int e = 0; e < engines; ++e) {
        const std::string en = kernels::engine_name(engine(e));
        st.scalar(g, en + "_busy_ns", ops[o].busy[e], "ns", "engine time running this operator's commands, all cores");
        st.scalar(g, en + "_stall_ns", ops[o].stalled[e], "ns", "engine time blocked in its wait/recv/barrier");
      }
      if (o < step.ops.size()) {
        st.scalar(g, "flops", 2.0 * double(step.ops[o].macs), "FLOP", "2 x MACs (lowering)");
        st.scalar(g, "hbm_bytes", double(step.ops[o].hbm_bytes), "B", "HBM bytes read + written (lowering)");
        st.scalar(g, "noc_bytes", double(step.ops[o].noc_bytes), "B", "send and remote-SRAM DMA payload (lowering)");
        st.text(g, "bound",
                bound_of(ops[o], step.ops[o], hbm_peak, noc_peak, static_cast<int>(std::max<size_t>(1, active.size()))),
                "bounding resource (docs/run.md)");
      }
    }
  };
  stats_writer st = run_chip(hw, step.programs, options);
  const double wall_s = clock.seconds();

  const double ns = st.value(hw.name, "elapsed_ns");
  const int n_active = static_cast<int>(std::max<size_t>(1, active.size()));
  std::cout << "\nper operator (engine time: mean per active core, us; bytes and FLOPs: whole step)\n"
            << std::left << std::setw(28) << "operator" << std::right << std::setw(10) << "matrix" << std::setw(10)
            << "vector" << std::setw(10) << "dma" << std::setw(10) << "sync" << std::setw(11) << "GFLOP"
            << std::setw(11) << "HBM MB" << std::setw(11) << "NoC MB"
            << "  bound\n";
  for (size_t o = 0; o < ops.size(); ++o) {
    const op_row& r = ops[o];
    double any = 0;
    for (int e = 0; e < engines; ++e) any += r.busy[e] + r.stalled[e];
    if (any <= 0) continue;
    const kernels::op_figures f = o < step.ops.size() ? step.ops[o] : kernels::op_figures{};
    const std::string label = o < step.op_names.size() && !step.op_names[o].empty() ? step.op_names[o] : "(unlabelled)";
    const double stall = r.stalled[0] + r.stalled[1] + r.stalled[2] + r.stalled[3];
    std::cout << std::left << std::setw(28) << label << std::right << std::setprecision(2) << std::setw(10)
              << r.busy[1] / n_active / 1e3 << std::setw(10) << r.busy[2] / n_active / 1e3 << std::setw(10)
              << r.busy[0] / n_active / 1e3 << std::setw(10) << stall / n_active / 1e3 << std::setprecision(3)
              << std::setw(11) << 2e-9 * double(f.macs) << std::setw(11) << double(f.hbm_bytes) / 1e6 << std::setw(11)
              << double(f.noc_bytes) / 1e6 << "  " << bound_of(r, f, hbm_peak, noc_peak, n_active) << "\n";
  }

  double macs = 0, matrix_busy = 0, sram_busy = 0, hbm_bytes = 0;
  for (int c : active) {
    const std::string core = core_name(hw, c);
    macs += st.value(core + ".matrix", "macs");
    matrix_busy += st.value(core + ".matrix", "active_ns");
    sram_busy += st.value(core + ".sram", "busy_ns");
  }
  for (int k = 0; k < hw.hbm.channels; ++k) hbm_bytes += st.value(hw.name + ".hbm_" + std::to_string(k), "bytes");
  double link_sum = 0, link_max = 0;
  int links = 0;
  for (const auto& [group, values] : st.json()["groups"].items())
    if (group.rfind(hw.name + ".noc.router_", 0) == 0)
      for (const auto& [key, v] : values.items())
        if (key.rfind("link_", 0) == 0) {
          const double u = v["value"].get<double>();
          link_sum += u;
          link_max = std::max(link_max, u);
          ++links;
        }
  const double peak_macs = double(n_active) * hw.core.matrix.rows * hw.core.matrix.cols *
                           hw.core.matrix.macs_per_pe_per_cycle * hw.core.clock_ghz;  // MAC/ns
  std::cout << std::setprecision(3) << "\ntotals\n"
            << "  simulated time      " << ns / 1e3 << " us (" << step.layers.size() << " of " << s.model_cfg.num_hidden_layers
            << " layers)\n"
            << "  tokens/s            " << (ns > 0 ? double(tokens) / (ns * 1e-9) : 0.0) << " (" << tokens
            << " tokens in the step" << (step.layers.size() < size_t(s.model_cfg.num_hidden_layers) ? ", simulated layers only" : "")
            << ")\n"
            << "  FLOPs               " << 2e-9 * macs << " GFLOP (" << 2 * macs / std::max(ns, 1e-9) / 1e3
            << " TFLOP/s)\n"
            << "  HBM bytes           " << hbm_bytes / 1e6 << " MB\n"
            << "utilisation\n"
            << "  compute (matrix)    " << 100 * matrix_busy / (ns * n_active) << " % busy, "
            << 100 * macs / std::max(ns * peak_macs, 1e-9) << " % of peak MACs (active cores)\n"
            << "  SRAM                " << 100 * double(step.sram_peak) / double(hw.core.sram.capacity_bytes())
            << " % capacity (busiest core), " << 100 * sram_busy / (ns * n_active) << " % busy (mean)\n";
  if (links > 0)
    std::cout << "  NoC links           " << 100 * link_sum / links << " % mean, " << 100 * link_max << " % max ("
              << links << " links)\n";
  else
    std::cout << "  NoC links           n/a (NoC in lt mode: no router model)\n";
  std::cout << "  HBM                 " << hbm_bytes / std::max(ns, 1e-9) << " GB/s of " << hbm_peak << " GB/s peak ("
            << 100 * hbm_bytes / std::max(ns * hbm_peak, 1e-9) << " %)\n"
            << "wall-clock            " << wall_s << " s (lowering " << lower_s << " s)\n"
            << "wrote                 " << stats_path << (trace_path.empty() ? "" : ", " + trace_path) << "\n";
  return 0;
}

}  // namespace npuvp::cli
