#include "kernels/transformer_layer.h"

#include <algorithm>
#include <cmath>

#include "kernels/collectives.h"
#include "platform/base/error.h"

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

void lower_transformer_layer(lowering_context& ctx, const model_config& model, const layer_job& job,
                             const std::vector<int>& group) {
  const int n = static_cast<int>(group.size());
  const std::string what = model.name + " layer on " + std::to_string(n) + " cores";
  if (model.is_moe()) throw error(what + ": MoE layers are not lowered yet");
  if (model.num_key_value_heads % n != 0)
    throw error(what + ": the group size must divide num_key_value_heads (" +
                std::to_string(model.num_key_value_heads) + ")");
  const auto h = static_cast<uint32_t>(model.hidden_size), hd = static_cast<uint32_t>(model.head_dim);
  const auto H = static_cast<uint32_t>(model.num_attention_heads),
             KV = static_cast<uint32_t>(model.num_key_value_heads);
  const auto I = static_cast<uint32_t>(model.intermediate_size);
  const uint32_t hr = H / n, kvr = KV / n, per_kv = H / KV;  // heads per rank; q heads per kv head
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
    m_max = std::max(m_max, seq.new_tokens);
  }
  const auto max_ir = static_cast<uint32_t>(split_range(I, n, 0).second);
  const float eps = static_cast<float>(model.rms_norm_eps), theta = static_cast<float>(model.rope_theta);
  const uint64_t cache_row = uint64_t(job.cache.max_positions) * hd;  // elements per (sequence, kv head)

  // Every rank allocates the same buffers at the same offsets.
  auto buffer = [&](uint64_t elems, const char* name) { return ctx.alloc_symmetric(group, elems * 4, name); };
  const uint32_t x = buffer(uint64_t(T) * h, "x"), xn = buffer(uint64_t(T) * h, "normed x");
  const uint32_t norm1 = buffer(h, "input_norm"), norm2 = buffer(h, "post_attention_norm");
  const uint32_t qn = buffer(hd, "q_norm"), kn = buffer(hd, "k_norm");
  const uint32_t wq = buffer(uint64_t(h) * hr * hd, "Wq slice"), wk = buffer(uint64_t(h) * kvr * hd, "Wk slice"),
                 wv = buffer(uint64_t(h) * kvr * hd, "Wv slice"), wo = buffer(uint64_t(hr) * hd * h, "Wo slice");
  const uint32_t q = buffer(uint64_t(T) * hr * hd, "Q"), k = buffer(uint64_t(T) * kvr * hd, "K"),
                 v = buffer(uint64_t(T) * kvr * hd, "V"), att = buffer(uint64_t(T) * hr * hd, "attention out");
  const uint32_t kt = buffer(uint64_t(bc) * hd, "K tile"), vt = buffer(uint64_t(bc) * hd, "V tile");
  const uint32_t sc = buffer(uint64_t(m_max) * bc, "scores"), o = buffer(uint64_t(m_max) * hd, "O accumulator");
  const uint32_t mrow = buffer(m_max, "row max"), mnew = buffer(m_max, "new row max"),
                 tmax = buffer(m_max, "tile row max"), alpha = buffer(m_max, "rescale"),
                 lrow = buffer(m_max, "row sum"), rsum = buffer(m_max, "tile row sum");
  const uint32_t y = buffer(uint64_t(T) * h, "o_proj partial"), x2 = buffer(uint64_t(T) * h, "residual");
  const uint32_t wg = buffer(uint64_t(h) * max_ir, "Wgate slice"), wu = buffer(uint64_t(h) * max_ir, "Wup slice"),
                 wd = buffer(uint64_t(max_ir) * h, "Wdown slice");
  const uint32_t g = buffer(uint64_t(T) * max_ir, "gate"), u = buffer(uint64_t(T) * max_ir, "up");
  const uint32_t d = buffer(uint64_t(T) * h, "down partial"), out = buffer(uint64_t(T) * h, "layer out");
  const auto& w = job.weights;

  // Attention: everything up to the o_proj partial sum.
  for (int r = 0; r < n; ++r) {
    const int me = group[r];
    auto emit = [&](const command& c) { ctx.emit(me, c); };
    load_2d(ctx, me, job.x_in, h, x, h, T, h);
    load_2d(ctx, me, w.input_norm, h, norm1, h, 1, h);
    ctx.order(me, engine::dma, engine::vector);
    emit(vec(vector_op::rmsnorm, T, h, x, norm1, xn, eps));
    load_2d(ctx, me, w.q + uint64_t(r) * hr * hd * 4, uint64_t(H) * hd, wq, hr * hd, h, hr * hd);
    load_2d(ctx, me, w.k + uint64_t(r) * kvr * hd * 4, uint64_t(KV) * hd, wk, kvr * hd, h, kvr * hd);
    load_2d(ctx, me, w.v + uint64_t(r) * kvr * hd * 4, uint64_t(KV) * hd, wv, kvr * hd, h, kvr * hd);
    load_2d(ctx, me, w.o + uint64_t(r) * hr * hd * h * 4, h, wo, h, hr * hd, h);
    if (model.has_qk_norm()) {
      load_2d(ctx, me, w.q_norm, hd, qn, hd, 1, hd);
      load_2d(ctx, me, w.k_norm, hd, kn, hd, 1, hd);
    }
    ctx.order(me, engine::dma, engine::matrix);
    ctx.order(me, engine::vector, engine::matrix);
    local_gemm(ctx, me, xn, h, wq, hr * hd, q, hr * hd, T, h, hr * hd, false);
    local_gemm(ctx, me, xn, h, wk, kvr * hd, k, kvr * hd, T, h, kvr * hd, false);
    local_gemm(ctx, me, xn, h, wv, kvr * hd, v, kvr * hd, T, h, kvr * hd, false);
    ctx.order(me, engine::matrix, engine::vector);
    if (model.has_qk_norm()) {
      emit(vec(vector_op::rmsnorm, T * hr, hd, q, qn, q, eps));
      emit(vec(vector_op::rmsnorm, T * kvr, hd, k, kn, k, eps));
    }
    uint32_t t0 = 0;
    for (const auto& seq : job.batch) {
      emit(vec(vector_op::rope, seq.new_tokens * hr, hd, q + t0 * hr * hd * 4, 0, q + t0 * hr * hd * 4, theta, seq.past,
               hr));
      emit(vec(vector_op::rope, seq.new_tokens * kvr, hd, k + t0 * kvr * hd * 4, 0, k + t0 * kvr * hd * 4, theta,
               seq.past, kvr));
      t0 += seq.new_tokens;
    }
    // Append the new K and V to the cache, then attend over the whole cache.
    ctx.order(me, engine::vector, engine::dma);
    ctx.order(me, engine::matrix, engine::dma);
    t0 = 0;
    for (size_t s = 0; s < job.batch.size(); ++s) {
      const auto& seq = job.batch[s];
      for (uint32_t j = 0; j < kvr; ++j) {
        const uint64_t row = (uint64_t(s) * KV + r * kvr + j) * cache_row + uint64_t(seq.past) * hd;
        store_2d(ctx, me, k + (t0 * kvr + j) * hd * 4, kvr * hd, job.cache.k + row * 4, hd, seq.new_tokens, hd);
        store_2d(ctx, me, v + (t0 * kvr + j) * hd * 4, kvr * hd, job.cache.v + row * 4, hd, seq.new_tokens, hd);
      }
      t0 += seq.new_tokens;
    }
    t0 = 0;
    for (size_t s = 0; s < job.batch.size(); ++s) {
      const auto& seq = job.batch[s];
      const uint32_t m = seq.new_tokens, len = seq.past + seq.new_tokens;
      for (uint32_t hq = 0; hq < hr; ++hq) {
        const uint64_t head = (uint64_t(s) * KV + r * kvr + hq / per_kv) * cache_row;
        const uint32_t qa = q + (t0 * hr + hq) * hd * 4;
        for (uint32_t c0 = 0; c0 < len; c0 += bc) {
          const uint32_t n_keys = std::min(bc, len - c0);
          const bool first = c0 == 0;
          // The tiles are single-buffered: load once the matrix unit is done with the last ones.
          ctx.order(me, engine::matrix, engine::dma);
          load_2d(ctx, me, job.cache.k + (head + uint64_t(c0) * hd) * 4, hd, kt, hd, n_keys, hd);
          load_2d(ctx, me, job.cache.v + (head + uint64_t(c0) * hd) * 4, hd, vt, hd, n_keys, hd);
          ctx.order(me, engine::dma, engine::matrix);
          emit(attention_matmul(m, hd, n_keys, qa, hr * hd, kt, hd, sc, n_keys, false, true));  // S = Q K^T
          ctx.order(me, engine::matrix, engine::vector);
          emit(vec(vector_op::scale, m, n_keys, sc, 0, sc, 1.0f / std::sqrt(float(hd))));
          emit(vec(vector_op::causal_mask, m, n_keys, sc, 0, sc, 0, c0, seq.past));
          emit(vec(vector_op::row_max, m, n_keys, sc, 0, tmax));
          if (first) {
            emit(vec(vector_op::copy, 1, m, tmax, 0, mrow));
            emit(vec(vector_op::sub_row, m, n_keys, sc, mrow, sc));
            emit(vec(vector_op::exp, m, n_keys, sc, 0, sc));
            emit(vec(vector_op::row_sum, m, n_keys, sc, 0, lrow));
          } else {
            // Online softmax (Milakov & Gimelshein 2018; Dao et al. 2022): rescale what was summed
            // so far by exp(old max - new max).
            emit(vec(vector_op::max, 1, m, mrow, tmax, mnew));
            emit(vec(vector_op::sub, 1, m, mrow, mnew, alpha));
            emit(vec(vector_op::exp, 1, m, alpha, 0, alpha));
            emit(vec(vector_op::sub_row, m, n_keys, sc, mnew, sc));
            emit(vec(vector_op::exp, m, n_keys, sc, 0, sc));
            emit(vec(vector_op::row_sum, m, n_keys, sc, 0, rsum));
            emit(vec(vector_op::mul, 1, m, lrow, alpha, lrow));
            emit(vec(vector_op::add, 1, m, lrow, rsum, lrow));
            emit(vec(vector_op::mul_row, m, hd, o, alpha, o));
            emit(vec(vector_op::copy, 1, m, mnew, 0, mrow));
          }
          ctx.order(me, engine::vector, engine::matrix);
          emit(attention_matmul(m, n_keys, hd, sc, n_keys, vt, hd, o, hd, !first, false));  // O (+)= P V
        }
        ctx.order(me, engine::matrix, engine::vector);
        emit(vec(vector_op::div_row, m, hd, o, lrow, o));
        ctx.order(me, engine::vector, engine::dma);
        dma_cmd place;  // O -> this head's columns of the attention output
        place.src_space = place.dst_space = mem_space::sram;
        place.src = o;
        place.dst = qa - q + att;
        place.row_bytes = hd * 4;
        place.rows = m;
        place.src_stride = hd * 4;
        place.dst_stride = uint64_t(hr) * hd * 4;
        emit(place);
      }
      t0 += seq.new_tokens;
    }
    ctx.order(me, engine::dma, engine::matrix);
    local_gemm(ctx, me, att, hr * hd, wo, h, y, h, T, hr * hd, h, false);
  }
  const engine attention_done = ring_all_reduce(ctx, group, y, uint64_t(T) * h, engine::matrix);

  // MLP: residual, norm, SwiGLU with gate/up column-parallel and down row-parallel.
  for (int r = 0; r < n; ++r) {
    const int me = group[r];
    const auto [i0, i1] = split_range(I, n, r);
    const auto ir = static_cast<uint32_t>(i1 - i0);
    load_2d(ctx, me, w.post_norm, h, norm2, h, 1, h);
    load_2d(ctx, me, w.gate + i0 * 4, I, wg, ir, h, ir);
    load_2d(ctx, me, w.up + i0 * 4, I, wu, ir, h, ir);
    load_2d(ctx, me, w.down + i0 * h * 4, h, wd, h, ir, h);
    ctx.order(me, attention_done, engine::vector);
    ctx.order(me, engine::dma, engine::vector);
    ctx.emit(me, vec(vector_op::add, T, h, x, y, x2));
    ctx.emit(me, vec(vector_op::rmsnorm, T, h, x2, norm2, xn, eps));
    ctx.order(me, engine::vector, engine::matrix);
    local_gemm(ctx, me, xn, h, wg, ir, g, ir, T, h, ir, false);
    local_gemm(ctx, me, xn, h, wu, ir, u, ir, T, h, ir, false);
    ctx.order(me, engine::matrix, engine::vector);
    ctx.emit(me, vec(vector_op::silu, T, ir, g, 0, g));
    ctx.emit(me, vec(vector_op::mul, T, ir, g, u, g));
    ctx.order(me, engine::vector, engine::matrix);
    local_gemm(ctx, me, g, ir, wd, h, d, h, T, ir, h, false);
  }
  const engine mlp_done = ring_all_reduce(ctx, group, d, uint64_t(T) * h, engine::matrix);
  for (int r = 0; r < n; ++r) {
    const int me = group[r];
    ctx.order(me, mlp_done, engine::vector);
    ctx.emit(me, vec(vector_op::add, T, h, x2, d, out));
    ctx.order(me, engine::vector, engine::dma);
    const auto [t0, t1] = split_range(T, n, r);
    store_2d(ctx, me, out + static_cast<uint32_t>(t0 * h * 4), h, job.x_out + t0 * h * 4, h,
             static_cast<uint32_t>(t1 - t0), h);
  }
}

}  // namespace npuvp::kernels
