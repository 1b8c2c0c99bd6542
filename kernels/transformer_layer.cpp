#include "kernels/transformer_layer.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/collectives.h"
#include "kernels/partition/partition.h"
#include "platform/base/error.h"
#include "platform/memory_map.h"

namespace npuvp::kernels {

namespace {

vector_cmd vec(vector_op op, uint32_t rows, uint32_t cols, uint32_t src0, uint32_t src1, uint32_t dst,
               float scalar = 0.0f, uint32_t param0 = 0, uint32_t param1 = 0) {
  vector_cmd v;
  v.op = op;
  v.rows = rows;
  v.cols = cols;
  v.src0 = src0;
  v.src1 = src1;
  v.dst = dst;
  v.scalar = scalar;
  v.param0 = param0;
  v.param1 = param1;
  return v;
}

matmul_cmd attention_matmul(uint32_t m, uint32_t k, uint32_t n, uint32_t a, uint32_t lda, uint32_t b, uint32_t ldb,
                            uint32_t c, uint32_t ldc, bool accumulate, bool transpose_b) {
  matmul_cmd mm;
  mm.m = m;
  mm.k = k;
  mm.n = n;
  mm.a = a;
  mm.lda = lda;
  mm.b = b;
  mm.ldb = ldb;
  mm.c = c;
  mm.ldc = ldc;
  mm.accumulate = accumulate;
  mm.transpose_b = transpose_b;
  return mm;
}

}  // namespace

std::pair<uint64_t, uint64_t> weight_shape(const model_config& model, layer_weight w) {
  const uint64_t h = model.hidden_size, q = uint64_t(model.num_attention_heads) * model.head_dim,
                 kv = uint64_t(model.num_key_value_heads) * model.head_dim, I = model.intermediate_size;
  switch (w) {
    case layer_weight::q:
      return {h, q};
    case layer_weight::k:
    case layer_weight::v:
      return {h, kv};
    case layer_weight::o:
      return {q, h};
    case layer_weight::gate:
    case layer_weight::up:
      return {h, I};
    case layer_weight::down:
      return {I, h};
  }
  throw error("weight_shape: unknown weight");
}

weight_block resident_block(const model_config& model, const std::string& partition, int n, int r, layer_weight w) {
  const uint64_t h = model.hidden_size, hd = model.head_dim, H = model.num_attention_heads,
                 KV = model.num_key_value_heads, I = model.intermediate_size;
  const auto [rows, cols] = weight_shape(model, w);
  const bool attention = w == layer_weight::q || w == layer_weight::k || w == layer_weight::v;
  auto rows_of = [&](std::pair<uint64_t, uint64_t> range) {
    return weight_block{range.first, range.second - range.first, 1, 0, cols};
  };
  auto cols_of = [&](std::pair<uint64_t, uint64_t> range) {
    return weight_block{0, rows, 1, range.first, range.second - range.first};
  };
  if (partition == "k_split" && uint64_t(n) > KV)  // wide: rows r::n of every weight
    return weight_block{uint64_t(r), rows / n, uint64_t(n), 0, cols};
  if (partition == "k_split" && (attention || w == layer_weight::gate || w == layer_weight::up))
    return rows_of(split_range(h, n, r));
  if (partition == "mnk_2d" && (w == layer_weight::gate || w == layer_weight::up || w == layer_weight::down)) {
    const auto [p, q] = grid_shape(n);
    const auto h_j = split_range(h, q, r % q), i_i = split_range(I, p, r / q);
    if (w == layer_weight::down) return {i_i.first, i_i.second - i_i.first, 1, h_j.first, h_j.second - h_j.first};
    return {h_j.first, h_j.second - h_j.first, 1, i_i.first, i_i.second - i_i.first};
  }
  if (partition == "mn_split" && w == layer_weight::down) return cols_of(split_range(h, n, r));
  // By heads (attention) and Megatron's column/row split of the MLP.
  const uint64_t heads = w == layer_weight::q || w == layer_weight::o ? H / n : KV / n;
  const std::pair<uint64_t, uint64_t> head_range{r * heads * hd, (r + 1) * heads * hd};
  switch (w) {
    case layer_weight::q:
    case layer_weight::k:
    case layer_weight::v:
      return cols_of(head_range);
    case layer_weight::o:
      return rows_of(head_range);
    case layer_weight::gate:
    case layer_weight::up:
      return cols_of(split_range(I, n, r));
    case layer_weight::down:
      return rows_of(split_range(I, n, r));
  }
  throw error("resident_block: unknown weight");
}

uint64_t tiled_width(const std::string& partition, layer_weight w, const weight_block& b, uint32_t weight_tile) {
  const bool mlp = w == layer_weight::gate || w == layer_weight::up || w == layer_weight::down;
  return partition == "mn_split" && mlp ? b.cols : weight_tile;
}

uint64_t tiled_index(const weight_block& b, uint64_t i, uint64_t j, uint64_t tile) {
  const uint64_t t0 = j / tile * tile, width = std::min(tile, b.cols - t0);
  return t0 * b.rows + i * width + (j - t0);
}

uint64_t tiled_block_offset(const model_config& model, const std::string& partition, int n, int r, layer_weight w,
                            dtype weights) {
  uint64_t elems = 0;
  for (int before = 0; before < r; ++before) {
    const weight_block b = resident_block(model, partition, n, before, w);
    elems += b.rows * b.cols;
  }
  return elems * dtype_bytes(weights);
}

uint32_t staggered_first_tile(const hw_config& hw, uint64_t rank0_start, uint64_t start, uint64_t row_stride, int r,
                              int n, uint64_t tile_bytes, uint32_t tiles) {
  const hbm_interleave map{static_cast<uint64_t>(hw.hbm.interleave_bytes), static_cast<uint64_t>(hw.hbm.channels)};
  if (row_stride % map.bytes != 0) return 0;  // the rows of a tile spread over the channels unevenly
  // A tile's rows lie in the channels of one residue class mod g (g classes; g = C when every row
  // lies in the first row's channel); rank r takes class r g / n.
  const uint64_t c = map.channels, g = std::gcd(row_stride / map.bytes % c, c);
  const uint64_t target = uint64_t(map.channel(rank0_start)) + uint64_t(r) * g / uint64_t(n);
  const uint64_t ahead = (target + c - uint64_t(map.channel(start))) % g;  // channels to skip
  return static_cast<uint32_t>((ahead * map.bytes + tile_bytes - 1) / tile_bytes % tiles);
}

resident_slices resident_layout(const model_config& model, const std::string& partition, int group_size,
                                dtype weights) {
  resident_slices s;
  for (int w = 0; w < layer_weight_count; ++w) {
    uint64_t elems = 0;
    for (int r = 0; r < group_size; ++r) {
      const weight_block b = resident_block(model, partition, group_size, r, layer_weight(w));
      elems = std::max(elems, b.rows * b.cols);
    }
    s.offset[w] = s.bytes;
    s.bytes += (elems * dtype_bytes(weights) + 63) / 64 * 64;
  }
  return s;
}

void lower_transformer_layer(lowering_context& ctx, const model_config& model, const layer_job& job,
                             const std::vector<int>& group) {
  const int n = static_cast<int>(group.size());
  const std::string what = model.name + " layer on " + std::to_string(n) + " cores";
  const bool moe = !job.experts.empty();
  if (model.is_moe() && !moe)
    throw error(what + ": MoE layers need a static token->expert assignment (layer_job::experts; npuvp lower step "
                       "draws one from the scenario's moe section)");
  // Wide k_split: more ranks than KV heads (decode at small batch streams every weight over
  // all cores). Rank r takes the rows r::n of every weight (cyclic_gemm below), partial sums
  // are combined by direct all-reduces, attention runs per KV head on its ranks (keys split,
  // merged on the leader) and the leaders' outputs are all-gathered before o_proj.
  const bool wide = job.split_k && n > model.num_key_value_heads;
  if (wide && (n % model.num_key_value_heads != 0 || model.hidden_size % n != 0 || model.intermediate_size % n != 0 ||
               (model.num_attention_heads / model.num_key_value_heads * model.head_dim) % n != 0 ||
               job.cache.space == mem_space::sram))
    throw error(what + ": k_split over more ranks than num_key_value_heads (" +
                std::to_string(model.num_key_value_heads) +
                ") needs the group size to be a multiple of it and to divide hidden_size, intermediate_size and "
                "a KV head's query width (heads per KV head x head_dim), and the KV cache in HBM");
  if (!wide && model.num_key_value_heads % n != 0)
    throw error(what + ": the group size must divide num_key_value_heads (" +
                std::to_string(model.num_key_value_heads) + ")");
  const auto h = static_cast<uint32_t>(model.hidden_size), hd = static_cast<uint32_t>(model.head_dim);
  const auto H = static_cast<uint32_t>(model.num_attention_heads),
             KV = static_cast<uint32_t>(model.num_key_value_heads);
  const auto I = static_cast<uint32_t>(model.intermediate_size);
  const uint32_t hr = H / n, kvr = KV / n, per_kv = H / KV;  // heads per rank; q heads per kv head
  // KV heads of rank r and its first one (wide: ranks_per_kv ranks per KV head, the first leads).
  const uint32_t ranks_per_kv = wide ? static_cast<uint32_t>(n) / KV : 1;
  auto kv_count = [&](int r) { return wide ? (uint32_t(r) % ranks_per_kv == 0 ? 1u : 0u) : kvr; };
  auto kv_first = [&](int r) { return wide ? uint32_t(r) / ranks_per_kv : uint32_t(r) * kvr; };
  // Query heads whose attention output a rank's att buffer holds (wide: all, block-major by KV head
  // [KV][T x per_kv*hd], so each leader's block is contiguous for the all-gather).
  const uint32_t att_heads = wide ? H : hr;
  const uint32_t bc = job.kv_tile;
  if (bc == 0 || bc > uint32_t(ctx.hw().core.matrix.rows) || bc > uint32_t(ctx.hw().core.matrix.cols) ||
      hd > uint32_t(ctx.hw().core.matrix.rows) || hd > uint32_t(ctx.hw().core.matrix.cols))
    throw error(what + ": kv_tile (" + std::to_string(bc) + ") and head_dim (" + std::to_string(hd) +
                ") must fit the " + std::to_string(ctx.hw().core.matrix.rows) + "x" +
                std::to_string(ctx.hw().core.matrix.cols) + " matrix unit");
  uint32_t T = 0, m_max = 0;
  for (size_t s = 0; s < job.batch.size(); ++s) {
    const auto& seq = job.batch[s];
    if (seq.past + seq.new_tokens > job.cache.max_positions)
      throw error(what + ": sequence " + std::to_string(s) + " needs " + std::to_string(seq.past + seq.new_tokens) +
                  " cache positions, the cache has " + std::to_string(job.cache.max_positions));
    T += seq.new_tokens;
    // Decode attends with all query heads of a KV head at once (rows = heads).
    m_max = std::max(m_max, seq.new_tokens == 1 ? H / KV : seq.new_tokens);
  }
  const auto max_ir = static_cast<uint32_t>(split_range(I, n, 0).second);
  const bool split_k = job.split_k;
  const bool split_mn = job.split_mn, split_2d = job.split_2d;
  if (int(split_k) + int(split_mn) + int(split_2d) > 1)
    throw error(what + ": split_k, split_mn and split_2d exclude each other");
  // Heads per token held in Q and K/V, and the rank's first head in them (split_k: all heads, replicated).
  const uint32_t qh = split_k ? H : hr, kh = split_k ? KV : kvr;
  // Columns of the gate/up results held per rank (MoE: none, the experts have their own buffers).
  const uint32_t gcols = moe ? 0 : split_k || split_mn || split_2d ? I : max_ir;
  // split_2d: the p x q grid of the group (rank = i*q + j).
  const auto [grid_p, grid_q] = grid_shape(n);
  // The deepest streamed GEMM's k besides h and hr*hd: the down projection's rows per rank.
  const auto down_k = std::max(split_2d ? static_cast<uint32_t>(split_range(I, grid_p, 0).second) : max_ir,
                               moe ? static_cast<uint32_t>(model.moe_intermediate_size) : 0u);
  if (moe && (split_k || split_mn || split_2d || job.weights_resident))
    throw error(what + ": MoE layers are lowered with the megatron partition and weights in HBM only");
  const float eps = static_cast<float>(model.rms_norm_eps), theta = static_cast<float>(model.rope_theta);
  const uint64_t cache_row = uint64_t(job.cache.max_positions) * hd;  // elements per (sequence, kv head)
  const mem_space cache_space = job.cache.space;
  const bool cache_in_sram = cache_space == mem_space::sram;
  // Index of (sequence s, local kv head j of rank r) in the cache: HBM holds every
  // KV head, a rank's SRAM only its own.
  auto cache_head = [&](uint64_t s, int r, uint32_t j) {
    return cache_in_sram ? s * kvr + j : s * KV + kv_first(r) + j;
  };

  // Every rank allocates the same buffers at the same offsets.
  auto buffer = [&](uint64_t elems, const char* name) { return ctx.alloc_symmetric(group, elems * 4, name); };
  const bool x_in_sram = job.x_sram >= 0;
  const bool rows_only = job.out_rows_only && job.store_out && !moe && !split_mn && !split_2d && !wide;
  // rows_only with x in HBM: the input is sequence-parallel too: each rank loads and normalises its
  // own rows of x (the only ones its residual adds need) and the normalised operand is all-gathered
  // over the NoC, instead of every rank loading all of x from HBM. Only with at least an array's
  // rows (matrix.rows) per rank: below, the ring's n - 1 latency-bound steps cost more than the few
  // rows they save (a threshold, not a cost model; Qwen3-8B decode, batch 1: +40 us with the gather).
  const bool rows_input = rows_only && !x_in_sram && T >= uint64_t(n) * uint64_t(ctx.hw().core.matrix.rows);
  const uint32_t x = x_in_sram ? static_cast<uint32_t>(job.x_sram) : buffer(uint64_t(T) * h, "x");
  const uint32_t xn = buffer(uint64_t(T) * h, "normed x");
  const uint32_t norm1 = buffer(h, "input_norm"), norm2 = buffer(h, "post_attention_norm");
  const uint32_t qn = buffer(hd, "q_norm"), kn = buffer(hd, "k_norm");
  // Weights stream from HBM in column tiles through one double buffer, sized for the deepest GEMM.
  if (job.weight_tile == 0) throw error(what + ": weight_tile must be > 0");
  const dtype wtype = job.weight_type;
  // Narrow weights (bf16, fp8, int8): the activation operands are bf16 copies (activation_type).
  const bool narrow = wtype != dtype::fp32;
  const uint64_t eb = dtype_bytes(wtype);
  const uint32_t wt = job.weight_tile;
  // Deepest streamed k: wide k_split streams rows h_r, H*hd/n rows of o and I_r rows of down.
  const uint32_t deepest = wide ? std::max({h, H * hd, I}) / static_cast<uint32_t>(n) : std::max({h, hr * hd, down_k});
  const uint32_t weights =
      job.weights_resident ? 0 : ctx.alloc_symmetric(group, 2ull * deepest * wt * eb, "weight tiles (2 buffers)");
  const uint64_t aeb = narrow ? 2 : 4;  // bytes per element of a matmul's activation operand
  // mn_split: the two rotating weight blocks, sized for the larger of gate/up (h x I/n) and down (I x h/n).
  const uint32_t mn_blocks =
      split_mn ? ctx.alloc_symmetric(group,
                                     2 * std::max(uint64_t(h) * max_ir, uint64_t(I) * split_range(h, n, 0).second) * eb,
                                     "rotating weight blocks (2 buffers)")
               : 0;
  // C[T x cols] (row stride cols) = A W_r for rank r's block W_r [rows x cols] of weight `which`
  // (resident_block): resident in SRAM, or streamed from HBM where the layout puts it.
  const std::string partition = split_k ? "k_split" : split_mn ? "mn_split" : split_2d ? "mnk_2d" : "megatron";
  const auto& w = job.weights;
  auto project = [&](int me, int r, layer_weight which, uint32_t a, uint32_t lda, uint32_t c) {
    const weight_block b = resident_block(model, partition, n, r, which);
    const uint64_t base = w.matrix(which);
    const auto k = static_cast<uint32_t>(b.rows), cols = static_cast<uint32_t>(b.cols);
    if (job.weights_resident) {
      local_gemm(ctx, me, a, lda, static_cast<uint32_t>(base), cols, c, cols, T, k, cols, false, wtype);
    } else if (job.weights_tiled) {
      streamed_gemm(ctx, me, a, lda, base + tiled_block_offset(model, partition, n, r, which, wtype), 0, weights, wt, c,
                    cols, T, k, cols, wtype, true);
    } else {
      const uint64_t ld = weight_shape(model, which).second;
      auto start = [&](const weight_block& x) { return base + (x.row0 * ld + x.col0) * eb; };
      // Wide k_split's ranks read neighbouring rows on purpose (one DRAM row serves them all): no stagger.
      const uint32_t first =
          wide || !job.stagger_tiles
              ? 0
              : staggered_first_tile(ctx.hw(), start(resident_block(model, partition, n, 0, which)), start(b),
                                     ld * b.row_step * eb, r, n, wt * eb, (cols + wt - 1) / wt);
      streamed_gemm(ctx, me, a, lda, start(b), ld * b.row_step, weights, wt, c, cols, T, k, cols, wtype, false, first);
    }
  };
  // bf16 copies of the activation operands (bf16 weights only).
  const uint32_t x16 = narrow ? ctx.alloc_symmetric(group, uint64_t(T) * std::max({h, att_heads * hd, gcols}) * 2,
                                                    "bf16 activation operand")
                              : 0;
  // The matmul operand for fp32 activations at `src`: itself, or its bf16 copy.
  auto operand = [&](int me, uint32_t src, uint32_t elems) {
    if (!narrow) return src;
    ctx.emit(me, vec(vector_op::to_bf16, 1, elems, src, 0, x16));
    return x16;
  };
  // Q, K and V back to back (one all-reduce in wide k_split).
  const uint32_t q = buffer(uint64_t(T) * (qh + 2 * kh) * hd, "Q, K, V"), k = q + T * qh * hd * 4,
                 v = k + T * kh * hd * 4;
  const uint32_t att = buffer(uint64_t(T) * att_heads * hd, "attention out");
  // Attention works on blocks of up to `br` query rows. The K/V tiles read from the HBM cache, and the
  // score tiles, are double-buffered so that the matrix unit computes the scores of tile j+1 while the
  // vector unit runs the softmax of tile j (software pipelining as in FlashAttention-3, Shah et al. 2024,
  // and the ping-pong buffers of NPU attention kernels).
  if (job.query_tile == 0) throw error(what + ": query_tile must be > 0");
  const uint32_t br = std::min(m_max, job.query_tile);
  const uint32_t kt = job.cache.space == mem_space::sram ? 0 : buffer(2ull * bc * hd, "K tiles (2 buffers)");
  const uint32_t vt = job.cache.space == mem_space::sram ? 0 : buffer(2ull * bc * hd, "V tiles (2 buffers)");
  const uint32_t sc = buffer(2ull * br * bc, "score tiles (2 buffers)"), o = buffer(uint64_t(br) * hd, "O accumulator");
  const uint32_t o_out = buffer(uint64_t(br) * hd, "O normalised");
  const uint32_t mrow = buffer(br, "row max"), mnew = buffer(br, "new row max"), tmax = buffer(br, "tile row max"),
                 alpha = buffer(br, "rescale"), lrow = buffer(br, "row sum"), rsum = buffer(br, "tile row sum");
  const uint32_t y = buffer(uint64_t(T) * h, "o_proj partial");
  // x (the caller's in SRAM, or the layer's copy of x_in) is updated in place: x2 = x + y, then out = x2 + d.
  const uint32_t x2 = x;
  // gate and up back to back (one all-reduce in wide k_split).
  const uint32_t g = buffer(2 * uint64_t(T) * gcols, "gate, up"), u = g + T * gcols * 4;
  // The down partial reuses the o_proj partial's buffer: y is last read by the residual add (vector),
  // which is ordered before the down matmul writes (vector -> matrix), and the all-reduce's handshakes
  // keep peers from writing into it before.
  const uint32_t d = y;
  const uint32_t out = x;
  // split_2d: gate/up kept block-major by I_i ([block i][T x I_i]), the down output by h_j.
  const std::vector<chunk> i_blocks = mnk_blocks(T, I, grid_p), h_blocks = mnk_blocks(T, h, grid_q);
  const uint32_t d_blocks = split_2d ? buffer(uint64_t(T) * h, "down output, block-major") : 0;
  // The transposed grid for down: N = h blocks over grid columns, K = I over grid rows.
  std::vector<int> transposed;
  for (int j = 0; j < grid_q; ++j)
    for (int i = 0; i < grid_p; ++i) transposed.push_back(group[i * grid_q + j]);
  auto label = [&](const char* op) {
    if (!job.op_prefix.empty()) ctx.begin_op(job.op_prefix + "." + op);
  };
  // Wide k_split: rank r takes the weight rows r, r + n, r + 2n, ... (a cyclic K
  // distribution, as in ScaLAPACK's block-cyclic layouts with block 1): at any moment the
  // n ranks read n adjacent rows, one contiguous HBM region, so each channel serves
  // neighbouring addresses (row hits) instead of n far-apart streams that thrash its banks.
  // The rank's activation columns r::n are gathered into `xk` first (a strided DMA copy).
  const uint32_t xk = wide ? ctx.alloc_symmetric(group, uint64_t(T) * std::max({h, H * hd, I}) / n * aeb,
                                                 "activation columns of the rank's weight rows")
                           : 0;
  // x[:, r::n] of the row-major [T x cols] activation operand at src -> xk ([T x cols/n]).
  auto gather_columns = [&](int me, int r, uint32_t src, uint32_t cols) {
    ctx.order(me, engine::vector, engine::dma);  // src written
    ctx.order(me, engine::matrix, engine::dma);  // xk free
    copy_2d(ctx, me, mem_space::sram, src + r * aeb, static_cast<uint64_t>(n), mem_space::sram, xk, 1,
            T * cols / static_cast<uint32_t>(n), 1, static_cast<uint32_t>(aeb));
    ctx.order(me, engine::dma, engine::matrix);
  };
  // C[T x cols] = xk W[r::n, :]: the rank's cyclic rows of weight `which`.
  auto cyclic_gemm = [&](int me, int r, layer_weight which, uint32_t c) {
    project(me, r, which, xk, static_cast<uint32_t>(resident_block(model, partition, n, r, which).rows), c);
  };
  // Over many ranks the ring's 2(n-1) steps are latency-bound: the direct all-reduce takes 2.
  auto all_reduce = [&](uint32_t data, uint64_t elems, engine ready) {
    return wide ? direct_all_reduce(ctx, group, data, elems, ready) : ring_all_reduce(ctx, group, data, elems, ready);
  };

  // Wide decode: the leaders' receive slots for the key-split partials ([decode sequence][part][O, max, sum]).
  const uint32_t split_slots =
      wide ? buffer(uint64_t(job.batch.size()) * ranks_per_kv * (per_kv * hd + 2 * per_kv), "split-key partials") : 0;
  const uint32_t split_tag = wide ? ctx.new_tag() : 0;
  // Token rows of each rank's part of the output, as element chunks of [T x h].
  std::vector<chunk> out_rows;
  for (int r = 0; r < n; ++r) {
    const auto [t0, t1] = split_range(T, n, r);
    out_rows.push_back({t0 * h, (t1 - t0) * h});
  }
  // Only the stored rows are needed: as in Megatron's sequence parallelism (Korthikanti et al., MLSys
  // 2023), the o_proj partial sums are reduce-scattered by rows, each rank adds the residual and
  // normalises the chunk it reduced, and the matmul operand (bf16 when the weights are) is all-gathered
  // for gate/up; the down projection is reduce-scattered too and each rank stores the chunk it reduced.
  // The all-reduces' all-gather halves of fp32 rows become one of the operand.
  // The all-gathered matmul operand (in 4-byte words: a bf16 row is h / 2 of them); rank r owns the
  // rows out_rows[(r + 1) mod n], the chunk its reduce-scatter leaves it.
  const uint32_t gathered = narrow ? x16 : xn;
  std::vector<chunk> words;
  for (const chunk& c : out_rows) words.push_back({c.offset * aeb / 4, c.elems * aeb / 4});

  // Attention: everything up to the o_proj partial sum.
  for (int r = 0; r < n; ++r) {
    const int me = group[r];
    auto emit = [&](const command& c) { ctx.emit(me, c); };
    label("input_norm");
    load_2d(ctx, me, w.input_norm, h, norm1, h, 1, h);
    if (rows_input) {
      const chunk mine = out_rows[(r + 1) % n];
      const auto at = static_cast<uint32_t>(mine.offset * 4), rows = static_cast<uint32_t>(mine.elems / h);
      load_2d(ctx, me, job.x_in + mine.offset * 4, h, x + at, h, rows, h);
      ctx.order(me, engine::dma, engine::vector);
      emit(vec(vector_op::rmsnorm, rows, h, x + at, norm1, xn + at, eps));
      if (narrow) emit(vec(vector_op::to_bf16, 1, rows * h, xn + at, 0, static_cast<uint32_t>(x16 + mine.offset * 2)));
    } else {
      if (!x_in_sram) load_2d(ctx, me, job.x_in, h, x, h, T, h);
      ctx.order(me, engine::dma, engine::vector);
      emit(vec(vector_op::rmsnorm, T, h, x, norm1, xn, eps));
    }
    if (model.has_qk_norm()) {
      load_2d(ctx, me, w.q_norm, hd, qn, hd, 1, hd);
      load_2d(ctx, me, w.k_norm, hd, kn, hd, 1, hd);
    }
  }
  if (rows_input) {
    label("input_allgather");
    ring_all_gather(ctx, group, gathered, words, 1, engine::vector);
  }
  for (int r = 0; r < n; ++r) {
    const int me = group[r];
    label("qkv_proj");
    uint32_t xq = gathered;
    if (rows_input) {
      ctx.order(me, engine::dma, engine::matrix);
    } else {
      xq = operand(me, xn, T * h);
      ctx.order(me, engine::vector, engine::matrix);
    }
    if (split_k) {  // partial products over the rank's rows h_r of every weight
      const uint32_t a = static_cast<uint32_t>(xq + split_range(h, n, r).first * aeb);
      if (wide) {
        gather_columns(me, r, xq, h);
        cyclic_gemm(me, r, layer_weight::q, q);
        cyclic_gemm(me, r, layer_weight::k, k);
        cyclic_gemm(me, r, layer_weight::v, v);
        continue;
      }
      project(me, r, layer_weight::q, a, h, q);
      project(me, r, layer_weight::k, a, h, k);
      project(me, r, layer_weight::v, a, h, v);
    } else {
      project(me, r, layer_weight::q, xq, h, q);
      project(me, r, layer_weight::k, xq, h, k);
      project(me, r, layer_weight::v, xq, h, v);
    }
  }
  engine qkv_done = engine::matrix;
  if (split_k) {
    label("qkv_allreduce");
    if (wide) {
      qkv_done = all_reduce(q, uint64_t(T) * (H + 2 * KV) * hd, engine::matrix);
    } else {
      ring_all_reduce(ctx, group, q, uint64_t(T) * H * hd, engine::matrix);
      ring_all_reduce(ctx, group, k, uint64_t(T) * KV * hd, engine::matrix);
      qkv_done = ring_all_reduce(ctx, group, v, uint64_t(T) * KV * hd, engine::matrix);
    }
  }
  for (int r = 0; r < n; ++r) {
    const int me = group[r];
    auto emit = [&](const command& c) { ctx.emit(me, c); };
    // The rank's first query / KV head in Q and K, V.
    const uint32_t q_first = split_k ? kv_first(r) * per_kv : 0, k_first = split_k ? kv_first(r) : 0;
    label("qk_norm_rope");
    ctx.order(me, engine::dma, engine::vector);  // q/k norm weights
    ctx.order(me, qkv_done, engine::vector);
    if (model.has_qk_norm()) {
      emit(vec(vector_op::rmsnorm, T * qh, hd, q, qn, q, eps));
      emit(vec(vector_op::rmsnorm, T * kh, hd, k, kn, k, eps));
    }
    uint32_t t0 = 0;
    for (const auto& seq : job.batch) {
      emit(vec(vector_op::rope, seq.new_tokens * qh, hd, q + t0 * qh * hd * 4, 0, q + t0 * qh * hd * 4, theta, seq.past,
               qh));
      emit(vec(vector_op::rope, seq.new_tokens * kh, hd, k + t0 * kh * hd * 4, 0, k + t0 * kh * hd * 4, theta, seq.past,
               kh));
      t0 += seq.new_tokens;
    }
    // Append the new K and V to the cache, then attend over the whole cache.
    label("kv_append");
    ctx.order(me, engine::vector, engine::dma);
    ctx.order(me, engine::matrix, engine::dma);
    t0 = 0;
    for (size_t s = 0; s < job.batch.size(); ++s) {
      const auto& seq = job.batch[s];
      for (uint32_t j = 0; j < kv_count(r); ++j) {
        const uint64_t row = cache_head(s, r, j) * cache_row + uint64_t(seq.past) * hd;
        copy_2d(ctx, me, mem_space::sram, k + (t0 * kh + k_first + j) * hd * 4, kh * hd, cache_space,
                job.cache.k + row * 4, hd, seq.new_tokens, hd);
        copy_2d(ctx, me, mem_space::sram, v + (t0 * kh + k_first + j) * hd * 4, kh * hd, cache_space,
                job.cache.v + row * 4, hd, seq.new_tokens, hd);
      }
      t0 += seq.new_tokens;
    }
    label("attention");
    // Q is scaled by 1/sqrt(hd) once instead of every score tile (FlashAttention-2 folds the scale into
    // the exponent the same way; Dao 2023). Then the matrix unit reads the roped Q and K.
    emit(vec(vector_op::scale, T * qh, hd, q, 0, q, 1.0f / std::sqrt(float(hd))));
    ctx.order(me, engine::vector, engine::matrix);
    // A cache in SRAM is read in place: a tile reaching into the appended positions needs the append
    // done. (An HBM cache is loaded by the DMA, behind the append.)
    if (cache_in_sram) ctx.order(me, engine::dma, engine::matrix);
    // Scores ready / P V done (matrix -> vector) and probabilities ready (vector -> matrix): the pair
    // semaphores count, so each wait below consumes the signal emitted for it, in the same order.
    const uint16_t to_vector = lowering_context::pair_semaphore(engine::matrix, engine::vector),
                   to_matrix = lowering_context::pair_semaphore(engine::vector, engine::matrix);
    bool placed_before = false;  // an earlier block's O is being placed by the DMA (o_out in use)
    t0 = 0;
    for (size_t s = 0; s < job.batch.size(); ++s) {
      const auto& seq = job.batch[s];
      // Wide decode: the ranks_per_kv ranks of a KV head split its key tiles (Flash-Decoding, Dao et
      // al. 2023), cyclically counted from the last tile: part p takes tiles last - p, last - p - parts,
      // ..., so the leader (part 0) has the key it just appended and the parts read neighbouring tiles
      // at the same time. The others send their unnormalised O and row max / sum to the leader, which
      // merges them with the online-softmax rescaling.
      const uint32_t len_all = seq.past + seq.new_tokens, last_tile = (len_all - 1) / bc;
      const bool split_keys = wide && seq.new_tokens == 1 && last_tile + 1 >= ranks_per_kv;
      const uint32_t part = split_keys ? static_cast<uint32_t>(r) % ranks_per_kv : 0;
      const uint32_t parts = split_keys ? ranks_per_kv : 1;
      // One attention unit reads one KV head once. Decode (one token): the unit is a KV head and its
      // rows are the KV head's per_kv query heads, contiguous in Q, and no key lies after the query.
      // Prefill: the unit is a query head and its rows are the tokens (row stride qh*hd), causally
      // masked, in blocks of br query rows; a block reads the keys up to its last query only.
      const bool decode = seq.new_tokens == 1;
      const uint32_t rows = decode ? per_kv : seq.new_tokens;
      // The rank's query heads and where their outputs go (wide: the leader's block of att).
      const uint32_t rank_heads = kv_count(r) * per_kv;
      const uint32_t att_base = wide ? att + kv_first(r) * T * per_kv * hd * 4 : att;
      const uint32_t lda = decode ? hd : qh * hd, att_ld = decode ? hd : rank_heads * hd;
      const uint32_t units = decode ? (split_keys ? 1 : kv_count(r)) : rank_heads;
      for (uint32_t unit = 0; unit < units; ++unit) {
        const uint32_t kv_local = decode ? unit : unit / per_kv, first_head = decode ? unit * per_kv : unit;
        const uint64_t head = cache_head(s, r, kv_local) * cache_row;
        for (uint32_t q0 = 0; q0 < rows; q0 += br) {
          const uint32_t m = std::min(br, rows - q0);
          const uint32_t first_query = seq.past + q0;  // position of the block's first row (prefill)
          const uint32_t keys = decode ? len_all : first_query + m;
          const uint32_t qa = q + ((t0 * qh + q_first + first_head) * hd + q0 * lda) * 4;
          const uint32_t att_at = att_base + ((t0 * rank_heads + first_head) * hd + q0 * att_ld) * 4;
          // The key tiles this rank reads, in order (split keys: every parts-th, counted from the last).
          const uint32_t tiles = (keys + bc - 1) / bc;
          std::vector<uint32_t> ids;
          for (uint32_t j = (tiles - 1 - part) % parts; j < tiles; j += parts) ids.push_back(j);
          // Where key tile j lies: the new tokens' K and V are still in SRAM (row stride kh*hd); older
          // positions are in the cache (read in place in SRAM, or loaded from HBM into buffer i % 2 for
          // the i-th tile read).
          auto source = [&](uint32_t i, bool value) {
            const uint32_t c0 = ids[i] * bc;
            if (c0 >= seq.past)
              return std::pair<uint32_t, uint32_t>(
                  (value ? v : k) + ((t0 + c0 - seq.past) * kh + k_first + kv_local) * hd * 4, kh * hd);
            const uint64_t tile = (head + uint64_t(c0) * hd) * 4;
            if (cache_in_sram)
              return std::pair<uint32_t, uint32_t>(static_cast<uint32_t>((value ? job.cache.v : job.cache.k) + tile),
                                                   hd);
            return std::pair<uint32_t, uint32_t>((value ? vt : kt) + (i % 2) * bc * hd * 4, hd);
          };
          auto keys_in = [&](uint32_t i) { return std::min(bc, keys - ids[i] * bc); };
          auto scores = [&](uint32_t i) { return sc + (i % 2) * br * bc * 4; };
          // P V of the i-th tile, once the vector unit has written its P and rescaled O.
          auto pv = [&](uint32_t i) {
            emit(wait_cmd{engine::matrix, to_matrix, 1});
            const auto [vb, ldv] = source(i, true);
            emit(attention_matmul(m, keys_in(i), hd, scores(i), keys_in(i), vb, ldv, o, hd, i > 0, false));
            emit(signal_cmd{engine::matrix, to_vector, self_core, 1});
          };
          for (uint32_t i = 0; i < ids.size(); ++i) {
            const uint32_t c0 = ids[i] * bc, n_keys = keys_in(i);
            if (c0 < seq.past && !cache_in_sram) {
              // Buffer i % 2 was last read by P V of tile i-2, issued before: the DMA waits for it.
              ctx.order(me, engine::matrix, engine::dma);
              const uint64_t tile = (head + uint64_t(c0) * hd) * 4;
              load_2d(ctx, me, job.cache.k + tile, hd, source(i, false).first, hd, n_keys, hd);
              load_2d(ctx, me, job.cache.v + tile, hd, source(i, true).first, hd, n_keys, hd);
              ctx.order(me, engine::dma, engine::matrix);
            }
            // S_i = Q K_i^T into score buffer i % 2 (last read by P V of tile i-2, earlier on the matrix unit).
            const auto [kb, ldk] = source(i, false);
            emit(attention_matmul(m, hd, n_keys, qa, lda, kb, ldk, scores(i), n_keys, false, true));
            emit(signal_cmd{engine::matrix, to_vector, self_core, 1});
            if (i > 0) pv(i - 1);  // the matrix unit runs S_i before P V of tile i-1: the softmax of i-1 overlaps
            // Softmax of tile i on the vector unit, while the matrix unit computes S_i+1.
            const uint32_t p = scores(i);
            emit(wait_cmd{engine::vector, to_vector, 1});
            if (!decode && c0 + n_keys - 1 > first_query)  // a key after the block's first query
              emit(vec(vector_op::causal_mask, m, n_keys, p, 0, p, 0, c0, first_query));
            emit(vec(vector_op::row_max, m, n_keys, p, 0, tmax));
            if (i == 0) {
              emit(vec(vector_op::copy, 1, m, tmax, 0, mrow));
              emit(vec(vector_op::sub_row, m, n_keys, p, mrow, p));
              emit(vec(vector_op::exp, m, n_keys, p, 0, p));
              emit(vec(vector_op::row_sum, m, n_keys, p, 0, lrow));
            } else {
              // Online softmax (Milakov & Gimelshein 2018; Dao et al. 2022): rescale what was summed
              // so far by exp(old max - new max).
              emit(vec(vector_op::max, 1, m, mrow, tmax, mnew));
              emit(vec(vector_op::sub, 1, m, mrow, mnew, alpha));
              emit(vec(vector_op::exp, 1, m, alpha, 0, alpha));
              emit(vec(vector_op::sub_row, m, n_keys, p, mnew, p));
              emit(vec(vector_op::exp, m, n_keys, p, 0, p));
              emit(vec(vector_op::row_sum, m, n_keys, p, 0, rsum));
              emit(vec(vector_op::mul, 1, m, lrow, alpha, lrow));
              emit(vec(vector_op::add, 1, m, lrow, rsum, lrow));
              emit(vec(vector_op::copy, 1, m, mnew, 0, mrow));
              emit(wait_cmd{engine::vector, to_vector, 1});  // P V of tile i-1 has updated O
              emit(vec(vector_op::mul_row, m, hd, o, alpha, o));
            }
            emit(signal_cmd{engine::vector, to_matrix, self_core, 1});
          }
          pv(static_cast<uint32_t>(ids.size()) - 1);
          emit(wait_cmd{engine::vector, to_vector, 1});
          // Split keys: slot of sequence s from part p on the leader: O [m x hd], row max [m], row sum [m].
          auto slot = [&](uint32_t p) { return split_slots + (uint32_t(s) * ranks_per_kv + p) * (m * hd + 2 * m) * 4; };
          if (split_keys && part != 0) {  // send the unnormalised partial to the leader, then free o, mrow, lrow
            const auto leader = static_cast<uint16_t>(group[r - static_cast<int>(part)]);
            ctx.order(me, engine::vector, engine::dma);
            ctx.emit(me, send_cmd{engine::dma, leader, o, slot(part), m * hd * 4, split_tag});
            ctx.emit(me, send_cmd{engine::dma, leader, mrow, slot(part) + m * hd * 4, m * 4, split_tag});
            ctx.emit(me, send_cmd{engine::dma, leader, lrow, slot(part) + (m * hd + m) * 4, m * 4, split_tag});
            ctx.order(me, engine::dma, engine::matrix);
            ctx.order(me, engine::dma, engine::vector);
            continue;
          }
          for (uint32_t p = 1; split_keys && p < ranks_per_kv; ++p) {  // the leader merges the parts
            const auto peer = static_cast<uint16_t>(group[r + static_cast<int>(p)]);
            const uint32_t po = slot(p), pm = po + m * hd * 4, pl = pm + m * 4;
            ctx.emit(me, recv_cmd{engine::dma, peer, po, m * hd * 4, split_tag});
            ctx.emit(me, recv_cmd{engine::dma, peer, pm, m * 4, split_tag});
            ctx.emit(me, recv_cmd{engine::dma, peer, pl, m * 4, split_tag});
            ctx.order(me, engine::dma, engine::vector);
            emit(vec(vector_op::max, 1, m, mrow, pm, mnew));
            emit(vec(vector_op::sub, 1, m, mrow, mnew, alpha));
            emit(vec(vector_op::exp, 1, m, alpha, 0, alpha));
            emit(vec(vector_op::sub, 1, m, pm, mnew, tmax));
            emit(vec(vector_op::exp, 1, m, tmax, 0, tmax));
            emit(vec(vector_op::mul, 1, m, lrow, alpha, lrow));
            emit(vec(vector_op::mul, 1, m, pl, tmax, rsum));
            emit(vec(vector_op::add, 1, m, lrow, rsum, lrow));
            emit(vec(vector_op::mul_row, m, hd, o, alpha, o));
            emit(vec(vector_op::mul_row, m, hd, po, tmax, po));
            emit(vec(vector_op::add, m, hd, o, po, o));
            emit(vec(vector_op::copy, 1, m, mnew, 0, mrow));
          }
          // O / l into o_out, free once the DMA has placed the previous block (long done by now).
          if (placed_before) ctx.order(me, engine::dma, engine::vector);
          emit(vec(vector_op::div_row, m, hd, o, lrow, o_out));
          ctx.order(me, engine::vector, engine::dma);
          dma_cmd place;  // O -> this head's columns of the attention output
          place.src_space = place.dst_space = mem_space::sram;
          place.src = o_out;
          place.dst = att_at;
          place.row_bytes = hd * 4;
          place.rows = m;
          place.src_stride = hd * 4;
          place.dst_stride = uint64_t(att_ld) * 4;
          emit(place);
          placed_before = true;
        }
      }
      t0 += seq.new_tokens;
    }
  }
  if (wide) {  // every rank needs its rows of the attention output for its rows of o
    label("attention_allgather");
    std::vector<chunk> blocks(n);
    for (int r = 0; r < n; ++r)
      if (kv_count(r) > 0) blocks[r] = {uint64_t(kv_first(r)) * T * per_kv * hd, uint64_t(T) * per_kv * hd};
    direct_all_gather(ctx, group, att, blocks, engine::dma);
  }
  for (int r = 0; r < n; ++r) {
    const int me = group[r];
    label("o_proj");
    ctx.order(me, engine::dma, narrow ? engine::vector : engine::matrix);  // attention output placed
    const uint32_t ao = operand(me, att, T * att_heads * hd);
    ctx.order(me, engine::vector, engine::matrix);
    if (wide) {  // rows r::n of o; att is block-major [KV][T x per_kv*hd]: gather per block and token
      const uint32_t block = per_kv * hd, per_block = block / static_cast<uint32_t>(n);
      ctx.order(me, engine::vector, engine::dma);
      ctx.order(me, engine::matrix, engine::dma);
      for (uint32_t b = 0; b < KV; ++b)
        for (uint32_t t = 0; t < T; ++t)
          copy_2d(ctx, me, mem_space::sram, ao + ((b * T + t) * block + r) * aeb, static_cast<uint64_t>(n),
                  mem_space::sram, xk + (t * H * hd / n + b * per_block) * aeb, 1, per_block, 1,
                  static_cast<uint32_t>(aeb));
      ctx.order(me, engine::dma, engine::matrix);
      cyclic_gemm(me, r, layer_weight::o, y);
      continue;
    }
    project(me, r, layer_weight::o, ao, hr * hd, y);
  }
  engine attention_done = engine::matrix;
  if (rows_only) {
    label("o_reduce_scatter");
    attention_done = ring_reduce_scatter(ctx, group, y, out_rows, engine::matrix);
  } else {
    label("o_allreduce");
    attention_done = all_reduce(y, uint64_t(T) * h, engine::matrix);
  }
  // The gate/up operand: rows_only all-gathers it.
  if (rows_only) {
    for (int r = 0; r < n; ++r) {
      const int me = group[r];
      const chunk mine = out_rows[(r + 1) % n];
      const auto at = static_cast<uint32_t>(mine.offset * 4), rows = static_cast<uint32_t>(mine.elems / h);
      label("post_norm");
      load_2d(ctx, me, w.post_norm, h, norm2, h, 1, h);
      ctx.order(me, attention_done, engine::vector);
      ctx.order(me, engine::dma, engine::vector);
      ctx.emit(me, vec(vector_op::add, rows, h, x + at, y + at, x2 + at));
      ctx.emit(me, vec(vector_op::rmsnorm, rows, h, x2 + at, norm2, xn + at, eps));
      if (narrow)
        ctx.emit(me, vec(vector_op::to_bf16, 1, rows * h, xn + at, 0, static_cast<uint32_t>(x16 + mine.offset * 2)));
    }
    label("post_norm_allgather");
    ring_all_gather(ctx, group, gathered, words, 1, engine::vector);
  }

  // MLP: residual, norm, SwiGLU with gate/up column-parallel and down row-parallel.
  for (int r = 0; r < n; ++r) {
    const int me = group[r];
    uint32_t xm = gathered;
    if (rows_only) {
      label("gate_up");
      ctx.order(me, engine::dma, engine::matrix);
    } else {
      label("post_norm");
      load_2d(ctx, me, w.post_norm, h, norm2, h, 1, h);
      ctx.order(me, attention_done, engine::vector);
      ctx.order(me, engine::dma, engine::vector);
      ctx.emit(me, vec(vector_op::add, T, h, x, y, x2));
      ctx.emit(me, vec(vector_op::rmsnorm, T, h, x2, norm2, xn, eps));
      label("gate_up");
      xm = operand(me, xn, T * h);
      ctx.order(me, engine::vector, engine::matrix);
    }
    if (split_mn || moe) continue;  // below, over the whole group
    if (split_2d) {                 // grid (i, j): gate/up columns I_i (block i of g, u) over rows h_j
      const int i = r / grid_q, j = r % grid_q;
      const auto a = static_cast<uint32_t>(xm + split_range(h, grid_q, j).first * aeb);
      const auto at = static_cast<uint32_t>(i_blocks[i].offset * 4);
      project(me, r, layer_weight::gate, a, h, g + at);
      project(me, r, layer_weight::up, a, h, u + at);
      continue;
    }
    if (split_k) {  // partial products over the rank's rows h_r of gate and up
      const auto a = static_cast<uint32_t>(xm + split_range(h, n, r).first * aeb);
      if (wide) {
        gather_columns(me, r, xm, h);
        cyclic_gemm(me, r, layer_weight::gate, g);
        cyclic_gemm(me, r, layer_weight::up, u);
        continue;
      }
      project(me, r, layer_weight::gate, a, h, g);
      project(me, r, layer_weight::up, a, h, u);
    } else {
      project(me, r, layer_weight::gate, xm, h, g);
      project(me, r, layer_weight::up, xm, h, u);
    }
  }
  engine mlp_done = engine::matrix;
  if (moe) {
    const auto E = static_cast<uint32_t>(model.num_experts), top = static_cast<uint32_t>(model.num_experts_per_tok),
               mI = static_cast<uint32_t>(model.moe_intermediate_size);
    if (job.experts.size() != T)
      throw error(what + ": the expert assignment has " + std::to_string(job.experts.size()) + " tokens, the batch " +
                  std::to_string(T));
    std::vector<std::vector<std::pair<uint32_t, uint32_t>>> routed(E);  // expert -> (token, choice)
    for (uint32_t t = 0; t < T; ++t) {
      if (job.experts[t].size() != top)
        throw error(what + ": token " + std::to_string(t) + " needs " + std::to_string(top) + " experts");
      for (uint32_t j = 0; j < top; ++j) routed.at(job.experts[t][j]).push_back({t, j});
    }
    // Expert parallel with all-to-all exchanges (docs/lowering.md, "MoE"): token t is owned by the
    // rank whose rows T_r hold it, expert e lives on rank e % n. Rank q keeps the rows of every
    // (token, choice) routed to its experts in one buffer, expert by expert in token order
    // (pairs[q]); the owner sends each row there (dispatch), the expert rank sends each output
    // row back (combine), and the owner adds them weighted by the routing weights.
    const auto owner = [&](uint32_t t) {
      for (int r = 0;; ++r)
        if (t < split_range(T, n, r).second) return r;
    };
    struct routed_row {
      uint32_t t, j;
    };
    std::vector<std::vector<routed_row>> pairs(n);  // [expert rank] rows, expert by expert
    std::vector<uint32_t> first_row(E);             // expert e's first row in pairs[e % n]
    uint32_t max_ne = 1, max_rows = 1, max_tr = 1;
    for (uint32_t e = 0; e < E; ++e) {
      auto& rows = pairs[e % n];
      first_row[e] = static_cast<uint32_t>(rows.size());
      for (const auto& [t, j] : routed[e]) rows.push_back({t, j});
      max_ne = std::max(max_ne, static_cast<uint32_t>(routed[e].size()));
    }
    for (int r = 0; r < n; ++r) {
      max_rows = std::max(max_rows, static_cast<uint32_t>(pairs[r].size()));
      max_tr = std::max(max_tr, static_cast<uint32_t>(split_range(T, n, r).second - split_range(T, n, r).first));
    }
    const uint32_t xm = narrow ? x16 : xn;
    const uint32_t logits = buffer(uint64_t(T) * E, "router logits"),
                   chosen = buffer(uint64_t(T) * top, "routing weights");
    const uint32_t xr = ctx.alloc_symmetric(group, uint64_t(max_rows) * h * aeb, "dispatched tokens");
    const uint32_t ye = buffer(uint64_t(max_ne) * h, "expert out");
    const uint32_t cr = buffer(uint64_t(max_tr) * top * h, "combined expert outputs");  // [T_r][top][h]
    const uint32_t ge = buffer(uint64_t(max_ne) * mI, "expert gate"), ue = buffer(uint64_t(max_ne) * mI, "expert up");
    const uint32_t ae = narrow ? ctx.alloc_symmetric(group, uint64_t(max_ne) * mI * 2, "bf16 expert activation") : 0;
    const uint32_t dispatch_tag = ctx.new_tag(), combine_tag = ctx.new_tag();
    const auto xrow = static_cast<uint32_t>(h * aeb), yrow = h * 4;  // bytes per dispatched / output row
    auto row_at = [](uint32_t base, uint64_t row, uint64_t bytes) { return static_cast<uint32_t>(base + row * bytes); };
    for (int r = 0; r < n; ++r) {
      const int me = group[r];
      const auto [t0, t1] = split_range(T, n, r);
      const auto tr = static_cast<uint32_t>(t1 - t0);
      label("router");  // the owner's tokens only
      if (tr > 0) {
        streamed_gemm(ctx, me, row_at(xm, t0, xrow), h, w.router, E, weights, wt, row_at(logits, t0, E * 4), E, tr, h,
                      E, wtype);
        ctx.order(me, engine::matrix, engine::dma);
        for (auto t = static_cast<uint32_t>(t0); t < t1; ++t)
          for (uint32_t j = 0; j < top; ++j)
            copy_2d(ctx, me, mem_space::sram, logits + (t * E + job.experts[t][j]) * 4, 1, mem_space::sram,
                    chosen + (t * top + j) * 4, 1, 1, 1);
      }
      label("moe_dispatch");  // the owner's rows to the expert ranks (in pairs order on every channel)
      ctx.order(me, engine::vector, engine::dma);  // xm complete
      for (int q = 0; q < n; ++q)
        for (size_t i = 0; i < pairs[q].size(); ++i) {
          const uint32_t t = pairs[q][i].t;
          if (owner(t) != r) continue;
          const uint32_t from = row_at(xm, t, xrow), to = row_at(xr, i, xrow);
          if (q == r)
            copy_2d(ctx, me, mem_space::sram, from, 1, mem_space::sram, to, 1, 1, 1, xrow);
          else
            ctx.emit(me, send_cmd{engine::dma, static_cast<uint16_t>(group[q]), from, to, xrow, dispatch_tag});
        }
    }
    for (int q = 0; q < n; ++q) {
      const int me = group[q];
      label("moe_dispatch");
      for (size_t i = 0; i < pairs[q].size(); ++i) {
        const int p = owner(pairs[q][i].t);
        if (p != q)
          ctx.emit(me, recv_cmd{engine::dma, static_cast<uint16_t>(group[p]), row_at(xr, i, xrow), xrow, dispatch_tag});
      }
      label("experts");
      ctx.order(me, engine::dma, engine::matrix);
      for (uint32_t e = static_cast<uint32_t>(q); e < E; e += static_cast<uint32_t>(n)) {
        const auto ne = static_cast<uint32_t>(routed[e].size());
        if (ne == 0) continue;
        ctx.order(me, engine::vector, engine::matrix);  // ge, ue, ae free
        const uint32_t xe = row_at(xr, first_row[e], xrow);
        streamed_gemm(ctx, me, xe, h, w.experts_gate + uint64_t(e) * h * mI * eb, mI, weights, wt, ge, mI, ne, h, mI,
                      wtype);
        streamed_gemm(ctx, me, xe, h, w.experts_up + uint64_t(e) * h * mI * eb, mI, weights, wt, ue, mI, ne, h, mI,
                      wtype);
        ctx.order(me, engine::matrix, engine::vector);
        ctx.emit(me, vec(vector_op::silu, ne, mI, ge, 0, ge));
        ctx.emit(me, vec(vector_op::mul, ne, mI, ge, ue, ge));
        if (narrow) ctx.emit(me, vec(vector_op::to_bf16, 1, ne * mI, ge, 0, ae));
        ctx.order(me, engine::vector, engine::matrix);
        ctx.order(me, engine::dma, engine::matrix);  // ye free (the last expert's outputs sent)
        streamed_gemm(ctx, me, narrow ? ae : ge, mI, w.experts_down + uint64_t(e) * mI * h * eb, h, weights, wt, ye, h,
                      ne, mI, h, wtype);
        label("moe_combine");  // each output row to its token's owner, at [t - t0][choice] of its cr
        ctx.order(me, engine::matrix, engine::dma);
        for (uint32_t slot = 0; slot < ne; ++slot) {
          const auto [t, j] = routed[e][slot];
          const int p = owner(t);
          const auto tp0 = static_cast<uint32_t>(split_range(T, n, p).first);
          const uint32_t from = row_at(ye, slot, yrow), to = row_at(cr, uint64_t(t - tp0) * top + j, yrow);
          if (p == q)
            copy_2d(ctx, me, mem_space::sram, from, 1, mem_space::sram, to, 1, 1, 1, yrow);
          else
            ctx.emit(me, send_cmd{engine::dma, static_cast<uint16_t>(group[p]), from, to, yrow, combine_tag});
        }
        label("experts");
      }
    }
    for (int r = 0; r < n; ++r) {
      const int me = group[r];
      const auto [t0, t1] = split_range(T, n, r);
      label("moe_combine");
      for (int q = 0; q < n; ++q)  // in the expert rank's send order
        for (const auto& [t, j] : pairs[q])
          if (q != r && owner(t) == r)
            ctx.emit(me, recv_cmd{engine::dma, static_cast<uint16_t>(group[q]),
                                  row_at(cr, uint64_t(t - t0) * top + j, yrow), yrow, combine_tag});
      ctx.order(me, engine::dma, engine::vector);  // outputs and routing weights arrived
      if (t1 == t0) continue;
      const auto tr = static_cast<uint32_t>(t1 - t0);
      ctx.emit(me, vec(vector_op::softmax, tr, top, chosen + t0 * top * 4, 0, chosen + t0 * top * 4, 1.0f));
      ctx.emit(me, vec(vector_op::scale, tr, h, row_at(d, t0, yrow), 0, row_at(d, t0, yrow), 0.0f));  // d: finite
      for (auto t = static_cast<uint32_t>(t0); t < t1; ++t)
        for (uint32_t j = 0; j < top; ++j) {
          const uint32_t y_row = row_at(cr, uint64_t(t - t0) * top + j, yrow), w_at = chosen + (t * top + j) * 4;
          ctx.emit(me, vec(vector_op::mul_row, 1, h, y_row, w_at, y_row));
          ctx.emit(me, vec(vector_op::add, 1, h, row_at(d, t, yrow), y_row, row_at(d, t, yrow)));
        }
    }
    label("moe_allgather");  // every rank needs every output row for the residual
    std::vector<chunk> rows;
    for (int r = 0; r < n; ++r) {
      const auto [t0, t1] = split_range(T, n, r);
      rows.push_back({t0 * h, (t1 - t0) * h});
    }
    mlp_done = ring_all_gather(ctx, group, d, rows, 0, engine::vector);
  } else {
    engine gate_up_done = engine::matrix;
    const uint16_t barrier = split_mn ? ctx.new_barrier_group() : 0;
    // mn_split's weight blocks (its resident_block, tiled: one contiguous block per rank).
    const auto weights_at = job.weights_resident ? mn_operands::place::sram
                            : job.weights_tiled  ? mn_operands::place::hbm_blocks
                                                 : mn_operands::place::hbm_matrix;
    // The weight blocks are reused by the next rotation: every rank is done with them first.
    auto rotation_barrier = [&] {
      for (int c : group) ctx.emit(c, barrier_cmd{engine::sync, barrier, static_cast<uint32_t>(n)});
    };
    // Token rows of rank r (mn_split).
    auto rows_of = [&](int r) {
      const auto [t0, t1] = split_range(T, n, r);
      return std::pair<uint32_t, uint32_t>(static_cast<uint32_t>(t0), static_cast<uint32_t>(t1 - t0));
    };
    if (split_mn) {  // xn's bf16 copy (or xn) is whole on every rank: rank r multiplies its rows T_r
      const uint32_t xm = narrow ? x16 : xn;
      mn_split_rotate(ctx, group, {T, h, I, xm, h, w.gate, weights_at, mn_blocks, g, I, wtype, true, true});
      rotation_barrier();
      mn_split_rotate(ctx, group, {T, h, I, xm, h, w.up, weights_at, mn_blocks, u, I, wtype, true, true});
    }
    if (split_2d) {
      label("gate_up_combine");
      mnk_2d_combine(ctx, group, grid_p, grid_q, g, i_blocks, engine::matrix);
      gate_up_done = mnk_2d_combine(ctx, group, grid_p, grid_q, u, i_blocks, engine::matrix);
    }
    if (split_k) {
      label("gate_up_allreduce");
      if (wide) {
        gate_up_done = all_reduce(g, 2 * uint64_t(T) * I, engine::matrix);
      } else {
        ring_all_reduce(ctx, group, g, uint64_t(T) * I, engine::matrix);
        gate_up_done = ring_all_reduce(ctx, group, u, uint64_t(T) * I, engine::matrix);
      }
    }
    for (int r = 0; r < n; ++r) {
      const int me = group[r];
      const auto [i0, i1] = split_range(I, n, r);
      const auto ir = static_cast<uint32_t>(i1 - i0);
      // split_k: gate and up are whole on every rank; the rank's down rows need its columns I_r of them.
      const uint32_t cols = split_k || split_2d ? I : ir, first_col = split_k ? static_cast<uint32_t>(i0) : 0;
      ctx.order(me, gate_up_done, engine::vector);
      label("swiglu");
      if (split_mn) {  // rows T_r of gate and up, all I columns
        const auto [t0, tr] = rows_of(r);
        ctx.emit(me, vec(vector_op::silu, tr, I, g + t0 * I * 4, 0, g + t0 * I * 4));
        ctx.emit(me, vec(vector_op::mul, tr, I, g + t0 * I * 4, u + t0 * I * 4, g + t0 * I * 4));
        label("down_proj");
        if (narrow) {  // the bf16 strip of the rank's rows, at the start of x16
          ctx.order(me, engine::matrix, engine::vector);
          ctx.emit(me, vec(vector_op::to_bf16, 1, tr * I, g + t0 * I * 4, 0, x16));
        }
        ctx.order(me, engine::vector, engine::matrix);
        continue;
      }
      ctx.emit(me, vec(vector_op::silu, T, cols, g, 0, g));
      ctx.emit(me, vec(vector_op::mul, T, cols, g, u, g));
      // The bf16 copy of xn is still being read by gate/up: convert after the matrix unit is done.
      label("down_proj");
      if (narrow) ctx.order(me, engine::matrix, engine::vector);
      const uint32_t gd = operand(me, g, T * cols);
      ctx.order(me, engine::vector, engine::matrix);
      if (split_2d) {  // grid (i, j): down columns h_j over rows I_i (the rank's block i of the SwiGLU output)
        const int gi = r / grid_q, gj = r % grid_q;
        const auto ki = static_cast<uint32_t>(resident_block(model, partition, n, r, layer_weight::down).rows);  // I_i
        project(me, r, layer_weight::down, static_cast<uint32_t>(gd + i_blocks[gi].offset * aeb), ki,
                static_cast<uint32_t>(d_blocks + h_blocks[gj].offset * 4));
        continue;
      }
      if (wide) {
        gather_columns(me, r, gd, I);
        cyclic_gemm(me, r, layer_weight::down, d);
        continue;
      }
      project(me, r, layer_weight::down, static_cast<uint32_t>(gd + first_col * aeb), cols, d);
    }
    if (split_2d) {
      label("down_combine");
      const engine done = mnk_2d_combine(ctx, transposed, grid_q, grid_p, d_blocks, h_blocks, engine::matrix);
      // Block-major [block j][T x h_j] -> row-major d for the residual.
      for (int r = 0; r < n; ++r) {
        const int me = group[r];
        ctx.order(me, done, engine::dma);
        for (int j = 0; j < grid_q; ++j) {
          const auto [n0, n1] = split_range(h, grid_q, j);
          const auto hj = static_cast<uint32_t>(n1 - n0);
          copy_2d(ctx, me, mem_space::sram, d_blocks + h_blocks[j].offset * 4, hj, mem_space::sram, d + n0 * 4, h, T,
                  hj);
        }
      }
      mlp_done = engine::dma;
    } else if (split_mn) {
      label("down_proj");
      rotation_barrier();
      // fp32: A is g itself (rank r's rows); bf16: the rank's strip at x16.
      mn_split_rotate(ctx, group,
                      {T, I, h, narrow ? x16 : g, I, w.down, weights_at, mn_blocks, d, h, wtype, !narrow, true});
      label("down_allgather");
      std::vector<chunk> rows;
      for (int r = 0; r < n; ++r) rows.push_back({uint64_t(rows_of(r).first) * h, uint64_t(rows_of(r).second) * h});
      mlp_done = ring_all_gather(ctx, group, d, rows, 0, engine::matrix);
    } else if (rows_only) {
      label("down_reduce_scatter");
      mlp_done = ring_reduce_scatter(ctx, group, d, out_rows, engine::matrix);
    } else {
      label("down_allreduce");
      mlp_done = all_reduce(d, uint64_t(T) * h, engine::matrix);
    }
  }  // dense MLP
  for (int r = 0; r < n; ++r) {
    const int me = group[r];
    label("residual");
    ctx.order(me, mlp_done, engine::vector);
    // The rows this rank stores: its part of T, or (rows_only) the chunk the reduce-scatter completed on it.
    const chunk mine = rows_only ? out_rows[(r + 1) % n] : out_rows[r];
    const auto at = static_cast<uint32_t>(mine.offset * 4);
    if (rows_only)
      ctx.emit(me, vec(vector_op::add, static_cast<uint32_t>(mine.elems / h), h, x2 + at, d + at, out + at));
    else
      ctx.emit(me, vec(vector_op::add, T, h, x2, d, out));
    if (!job.store_out) continue;
    ctx.order(me, engine::vector, engine::dma);
    store_2d(ctx, me, out + at, h, job.x_out + mine.offset * 4, h, static_cast<uint32_t>(mine.elems / h), h);
  }
}

}  // namespace npuvp::kernels
