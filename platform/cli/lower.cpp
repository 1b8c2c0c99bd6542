#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <random>

#include "kernels/encoding.h"
#include "kernels/mem_access.h"
#include "kernels/partition/partition.h"
#include "kernels/reference_executor.h"
#include "kernels/step_lowering.h"
#include "kernels/stream_summary.h"
#include "kernels/transformer_layer.h"
#include "platform/base/file_io.h"
#include "platform/cli/command.h"
#include "platform/config/hw_config.h"

namespace npuvp::cli {

namespace {

// Fills A and B with seeded values, runs the programs and returns the largest
// |C - A*B| over all groups (host reference in double).
double check_on_reference(const std::vector<kernels::program>& programs, const std::vector<kernels::gemm_job>& jobs,
                          uint64_t sram_bytes, uint64_t hbm_bytes, int cores, int64_t seed) {
  // Inputs are drawn in fp32 and rounded to the operand type, so the host
  // reference multiplies exactly what the device sees.
  kernels::reference_executor ex(cores, sram_bytes, hbm_bytes);
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<std::vector<float>> a, b;
  for (const auto& j : jobs) {
    a.emplace_back(uint64_t(j.m) * j.k);
    b.emplace_back(uint64_t(j.k) * j.n);
    for (auto* m : {&a.back(), &b.back()})
      for (auto& x : *m)
        x = j.type == kernels::dtype::bf16 ? kernels::from_bf16(kernels::to_bf16(dist(rng))) : dist(rng);
    ex.write_floats(kernels::mem_space::hbm, 0, j.a, a.back(), j.type);
    ex.write_floats(kernels::mem_space::hbm, 0, j.b, b.back(), j.type);
  }
  ex.run(programs);
  double worst = 0;
  for (size_t g = 0; g < jobs.size(); ++g) {
    const auto& j = jobs[g];
    const auto c = ex.read_floats(kernels::mem_space::hbm, 0, j.c, uint64_t(j.m) * j.n);
    for (uint32_t r = 0; r < j.m; ++r)
      for (uint32_t col = 0; col < j.n; ++col) {
        double ref = 0;
        for (uint32_t k = 0; k < j.k; ++k) ref += double(a[g][uint64_t(r) * j.k + k]) * b[g][uint64_t(k) * j.n + col];
        const double err = std::abs(ref - c[uint64_t(r) * j.n + col]);
        if (!(err <= worst)) worst = err;  // NaN counts as worst
      }
  }
  return worst;
}

// Prints the static figures of a lowering and writes the optional outputs.
void report(const std::vector<kernels::program>& programs, const hw_config& hw, uint64_t sram_peak,
            const std::string& out_dir, stats_writer& stats) {
  // Streams that address memory the chip does not have are not written (npuvp perf would reject them).
  for (size_t c = 0; c < programs.size(); ++c) {
    const std::string beyond =
        kernels::range_error(programs[c], hw.core.sram.capacity_bytes(), hw.hbm.capacity_bytes());
    if (!beyond.empty())
      throw error("core " + std::to_string(c) + " " + beyond + ": the lowering does not fit " + hw.name);
  }
  const kernels::stream_summary s = kernels::summarize(programs, hw.mesh.width);
  std::cout << "  commands " << s.commands << " (dma " << s.per_engine[0] << ", matrix " << s.per_engine[1]
            << ", vector " << s.per_engine[2] << ", sync " << s.per_engine[3] << "), sync commands " << s.sync_commands
            << "\n"
            << "  MACs " << s.matmul_macs << ", busiest core " << s.busiest_core << " with " << s.busiest_core_macs
            << "\n"
            << "  HBM read " << s.hbm_read_bytes << " B, written " << s.hbm_write_bytes << " B\n"
            << "  NoC payload " << s.noc_bytes << " B, " << s.noc_hop_bytes << " B*hops (mean " << std::fixed
            << std::setprecision(2) << (s.noc_bytes ? double(s.noc_hop_bytes) / double(s.noc_bytes) : 0.0) << " hops)\n"
            << "  peak SRAM per core " << sram_peak / 1024 << " KiB of " << hw.core.sram.capacity_kib << " KiB\n";
  if (!out_dir.empty()) {
    make_folder(out_dir);
    int written = 0;
    for (size_t c = 0; c < programs.size(); ++c) {
      if (programs[c].size() <= 1) continue;  // just `end`
      const auto bytes = kernels::encode_stream({static_cast<uint16_t>(c), programs[c]});
      write_file_atomically(out_dir + "/core_" + std::to_string(c) + ".bin", std::string(bytes.begin(), bytes.end()));
      ++written;
    }
    std::cout << "  wrote " << written << " stream files to " << out_dir << "\n";
  }
  stats.meta("seed", hw.seed);
  s.report_stats(stats);
}

uint64_t sram_peak(const kernels::lowering_context& ctx) {
  uint64_t peak = 0;
  for (int c = 0; c < ctx.cores(); ++c) peak = std::max(peak, ctx.sram_used(c));
  return peak;
}

}  // namespace

int lower_gemm(const std::vector<std::string>& args) {
  po::options_description desc("lower gemm options");
  std::string hw_file, strategy_name, placement_name, map_file, out_dir, stats_file, type_name;
  int groups = 1, group_size = 0;
  uint32_t m = 0, k = 0, n = 0;
  desc.add_options()("hw", po::value(&hw_file)->required(), "hardware YAML file")(
      "strategy", po::value(&strategy_name)->default_value("mn_split"), "mn_split, k_split, mnk_2d or megatron")(
      "placement", po::value(&placement_name)->default_value("ring_block"),
      "linear_sequential, linear_interleaved, mesh_block, ring_block or explicit")(
      "map", po::value(&map_file), "YAML group map for --placement explicit")(
      "groups", po::value(&groups)->default_value(1), "G: parallel groups, each computing its own GEMM")(
      "group-size", po::value(&group_size), "n: cores per group (default: all cores / G)")(
      "m", po::value(&m)->required(), "rows of A and C")("k", po::value(&k)->required(), "columns of A, rows of B")(
      "n", po::value(&n)->required(), "columns of B and C")("dtype", po::value(&type_name)->default_value("fp32"),
                                                            "element type of A and B: fp32 or bf16 (C is fp32)")(
      "out", po::value(&out_dir), "write one stream file per busy core: DIR/core_<id>.bin")(
      "stats", po::value(&stats_file), "write the figures as a statistics JSON file")(
      "check", "run the streams on the reference executor with seeded random A, B and report max |error|");
  po::variables_map vm;
  if (!parse("npuvp lower gemm --hw FILE --m M --k K --n N [options]", desc, args, vm)) return 0;
  if (type_name != "fp32" && type_name != "bf16") throw usage_error("--dtype must be fp32 or bf16");
  const auto type = type_name == "bf16" ? kernels::dtype::bf16 : kernels::dtype::fp32;
  const uint64_t eb = kernels::dtype_bytes(type);
  const hw_config hw = load_hw_config(hw_file);
  const int cores = hw.mesh.width * hw.mesh.height;
  if (groups < 1) throw usage_error("--groups must be >= 1");
  if (!vm.count("group-size")) group_size = cores / groups;
  if (group_size < 1) throw usage_error("--group-size must be >= 1");
  const auto strategy = kernels::make_partition(strategy_name);
  const auto placement = kernels::make_placement(placement_name, map_file);
  const auto map = placement->place(groups, group_size, hw.mesh.width, hw.mesh.height);
  std::vector<kernels::gemm_job> jobs;
  uint64_t hbm = 0;
  for (int g = 0; g < groups; ++g) {
    kernels::gemm_job j;
    j.m = m;
    j.k = k;
    j.n = n;
    j.type = type;
    j.a = hbm;
    j.b = j.a + uint64_t(m) * k * eb;
    j.c = j.b + uint64_t(k) * n * eb;
    hbm = j.c + uint64_t(m) * n * 4;
    jobs.push_back(j);
  }
  kernels::lowering_context ctx(hw);
  kernels::lower_gemm(ctx, *strategy, map, jobs);
  const uint64_t peak = sram_peak(ctx);
  const auto programs = ctx.finish();
  std::cout << strategy_name << " on " << placement_name << ": " << groups << " x " << group_size << " cores, C[" << m
            << " x " << n << "] = A[" << m << " x " << k << "] B, A and B " << type_name << "\n";
  stats_writer stats;
  stats.meta("strategy", strategy_name);
  stats.meta("placement", placement_name);
  report(programs, hw, peak, out_dir, stats);
  if (vm.count("check")) {
    const double err = check_on_reference(programs, jobs, peak, hbm, cores, hw.seed);
    std::cout << "  reference executor: max |C - A*B| = " << std::scientific << std::setprecision(2) << err << " (seed "
              << hw.seed << ")\n";
    stats.scalar("lowering", "check_max_abs_error", err, "", "largest |C - A*B| on the reference executor");
    if (!(err < 1e-2)) throw error("lowered GEMM is wrong: max |C - A*B| = " + std::to_string(err));
  }
  if (!stats_file.empty()) stats.write(stats_file);
  return 0;
}

int lower_layer(const std::vector<std::string>& args) {
  po::options_description desc("lower layer options");
  std::string hw_file, model_name, zoo, placement_name, map_file, out_dir, stats_file, weights_name;
  int cores = 0;
  uint32_t sequences = 1, past = 0, fresh = 1, kv_tile = 128, weight_tile = 128;
  desc.add_options()("hw", po::value(&hw_file)->required(), "hardware YAML file")(
      "model", po::value(&model_name)->required(), "zoo model name (e.g. qwen3-8b) or a config.json path")(
      "zoo", po::value(&zoo)->default_value(shipped("models")), "folder of the model zoo")(
      "cores", po::value(&cores), "tensor-parallel group size (default: all cores; must divide the KV heads)")(
      "placement", po::value(&placement_name)->default_value("ring_block"), "placement policy of the group")(
      "map", po::value(&map_file), "YAML group map for --placement explicit")(
      "sequences", po::value(&sequences)->default_value(1), "sequences in the batch")(
      "past", po::value(&past)->default_value(0), "tokens already in each sequence's KV cache")(
      "new", po::value(&fresh)->default_value(1), "tokens per sequence this step (1: decode)")(
      "kv-tile", po::value(&kv_tile)->default_value(128), "keys per attention tile")(
      "weight-tile", po::value(&weight_tile)->default_value(128), "weight columns per streamed tile")(
      "weights", po::value(&weights_name)->default_value("bf16"),
      "projection/MLP weight type: bf16, fp8 or int8 (activations rounded to bf16 before each matmul) or fp32")(
      "out", po::value(&out_dir), "write one stream file per busy core: DIR/core_<id>.bin")(
      "stats", po::value(&stats_file), "write the figures as a statistics JSON file");
  po::variables_map vm;
  if (!parse("npuvp lower layer --hw FILE --model NAME [options]", desc, args, vm)) return 0;
  kernels::dtype wtype = kernels::dtype::fp32;
  if (weights_name == "bf16")
    wtype = kernels::dtype::bf16;
  else if (weights_name == "fp8")
    wtype = kernels::dtype::fp8;
  else if (weights_name == "int8")
    wtype = kernels::dtype::int8;
  else if (weights_name != "fp32")
    throw usage_error("--weights must be fp32, bf16, fp8 or int8");
  const hw_config hw = load_hw_config(hw_file);
  const kernels::model_config model = kernels::load_model_config(model_name, zoo);
  if (!vm.count("cores")) cores = hw.mesh.width * hw.mesh.height;
  if (cores < 1) throw usage_error("--cores must be >= 1");
  if (sequences < 1 || fresh < 1) throw usage_error("--sequences and --new must be >= 1 (a step with tokens)");
  const auto map = kernels::make_placement(placement_name, map_file)->place(1, cores, hw.mesh.width, hw.mesh.height);
  // HBM: the layer's fp32 weights, then the KV cache, then the activations.
  const uint64_t h = model.hidden_size, hd = model.head_dim, H = model.num_attention_heads,
                 KV = model.num_key_value_heads, I = model.intermediate_size;
  uint64_t top = 0;
  auto place = [&](uint64_t elems, uint64_t elem_bytes) {
    const uint64_t at = top;
    top += (elems * elem_bytes + 63) / 64 * 64;
    return at;
  };
  const uint64_t eb = kernels::dtype_bytes(wtype);
  kernels::layer_job job;
  job.weight_type = wtype;
  auto& w = job.weights;
  w.input_norm = place(h, 4);
  w.q = place(h * H * hd, eb);
  w.k = place(h * KV * hd, eb);
  w.v = place(h * KV * hd, eb);
  w.q_norm = place(hd, 4);
  w.k_norm = place(hd, 4);
  w.o = place(H * hd * h, eb);
  w.post_norm = place(h, 4);
  w.gate = place(h * I, eb);
  w.up = place(h * I, eb);
  w.down = place(I * h, eb);
  job.batch.assign(sequences, kernels::sequence{past, fresh});
  job.cache.max_positions = past + fresh;
  job.cache.k = place(uint64_t(sequences) * KV * job.cache.max_positions * hd, 4);
  job.cache.v = place(uint64_t(sequences) * KV * job.cache.max_positions * hd, 4);
  job.x_in = place(uint64_t(sequences) * fresh * h, 4);
  job.x_out = place(uint64_t(sequences) * fresh * h, 4);
  job.kv_tile = kv_tile;
  job.weight_tile = weight_tile;
  if (top > hw.hbm.capacity_bytes())
    throw error(model.name + " layer: its HBM footprint (weights, KV cache of " + std::to_string(past + fresh) +
                " positions, activations) of " + std::to_string(top) + " B exceeds the " +
                std::to_string(hw.hbm.capacity_bytes()) + " B of " + hw_file);
  kernels::lowering_context ctx(hw);
  kernels::lower_transformer_layer(ctx, model, job, kernels::core_ids(map[0], hw.mesh.width));
  const uint64_t peak = sram_peak(ctx);
  const auto programs = ctx.finish();
  std::cout << model.name << " layer on " << cores << " cores (" << placement_name << "): " << sequences
            << " sequences x " << fresh << " new tokens after " << past << ", " << weights_name
            << " weights, fp32 activations and KV cache, HBM footprint " << top << " B\n";
  stats_writer stats;
  stats.meta("model", model.name);
  stats.meta("placement", placement_name);
  report(programs, hw, peak, out_dir, stats);
  if (!stats_file.empty()) stats.write(stats_file);
  return 0;
}

}  // namespace npuvp::cli

