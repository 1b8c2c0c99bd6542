// Lowering of one dense decoder layer (Llama / Qwen3 style) for a batch of
// sequences over a tensor-parallel group: RMSNorm, QKV projections (column
// parallel by heads), Qwen3 q/k norm, RoPE, KV-cache append, FlashAttention-
// style tiled attention with online softmax (GQA, causal), o_proj (row
// parallel) + ring all-reduce + residual, RMSNorm, SwiGLU MLP (gate/up column
// parallel, down row parallel) + all-reduce + residual; or an MoE MLP (expert
// parallel, all-to-all dispatch and combine). docs/lowering.md.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kernels/lowering_context.h"
#include "kernels/model_config.h"

namespace npuvp::kernels {

// The projection and MLP weights of a dense decoder layer: q [h x H*hd], k and v [h x KV*hd],
// o [H*hd x h], gate and up [h x I], down [I x h] (weight_shape: rows, columns).
enum class layer_weight { q, k, v, o, gate, up, down };
constexpr int layer_weight_count = 7;

// HBM addresses of one layer's weights. Matrices are [in x out] row-major
// (the transpose of torch's nn.Linear.weight) of layer_job::weight_type, or with
// layer_job::weights_tiled q..down hold the ranks' blocks in the tiled layout
// (tiled_index) in the same regions; norms are fp32 vectors.
struct layer_weights {
  uint64_t input_norm = 0;          // [h]
  uint64_t q = 0, k = 0, v = 0;     // [h x H*hd], [h x KV*hd], [h x KV*hd]
  uint64_t q_norm = 0, k_norm = 0;  // [hd], Qwen3 only
  uint64_t o = 0;                   // [H*hd x h]
  uint64_t post_norm = 0;           // [h]
  uint64_t gate = 0, up = 0;        // [h x I]
  uint64_t down = 0;                // [I x h]
  // MoE layers (instead of gate/up/down): router [h x E]; experts' gate and up
  // [E][h x moe_I], down [E][moe_I x h].
  uint64_t router = 0, experts_gate = 0, experts_up = 0, experts_down = 0;
  // The field of a projection or MLP weight.
  uint64_t& matrix(layer_weight w) {
    static constexpr uint64_t layer_weights::*fields[] = {&layer_weights::q,   &layer_weights::k,    &layer_weights::v,
                                                          &layer_weights::o,   &layer_weights::gate, &layer_weights::up,
                                                          &layer_weights::down};
    return this->*fields[static_cast<int>(w)];
  }
  uint64_t matrix(layer_weight w) const { return const_cast<layer_weights*>(this)->matrix(w); }
};

// The layer's KV cache in HBM: K and V each [sequence][kv head][max_positions][hd]
// fp32, K stored after RoPE.
struct kv_cache_layout {
  uint64_t k = 0, v = 0;
  uint32_t max_positions = 0;
  // sram: k and v are offsets in every rank's SRAM, which holds only the rank's
  // KV heads: [sequence][kv head of the rank][max_positions][hd].
  mem_space space = mem_space::hbm;
};

struct sequence {
  uint32_t past = 0;        // tokens already in the cache
  uint32_t new_tokens = 1;  // tokens of this step (1: decode; more: (chunked) prefill)
};

struct layer_job {
  layer_weights weights;
  kv_cache_layout cache;
  std::vector<sequence> batch;
  uint64_t x_in = 0, x_out = 0;  // [T x h] fp32, T = sum of new_tokens, rows in batch order
  uint32_t kv_tile = 128;        // keys per attention tile (<= core.matrix.rows and cols)
  // Query rows per attention block (prefill): a causal prefill skips the KV tiles that lie wholly after
  // a block's last query. Smaller blocks skip more of the masked half, but every matmul command then
  // streams fewer rows past its weight tile (a weight load hidden only behind min(k, m) rows of the
  // previous command, core_timing::matmul_follow_cycles).
  uint32_t query_tile = 1024;
  uint32_t weight_tile = 128;  // weight columns per streamed tile (two tiles in SRAM at a time)
  // Projection and MLP weights in HBM: fp32, or bf16 / fp8 E4M3 / int8 (1 byte per element moved and
  // stored; to_fp8 / to_int8 in command.h give their scales). With narrow weights each matmul's
  // activation operand is rounded to bf16 by the vector unit first (activation_type); accumulation stays
  // fp32. Norm weights are always fp32.
  dtype weight_type = dtype::fp32;
  // >= 0: x is already in every rank's SRAM at this offset (fp32 [T x h], written
  // before the layer on the DMA or vector engine and ordered by the caller), and
  // the layer updates it in place (x + attention, then + MLP: the output, complete on
  // the vector engine), which saves two [T x h] buffers per rank.
  int64_t x_sram = -1;
  // Store the output rows T_r of rank r to x_out.
  bool store_out = true;
  // With store_out: the stored rows are all that is needed of the output (the step's last layer), so
  // the dense layer (megatron or k_split) reduce-scatters o_proj and down instead of all-reducing them,
  // all-gathers the gate/up operand, and each rank stores the rows it reduced; x in SRAM (x_sram) then
  // holds the output in those rows only (docs/lowering.md).
  bool out_rows_only = false;
  // Weights resident in SRAM: the projection/MLP fields of `weights` are then SRAM
  // offsets (the same on every rank) of the rank's blocks, row-major: the part of each
  // weight the partition has the rank multiply (resident_block); norms stay in HBM.
  bool weights_resident = false;
  // Weights in HBM in the "tiled" layout (tiled_index): each streamed tile is one contiguous range
  // (over all HBM channels) instead of one row segment per weight row. Not for MoE experts.
  bool weights_tiled = false;
  // Row-major streamed weights: each rank starts at its staggered_first_tile (false: at tile 0).
  bool stagger_tiles = true;
  // Tensor partition of the column-parallel GEMMs (QKV, gate/up). false: Megatron
  // (each rank multiplies all of x by its heads' / I_r columns). true: k_split (each
  // rank multiplies x[:, h_r] by rows h_r of the whole weight, the partial Q, K, V,
  // gate and up are ring all-reduced, and each rank then works on its heads and
  // I_r columns of the replicated results). o_proj and down are row-parallel
  // (split along K, all-reduced) either way.
  // With more ranks than KV heads ("wide", batch-1 decode over a whole chip): every weight
  // is split by rows cyclically (rank r: rows r::n, so all ranks read neighbouring rows),
  // partials are combined by direct all-reduces, the ranks of a KV head split its keys
  // (Flash-Decoding) and its leader (rank KV-head x n/KV) merges them; docs/lowering.md.
  bool split_k = false;
  // MLP MN-split (mn_split): rank r takes token rows T_r, gate/up and down weight
  // column blocks rotate around the ring (mn_split_rotate), the down output rows are
  // all-gathered. Attention stays split by heads. Not with split_k.
  bool split_mn = false;
  // MLP 2-D MN/K split (mnk_2d) on the p x q grid of the group (grid_shape): gate/up
  // with I split over grid rows and h over grid columns, down with h split over grid
  // columns and I over grid rows; partials combined by mnk_2d_combine (all-reduce
  // along one grid dimension, all-gather along the other). Attention stays split by
  // heads. Not with split_k or split_mn.
  bool split_2d = false;
  // Non-empty: an MoE layer. experts[t] = the num_experts_per_tok distinct experts
  // token t is routed to (a static assignment: the stream cannot depend on data).
  // Expert e runs on rank e % n (expert parallel); token t's owner (the rank whose
  // rows T_r hold it) sends its row to the ranks of its experts and gets their
  // outputs back (all-to-all send/recv), weights them by the softmax of its router
  // logits over its assigned experts (norm_topk_prob over the static set), and the
  // owners' rows are ring all-gathered. docs/lowering.md, "MoE".
  std::vector<std::vector<uint32_t>> experts;
  // Non-empty: label the layer's commands with operators "<op_prefix>.qkv_proj", ... (lowering_context::begin_op).
  std::string op_prefix;
};

std::pair<uint64_t, uint64_t> weight_shape(const model_config& model, layer_weight w);

// Rows row0, row0 + row_step, ... (`rows` of them) and columns [col0, col0 + cols) of a weight.
struct weight_block {
  uint64_t row0 = 0, rows = 0, row_step = 1, col0 = 0, cols = 0;
};

// The block of weight `w` that rank r of an n-rank group multiplies under `partition`
// (megatron, k_split, mn_split, mnk_2d), which it keeps row-major [rows x cols] in SRAM
// with weights_resident. megatron, mn_split and mnk_2d split attention by heads (q, k,
// v: the rank's heads' columns, o: their rows); k_split takes rows h_r of q, k, v,
// gate and up (wide k_split, more ranks than KV heads: rows r, r + n, ... of every
// weight). MLP: megatron and k_split down rows I_r, megatron gate/up columns I_r;
// mn_split gate/up columns I_r and down columns h_r (the blocks the ring rotates);
// mnk_2d on the p x q grid, rank (i, j): gate/up rows h_j x columns I_i, down rows I_i
// x columns h_j. docs/lowering.md, "Residency".
weight_block resident_block(const model_config& model, const std::string& partition, int n, int r, layer_weight w);

// Weights in HBM with layer_job::weights_tiled ("tiled" layout): each weight's region holds the
// ranks' blocks (resident_block) one after another, rank 0 first; a block is stored as its column
// tiles of `tile` columns (tiled_width: the streamed GEMM's weight_tile; mn_split's MLP, which loads
// its block whole: the block's columns), each tile row-major [rows x tile columns], so every tile a
// rank streams is one contiguous range. tiled_index: the element (i, j) of the block in that order;
// tiled_block_offset: the bytes of the blocks of ranks 0..r-1.
uint64_t tiled_width(const std::string& partition, layer_weight w, const weight_block& b, uint32_t weight_tile);
uint64_t tiled_index(const weight_block& b, uint64_t i, uint64_t j, uint64_t tile);
uint64_t tiled_block_offset(const model_config& model, const std::string& partition, int n, int r, layer_weight w,
                            dtype weights);

// Diagonal tile order (the remedy for "partition camping": Ruetsch & Micikevicius, "Optimizing
// Matrix Transpose in CUDA", NVIDIA 2009): the n ranks of a group stream the column tiles of their
// weight blocks (row-major layout, rows `row_stride` bytes apart) at the same pace, and ranks whose
// blocks start in the same HBM channel read the same channels together, tile after tile. All K
// slices of k_split and mnk_2d do: their rows lie whole interleave periods apart. A tile's rows
// lie in one residue class of channels mod g = gcd(row_stride / interleave_bytes, C) (C channels);
// rank r (block from `start`; rank 0's from `rank0_start`) starts at the first tile of class
// ch(rank0_start) + r g / n (`tile_bytes` per tile row) and wraps around, so the ranks read
// different channels. Tile 0 when the row stride is not a multiple of interleave_bytes.
uint32_t staggered_first_tile(const hw_config& hw, uint64_t rank0_start, uint64_t start, uint64_t row_stride, int r,
                              int n, uint64_t tile_bytes, uint32_t tiles);

// Offsets from a base of a rank's resident weight blocks of one layer, in layer_weight
// order, each 64-byte aligned and sized for the largest rank's block (the same offsets
// on every rank), and their total bytes.
struct resident_slices {
  std::array<uint64_t, layer_weight_count> offset{};
  uint64_t bytes = 0;
};
resident_slices resident_layout(const model_config& model, const std::string& partition, int group_size, dtype weights);

// Appends the layer to the programs of `group` (rank order). Needs the group
// size to divide num_key_value_heads (or, with split_k, to be a multiple of it
// dividing hidden_size, intermediate_size and a KV head's query width). Throws npuvp::error for MoE layers, a
// cache too small, or buffers that do not fit SRAM (saying by how much).
void lower_transformer_layer(lowering_context& ctx, const model_config& model, const layer_job& job,
                             const std::vector<int>& group);

}  // namespace npuvp::kernels
