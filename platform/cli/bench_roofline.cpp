// `npuvp bench roofline`: two roofline checks on the TLM chip (perfmodel
// figures printed alongside): (a) a Qwen3-8B batch-1 decode with weights
// streamed from HBM against weight bytes / HBM peak, (b) a 2048-token prefill
// on 128x128 arrays against its FLOP bound. docs/run.md.
#include <iomanip>
#include <iostream>

#include "kernels/step_lowering.h"
#include "perfmodel/perfmodel.h"
#include "platform/base/error.h"
#include "platform/base/stopwatch.h"
#include "platform/chip_run.h"
#include "platform/cli/command.h"
#include "platform/sim/isolated_run.h"

namespace npuvp::cli {

namespace {

struct roofline_case {
  kernels::scenario s;
  kernels::lowered_step step;
  double bound_ns = 0;  // the roofline
};

// Projection and MLP weight bytes of one layer (norms are negligible).
double layer_weight_bytes(const kernels::scenario& s) {
  const auto& m = s.model_cfg;
  const double h = double(m.hidden_size), q = double(m.num_attention_heads * m.head_dim),
               kv = double(m.num_key_value_heads * m.head_dim), i = double(m.intermediate_size);
  return (h * q + 2 * h * kv + q * h + 3 * h * i) * double(kernels::dtype_bytes(s.weights));
}

// The multiply-accumulates a prefill step's layer needs: the projections and MLP once per new token,
// and causal attention: the query at position p scores keys 0..p (QK^T) and sums their values (PV),
// hd MACs per key and query head each. A kernel computing whole tiles on the diagonal does more.
double layer_required_macs(const kernels::scenario& s) {
  const auto& m = s.model_cfg;
  const double h = double(m.hidden_size), q = double(m.num_attention_heads * m.head_dim),
               kv = double(m.num_key_value_heads * m.head_dim), i = double(m.intermediate_size);
  double tokens = 0, keys = 0;  // keys: sum over new tokens of the positions they attend to
  for (const auto& c : s.step.prefill) {
    const double n = double(c.tokens), past = double(c.context);
    tokens += n;
    keys += n * past + n * (n + 1) / 2;
  }
  return tokens * (h * q + 2 * h * kv + q * h + 3 * h * i) +
         2.0 * double(m.num_attention_heads) * double(m.head_dim) * keys;
}

}  // namespace

int bench_roofline(const std::vector<std::string>& args) {
  po::options_description desc("bench roofline options");
  std::string decode_file = shipped("run/qwen3-8b_decode1_wide.yaml"),
              prefill_file = shipped("run/qwen3-0.6b_prefill2048.yaml"), zoo = shipped("models"), mode;
  int64_t layers = 1;
  desc.add_options()("decode", po::value(&decode_file)->default_value(decode_file), "(a) decode scenario")(
      "prefill", po::value(&prefill_file)->default_value(prefill_file), "(b) prefill scenario")(
      "zoo", po::value(&zoo)->default_value(zoo), "folder of the model zoo")(
      "layers", po::value(&layers)->default_value(layers), "layers simulated (one pipeline stage: pp = 1)")(
      "mode", po::value(&mode), "at|lt: override NoC, HBM and SRAM modes")(
      "perfmodel", "also print the perfmodel's time (first-principles parameters)");
  po::variables_map vm;
  if (!parse("npuvp bench roofline [--decode FILE] [--prefill FILE] [--layers N] [--mode at|lt]", desc, args, vm))
    return 0;
  if (layers < 1) throw usage_error("--layers must be 1 or more, not " + std::to_string(layers));
  std::vector<roofline_case> cases;
  for (const std::string& f : {decode_file, prefill_file}) {
    roofline_case c;
    c.s = kernels::load_scenario(f, zoo);
    c.s.step.layers = layers;
    c.s.parallelism.pp = 1;
    kernels::check_scenario(c.s, f + " with --layers " + std::to_string(layers) + ", pp 1");
    override_mode(c.s.hw, mode);
    c.step = kernels::lower_step(c.s);
    cases.push_back(std::move(c));
  }
  const hw_config& hwa = cases[0].s.hw;
  const double hbm_peak = hwa.hbm.channels * hwa.hbm.peak_gbps();  // B/ns
  cases[0].bound_ns = layer_weight_bytes(cases[0].s) * double(layers) / hbm_peak;
  const hw_config& hwb = cases[1].s.hw;
  const double cores_b = double(cases[1].step.groups.size() * size_t(cases[1].s.parallelism.tp));
  const double peak_flops = 2.0 * cores_b * hwb.core.matrix.rows * hwb.core.matrix.cols *
                            hwb.core.matrix.macs_per_pe_per_cycle * hwb.core.clock_ghz;  // FLOP/ns, active cores
  if (cases[1].s.step.decode.batch > 0 || cases[1].s.step.prefill.empty())
    throw error(prefill_file + ": case (b) needs a prefill-only step");
  const double required_macs = layer_required_macs(cases[1].s) * double(layers);
  cases[1].bound_ns = 2.0 * required_macs / peak_flops;

  std::vector<isolated_job> jobs;
  for (const auto& c : cases)
    jobs.push_back([&c] {
      const stopwatch clock;
      const stats_writer st = run_chip(c.s.hw, c.step.programs, {});
      return nlohmann::json{{"ns", st.value(c.s.hw.name, "elapsed_ns")}, {"wall_s", clock.seconds()}};
    });
  const auto results = run_isolated(jobs, 1);
  const char* what[] = {"(a) decode, weights streamed", "(b) prefill, FLOP bound"};
  std::cout << std::fixed << std::setprecision(3);
  for (size_t k = 0; k < cases.size(); ++k) {
    const auto& c = cases[k];
    const double ns = results[k]["ns"].get<double>();
    std::cout << what[k] << ": " << c.s.model_cfg.name << ", " << layers << " layer(s), tp " << c.s.parallelism.tp
              << " dp " << c.s.parallelism.dp << " on " << c.s.hw.name << "\n"
              << "  TLM simulated time   " << ns / 1e3 << " us (wall " << results[k]["wall_s"].get<double>() << " s)\n"
              << "  roofline             " << c.bound_ns / 1e3 << " us"
              << (k == 0 ? " (layer weight bytes / total HBM peak)"
                         : " (required FLOPs: projections, MLP and causal attention over keys <= query,\n"
                           "                       / matrix peak of the " +
                               std::to_string(int(cores_b)) + " active cores)")
              << "\n  ratio                " << ns / c.bound_ns
              << (k == 0 ? " (acceptance: 1..2)" : " (acceptance: <= 2)") << "\n";
    if (k == 1)
      std::cout << "  matmul work          " << 2e-9 * required_macs << " GFLOP required, "
                << 2e-9 * double(c.step.summary.matmul_macs)
                << " GFLOP issued (diagonal tiles whole, masked keys included)\n";
    if (vm.count("perfmodel")) {
      const double perf_ns = perf::evaluate(c.s.hw, c.step.programs, perf::first_principles_params(c.s.hw)).time_ns;
      std::cout << "  perfmodel            " << perf_ns / 1e3 << " us (ratio " << perf_ns / c.bound_ns << ")\n";
    }
  }
  return 0;
}

}  // namespace npuvp::cli