namespace npuvp::cli {

int lower_step(const std::vector<std::string>& args) {
  po::options_description desc("lower step options");
  std::string file, zoo, out_dir, stats_file;
  desc.add_options()("scenario", po::value(&file)->required(), "scenario YAML file (npuvp scenario describe)")(
      "zoo", po::value(&zoo)->default_value(shipped("models")), "folder of the model zoo")(
      "per-layer", "list every operator of every layer (default: operators summed over layers)")(
      "out", po::value(&out_dir), "write one stream file per busy core: DIR/core_<id>.bin")(
      "stats", po::value(&stats_file), "write the figures as a statistics JSON file");
  po::positional_options_description pos;
  pos.add("scenario", 1);
  po::variables_map vm;
  if (!parse("npuvp lower step SCENARIO [options]", desc, args, vm, &pos)) return 0;
  const kernels::scenario s = kernels::load_scenario(file, zoo);
  const kernels::lowered_step step = kernels::lower_step(s);
  const auto& p = s.parallelism;
  std::cout << file << ": " << s.model_cfg.name << " (" << s.weights_dtype << " weights, " << step.layers.size()
            << " layers) on " << s.hw.name << " " << s.hw.mesh.width << "x" << s.hw.mesh.height << ": tp " << p.tp
            << " x pp " << p.pp << " x dp " << p.dp << ", " << p.partition << ", " << p.placement << ", weights in "
            << s.residency.weights << ", KV in " << s.residency.kv << "\n";
  for (size_t d = 0; d < step.batches.size(); ++d) {
    uint64_t tokens = 0;
    for (const auto& q : step.batches[d]) tokens += q.new_tokens;
    std::cout << "  replica " << d << ": " << step.batches[d].size() << " sequences, " << tokens << " tokens\n";
  }
  std::cout << "  HBM laid out " << step.hbm_bytes << " B of " << step.hbm_capacity << " B\n";
  for (const auto& n : step.notes) std::cout << "  note: " << n << "\n";
  // Operators, summed over layers unless --per-layer ("layer3.qkv_proj" -> "qkv_proj").
  std::vector<kernels::op_figures> rows;
  for (const auto& op : step.ops) {
    std::string name = op.name.empty() ? "(unlabelled)" : op.name;
    if (!vm.count("per-layer") && name.rfind("layer", 0) == 0 && name.find('.') != std::string::npos)
      name = name.substr(name.find('.') + 1);
    auto it = std::find_if(rows.begin(), rows.end(), [&](const kernels::op_figures& r) { return r.name == name; });
    if (it == rows.end()) it = rows.insert(rows.end(), kernels::op_figures{name, 0, 0, 0, 0});
    it->commands += op.commands;
    it->macs += op.macs;
    it->hbm_bytes += op.hbm_bytes;
    it->noc_bytes += op.noc_bytes;
  }
  std::cout << "  " << std::left << std::setw(22) << "operator" << std::right << std::setw(12) << "commands"
            << std::setw(18) << "MACs" << std::setw(16) << "HBM B" << std::setw(16) << "NoC B"
            << "\n";
  for (const auto& r : rows) {
    if (r.commands == 0) continue;
    std::cout << "  " << std::left << std::setw(22) << r.name << std::right << std::setw(12) << r.commands
              << std::setw(18) << r.macs << std::setw(16) << r.hbm_bytes << std::setw(16) << r.noc_bytes << "\n";
  }
  stats_writer stats;
  stats.meta("scenario", file);
  for (const auto& op : step.ops) {
    if (op.commands == 0 || op.name.empty()) continue;
    const std::string g = "lowering.op." + op.name;
    stats.scalar(g, "commands", double(op.commands), "commands", "commands labelled with this operator");
    stats.scalar(g, "macs", double(op.macs), "MAC", "multiply-accumulates of this operator");
    stats.scalar(g, "hbm_bytes", double(op.hbm_bytes), "B", "HBM bytes read and written by this operator");
    stats.scalar(g, "noc_bytes", double(op.noc_bytes), "B", "core-to-core payload of this operator");
  }
  report(step.programs, s.hw, step.sram_peak, out_dir, stats);
  if (!stats_file.empty()) stats.write(stats_file);
  return 0;
}

}  // namespace npuvp::cli
