#include "kernels/step_lowering.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "kernels/lowering_context.h"
#include "kernels/placement/placement.h"
#include "platform/base/error.h"

namespace npuvp::kernels {

namespace {

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / (1024.0 * 1024.0));
  return buf;
}

// GiB, or MiB below 0.1 GiB (a tiny test HBM would print as 0.00 GiB).
std::string gib(uint64_t bytes) {
  if (bytes < (uint64_t(100) << 20)) return mib(bytes);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

// Bump allocator of named HBM regions, 256-byte aligned (one HBM interleave unit or less).
class hbm_layout {
 public:
  explicit hbm_layout(std::vector<hbm_region>& regions) : m_regions(regions) {}
  uint64_t take(const std::string& name, uint64_t bytes) {
    const uint64_t at = m_top;
    m_regions.push_back({name, at, bytes});
    m_top = (at + bytes + 255) / 256 * 256;
    return at;
  }
  // The next region starts at a multiple of `bytes`.
  void align(uint64_t bytes) { m_top = (m_top + bytes - 1) / bytes * bytes; }
  uint64_t top() const { return m_top; }

 private:
  std::vector<hbm_region>& m_regions;
  uint64_t m_top = 0;
};

// Per-operator figures: the programs split by op label, each part summarised.
std::vector<op_figures> per_op(const std::vector<program>& programs, const std::vector<std::string>& names,
                               int mesh_width) {
  std::vector<std::vector<program>> parts(names.size(), std::vector<program>(programs.size()));
  for (size_t core = 0; core < programs.size(); ++core)
    for (const auto& c : programs[core]) parts.at(op_of(c))[core].push_back(c);
  std::vector<op_figures> ops;
  for (size_t i = 0; i < names.size(); ++i) {
    const stream_summary s = summarize(parts[i], mesh_width);
    ops.push_back({names[i], s.commands, s.matmul_macs, s.hbm_read_bytes + s.hbm_write_bytes, s.noc_bytes});
  }
  return ops;
}

// The static token -> expert assignment of one MoE layer of one replica: for each of
// T tokens, num_experts_per_tok distinct experts drawn from the load distribution
// (uniform, or Zipf with exponent zipf_s over a seeded ranking of the experts),
// seeded by (moe.seed, layer, replica).
std::vector<std::vector<uint32_t>> route_tokens(const moe_config& moe, const model_config& model, uint32_t tokens,
                                                int layer, int replica) {
  std::seed_seq seq{static_cast<uint64_t>(moe.seed), static_cast<uint64_t>(layer), static_cast<uint64_t>(replica)};
  std::mt19937_64 rng(seq);
  const auto E = static_cast<size_t>(model.num_experts);
  std::vector<double> weight(E, 1.0);
  if (moe.distribution == "zipf") {
    std::vector<size_t> rank(E);
    for (size_t e = 0; e < E; ++e) rank[e] = e;
    std::shuffle(rank.begin(), rank.end(), rng);
    for (size_t e = 0; e < E; ++e) weight[rank[e]] = 1.0 / std::pow(double(e + 1), moe.zipf_s);
  }
  std::vector<std::vector<uint32_t>> out(tokens);
  for (auto& chosen : out) {
    std::vector<double> w = weight;
    for (int64_t j = 0; j < model.num_experts_per_tok; ++j) {  // without replacement
      std::discrete_distribution<size_t> pick(w.begin(), w.end());
      const size_t e = pick(rng);
      chosen.push_back(static_cast<uint32_t>(e));
      w[e] = 0;
    }
  }
  return out;
}

// A pass through the layers (step.chunk_tokens): consecutive token rows of a
// replica's batch, as pieces of consecutive sequences; a sequence split over
// passes continues after its earlier pieces, which are in the KV cache by then
// (chunked prefill: Agrawal et al., "Taming Throughput-Latency Tradeoff in LLM
// Inference with Sarathi-Serve", OSDI 2024).
struct pass {
  std::vector<sequence> pieces;
  uint32_t first_sequence = 0;  // index in the batch of pieces[0]'s sequence
  uint32_t row0 = 0, rows = 0;  // the batch's token rows [row0, row0 + rows)
};

// The batch in passes of at most `chunk` rows (0: one pass).
std::vector<pass> split_passes(const std::vector<sequence>& batch, uint32_t chunk) {
  std::vector<pass> out(1);
  uint32_t row = 0;
  for (size_t i = 0; i < batch.size(); ++i)
    for (uint32_t past = batch[i].past, left = batch[i].new_tokens; left > 0;) {
      if (chunk && out.back().rows == chunk) out.push_back({{}, static_cast<uint32_t>(i), row, 0});
      pass& p = out.back();
      const uint32_t n = chunk ? std::min(left, chunk - p.rows) : left;
      p.pieces.push_back({past, n});
      p.rows += n, row += n, past += n, left -= n;
    }
  return out;
}

}  // namespace

lowered_step lower_step(const scenario& s) {
  const hw_config& hw = s.hw;
  const model_config& model = s.model_cfg;
  const auto& par = s.parallelism;
  const int tp = static_cast<int>(par.tp), pp = static_cast<int>(par.pp), dp = static_cast<int>(par.dp);
  const std::string where = s.origin.empty() ? std::string("scenario") : s.origin;
  // k_split may also spread over a multiple of the KV heads (lower_transformer_layer: wide k_split).
  const bool wide = par.partition == "k_split" && tp > model.num_key_value_heads;
  if (wide ? tp % model.num_key_value_heads != 0 || s.residency.kv != "hbm" : model.num_key_value_heads % tp != 0)
    throw error(where + ": parallelism.tp (" + std::to_string(tp) + ") must divide " + model.name +
                "'s num_key_value_heads (" + std::to_string(model.num_key_value_heads) +
                "), or with partition k_split and the KV cache in HBM be a multiple of it");

  lowered_step out;
  if (par.partition == "mnk_2d")
    out.notes.push_back(
        "partition mnk_2d: the MLP is 2-D split (row all-reduce, column all-gather on the p x q grid); "
        "attention stays split by heads (QKV column-, o_proj row-parallel)");
  if (par.partition == "mn_split")
    out.notes.push_back(
        "partition mn_split: the MLP is MN-split (token rows per rank, weight column blocks rotated, "
        "output all-gathered); attention stays split by heads (QKV column-, o_proj row-parallel)");
  if (model.is_moe())
    out.notes.push_back("MoE: token->expert assignment drawn from moe.distribution (seed " +
                        std::to_string(s.moe.seed) +
                        "), static per step; expert e on rank e % tp, token rows dispatched to the experts' ranks "
                        "and outputs combined at their owners all-to-all (one send per token and choice), then "
                        "all-gathered");
  out.notes.push_back("embedding, final norm and LM head are not lowered; norm weights are read from HBM");

  // Placement: group g = replica * pp + stage.
  const auto policy = make_placement(par.placement, par.placement_file);
  const group_map map = policy->place(dp * pp, tp, hw.mesh.width, hw.mesh.height);
  check_group_map(map, dp * pp, tp, hw.mesh.width, hw.mesh.height, where);
  for (const auto& g : map) out.groups.push_back(core_ids(g, hw.mesh.width));

  // Layers over stages, sequences over replicas.
  const int layers = static_cast<int>(s.step.layers ? s.step.layers : model.num_hidden_layers);
  for (int l = 0; l < layers; ++l) out.layers.push_back(l);
  for (int st = 0; st < pp; ++st) {
    const auto [b, e] = split_range(layers, pp, st);
    out.stage_layers.emplace_back(static_cast<int>(b), static_cast<int>(e));
  }
  std::vector<sequence> all;
  for (const auto& p : s.step.prefill)
    all.push_back({static_cast<uint32_t>(p.context), static_cast<uint32_t>(p.tokens)});
  for (int64_t i = 0; i < s.step.decode.batch; ++i) all.push_back({static_cast<uint32_t>(s.step.decode.context), 1});
  for (int d = 0; d < dp; ++d) {
    const auto [b, e] = split_range(all.size(), dp, d);
    out.batches.emplace_back(all.begin() + b, all.begin() + e);
  }

  const uint64_t h = model.hidden_size, hd = model.head_dim, H = model.num_attention_heads,
                 KV = model.num_key_value_heads, I = model.intermediate_size;
  const uint64_t eb = dtype_bytes(s.weights);
  const bool kv_in_sram = s.residency.kv == "sram", resident = s.residency.weights == "sram";
  const uint64_t sram = hw.core.sram.capacity_bytes();
  auto positions = [](const std::vector<sequence>& batch) {
    uint32_t m = 0;
    for (const auto& q : batch) m = std::max(m, q.past + q.new_tokens);
    return m;
  };
  auto tokens = [](const std::vector<sequence>& batch) {
    uint32_t t = 0;
    for (const auto& q : batch) t += q.new_tokens;
    return t;
  };

  // What must stay in each core's SRAM for the whole step: resident weight slices and the KV cache.
  const resident_slices slices = resident_layout(model, par.partition, tp, s.weights);
  for (int d = 0; d < dp; ++d)
    for (int st = 0; st < pp; ++st) {
      const uint64_t n_layers = out.stage_layers[st].second - out.stage_layers[st].first;
      const uint64_t w = resident ? n_layers * slices.bytes : 0;
      const uint64_t kv =
          kv_in_sram ? n_layers * 2 * out.batches[d].size() * (KV / tp) * positions(out.batches[d]) * hd * 4 : 0;
      const std::string stage = "stage " + std::to_string(st) + (dp > 1 ? " of replica " + std::to_string(d) : "");
      if (w > sram)
        throw error(where + ": weights of " + stage + " need " + mib(w) + " per core, SRAM has " + mib(sram) +
                    ", over by " + mib(w - sram) + " (" + std::to_string(n_layers) + " layers x " + mib(slices.bytes) +
                    "; use residency.weights: hbm, more tp or pp)");
      if (w + kv > sram)
        throw error(where + ": KV cache of " + stage + " needs " + mib(kv) + " per core" +
                    (w ? " besides " + mib(w) + " of resident weights" : "") + ", SRAM has " + mib(sram) +
                    ", over by " + mib(w + kv - sram) + " (use residency.kv: hbm, more tp or pp)");
    }

  // HBM: weights of the simulated layers, then per replica the KV caches and
  // activations. The weights and KV caches of each layer after the first start
  // at a multiple of the DRAM row window, so every layer meets the same
  // channels, banks and columns (and the perfmodel can repeat it:
  // docs/perfmodel.md, "Repeated segments").
  hbm_layout hbm(out.hbm);
  const uint64_t row_window = hw.hbm.row_window_bytes();
  for (int l : out.layers) {
    const std::string p = "layer" + std::to_string(l) + ".";
    if (l != out.layers.front()) hbm.align(row_window);
    layer_weights w;
    w.input_norm = hbm.take(p + "input_norm", h * 4);
    w.q = hbm.take(p + "q_proj", h * H * hd * eb);
    w.k = hbm.take(p + "k_proj", h * KV * hd * eb);
    w.v = hbm.take(p + "v_proj", h * KV * hd * eb);
    w.q_norm = hbm.take(p + "q_norm", hd * 4);
    w.k_norm = hbm.take(p + "k_norm", hd * 4);
    w.o = hbm.take(p + "o_proj", H * hd * h * eb);
    w.post_norm = hbm.take(p + "post_attention_norm", h * 4);
    if (model.layer_is_moe(l)) {
      const uint64_t E = model.num_experts, mI = model.moe_intermediate_size;
      w.router = hbm.take(p + "router", h * E * eb);
      w.experts_gate = hbm.take(p + "experts.gate_proj", E * h * mI * eb);
      w.experts_up = hbm.take(p + "experts.up_proj", E * h * mI * eb);
      w.experts_down = hbm.take(p + "experts.down_proj", E * mI * h * eb);
    } else {
      w.gate = hbm.take(p + "gate_proj", h * I * eb);
      w.up = hbm.take(p + "up_proj", h * I * eb);
      w.down = hbm.take(p + "down_proj", I * h * eb);
    }
    out.weights.push_back(w);
  }
  out.kv.resize(dp);
  out.routing.assign(dp, std::vector<std::vector<std::vector<uint32_t>>>(layers));
  for (int d = 0; d < dp; ++d) {
    const std::string p = "replica" + std::to_string(d) + ".";
    const uint64_t T = tokens(out.batches[d]);
    out.x_in.push_back(hbm.take(p + "x_in", T * h * 4));
    out.x_out.push_back(hbm.take(p + "x_out", T * h * 4));
    if (kv_in_sram) continue;
    for (int l : out.layers) {
      if (l != out.layers.front()) hbm.align(row_window);
      kv_cache_layout c;
      c.max_positions = positions(out.batches[d]);
      const uint64_t bytes = out.batches[d].size() * KV * c.max_positions * hd * 4;
      c.k = hbm.take(p + "layer" + std::to_string(l) + ".k_cache", bytes);
      c.v = hbm.take(p + "layer" + std::to_string(l) + ".v_cache", bytes);
      out.kv[d].push_back(c);
    }
  }
  out.hbm_bytes = hbm.top();
  out.hbm_capacity = hw.hbm.capacity_bytes();
  if (out.hbm_bytes > out.hbm_capacity)
    throw error(where + ": HBM does not fit: the step needs " + gib(out.hbm_bytes) + " (weights of " +
                std::to_string(layers) + " layers, KV caches and activations), the chip has " + gib(out.hbm_capacity) +
                " (" + std::to_string(hw.hbm.channels) + " channels x " + gib(hw.hbm.org.capacity_bytes()) +
                "), over by " + gib(out.hbm_bytes - out.hbm_capacity));

  lowering_context ctx(hw);
  // Resident weight slices: allocated first, the same offsets on every core of a stage
  // (stages of all replicas hold the same layers at the same offsets).
  if (resident)
    for (int st = 0; st < pp; ++st) {
      std::vector<int> cores;
      for (int d = 0; d < dp; ++d)
        for (int c : out.groups[d * pp + st]) cores.push_back(c);
      for (int l = out.stage_layers[st].first; l < out.stage_layers[st].second; ++l)
        out.resident_weights.push_back(
            ctx.alloc_symmetric(cores, slices.bytes, "layer" + std::to_string(l) + " resident weights"));
    }
  for (int d = 0; d < dp; ++d) {
    const auto& batch = out.batches[d];
    if (batch.empty()) continue;
    const uint32_t T = tokens(batch);
    const std::vector<pass> passes = split_passes(batch, static_cast<uint32_t>(s.step.chunk_tokens));
    uint32_t pass_rows = 0;
    for (const pass& p : passes) pass_rows = std::max(pass_rows, p.rows);
    if (passes.size() > 1 && d == 0)
      out.notes.push_back("step.chunk_tokens: " + std::to_string(T) + " token rows of replica 0 in " +
                          std::to_string(passes.size()) + " passes of at most " + std::to_string(s.step.chunk_tokens) +
                          " through the layers (chunked prefill: weights read once per pass)");
    std::vector<int> replica_cores;
    for (int st = 0; st < pp; ++st)
      for (int c : out.groups[d * pp + st]) replica_cores.push_back(c);
    // The activations stay in SRAM, at the same offset on every core of the replica, so
    // one stage sends them straight into the next stage's buffer.
    // A step of one layer on one stage: the layer reads x from HBM itself (its rows only when it
    // stores only the rows it reduced: transformer_layer.cpp's sequence-parallel input).
    const bool x_from_hbm = pp == 1 && out.stage_layers[0].second - out.stage_layers[0].first == 1;
    const uint32_t x =
        x_from_hbm ? 0 : ctx.alloc_symmetric(replica_cores, uint64_t(pass_rows) * h * 4, "activations x");
    if (kv_in_sram) {
      const uint64_t bytes = batch.size() * (KV / tp) * positions(batch) * hd * 4;
      for (int st = 0; st < pp; ++st)
        for (int l = out.stage_layers[st].first; l < out.stage_layers[st].second; ++l) {
          kv_cache_layout c;
          c.space = mem_space::sram;
          c.max_positions = positions(batch);
          const std::string p = "layer" + std::to_string(l);
          c.k = ctx.alloc_symmetric(out.groups[d * pp + st], bytes, p + " K cache");
          c.v = ctx.alloc_symmetric(out.groups[d * pp + st], bytes, p + " V cache");
          out.kv[d].push_back(c);
        }
    }
    // Several passes over several stages: a stage sends a pass into the next stage's x only once that
    // stage has finished the pass before (a credit on this semaphore), as the stages pipeline the passes.
    const uint16_t x_free = passes.size() > 1 && pp > 1 ? ctx.new_semaphore() : 0;
    for (int st = 0; st < pp; ++st) {
      const std::vector<int>& group = out.groups[d * pp + st];
      const uint16_t barrier = ctx.new_barrier_group();
      const auto [first, last] = out.stage_layers[st];
      for (size_t k = 0; k < passes.size(); ++k) {
        const pass& ps = passes[k];
        const uint64_t rows_at = uint64_t(ps.row0) * h * 4;
        const auto bytes = static_cast<uint32_t>(ps.rows * h * 4);
        for (int r = 0; r < tp && !x_from_hbm; ++r) {
          if (st == 0) {
            ctx.begin_op("input");
            load_2d(ctx, group[r], out.x_in[d] + rows_at, h, x, h, ps.rows, h);
          } else {
            ctx.begin_op("pipeline_send");
            ctx.emit(group[r], recv_cmd{engine::dma, static_cast<uint16_t>(out.groups[d * pp + st - 1][r]), x, bytes,
                                        static_cast<uint32_t>(d * pp + st)});
          }
        }
        for (int l = first; l < last; ++l) {
          const auto mark = ctx.mark(group);
          layer_job job;
          job.weights = out.weights[l];
          if (resident) {
            const uint64_t base = out.resident_weights[l];
            for (int w = 0; w < layer_weight_count; ++w) job.weights.matrix(layer_weight(w)) = base + slices.offset[w];
            job.weights_resident = true;
          }
          job.weights_tiled = !resident && s.residency.weight_layout == "tiled";
          job.stagger_tiles = s.residency.tile_order == "staggered";
          // The pass's sequences from its first one on: the cache is [sequence][kv head][position][hd]
          // (in SRAM, a rank's kv heads only).
          job.cache = out.kv[d][l];
          const uint64_t cache_heads = job.cache.space == mem_space::sram ? KV / tp : KV;
          const uint64_t skipped = uint64_t(ps.first_sequence) * cache_heads * job.cache.max_positions * hd * 4;
          job.cache.k += skipped;
          job.cache.v += skipped;
          job.batch = ps.pieces;
          job.x_out = out.x_out[d] + rows_at;
          job.x_sram = x_from_hbm ? int64_t(-1) : int64_t(x);
          job.x_in = out.x_in[d] + rows_at;
          job.store_out = st == pp - 1 && l == last - 1;
          job.out_rows_only = job.store_out;  // nothing reads x in SRAM after the step's last layer
          job.kv_tile = static_cast<uint32_t>(s.step.kv_tile);
          job.weight_tile = static_cast<uint32_t>(s.step.weight_tile);
          job.weight_type = s.weights;
          job.op_prefix = "layer" + std::to_string(l);
          job.split_k = par.partition == "k_split";
          job.split_mn = par.partition == "mn_split";
          job.split_2d = par.partition == "mnk_2d";
          if (model.layer_is_moe(l)) {  // the step's routing, the pass's rows of it
            auto& routing = out.routing[d][l];
            if (routing.empty()) routing = route_tokens(s.moe, model, T, l, d);
            job.experts.assign(routing.begin() + ps.row0, routing.begin() + ps.row0 + ps.rows);
          }
          lower_transformer_layer(ctx, model, job, group);
          ctx.release(mark);
          // The next layer (or pass) reuses this one's SRAM buffers and reads the KV cache it wrote:
          // everything of this layer on the group happens before (a barrier waits for every engine of the core).
          ctx.begin_op("layer_barrier");
          for (int c : group) ctx.emit(c, barrier_cmd{engine::sync, barrier, static_cast<uint32_t>(tp)});
        }
        if (st < pp - 1) {
          ctx.begin_op("pipeline_send");
          for (int r = 0; r < tp; ++r) {
            if (k > 0) ctx.emit(group[r], wait_cmd{engine::dma, x_free, 1});
            ctx.emit(group[r], send_cmd{engine::dma, static_cast<uint16_t>(out.groups[d * pp + st + 1][r]), x, x, bytes,
                                        static_cast<uint32_t>(d * pp + st + 1)});
          }
        }
        if (st > 0 && k + 1 < passes.size())  // x is free (after this stage's send): the next pass may come
          for (int r = 0; r < tp; ++r)
            ctx.emit(group[r],
                     signal_cmd{engine::dma, x_free, static_cast<uint16_t>(out.groups[d * pp + st - 1][r]), 1});
      }
    }
  }
  for (int c = 0; c < ctx.cores(); ++c) out.sram_peak = std::max(out.sram_peak, ctx.sram_peak(c));
  out.op_names = ctx.op_names();
  out.programs = ctx.finish();
  out.summary = summarize(out.programs, hw.mesh.width);
  out.ops = per_op(out.programs, out.op_names, hw.mesh.width);
  return out;
}

}  // namespace npuvp::kernels
