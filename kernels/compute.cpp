#include "kernels/compute.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "platform/base/error.h"

namespace npuvp::kernels {

matmul_extent extent_of(const matmul_cmd& m) {
  if (m.m == 0 || m.n == 0) return {};
  const uint64_t eb = static_cast<uint64_t>(dtype_bytes(m.type)),
                 ab = static_cast<uint64_t>(dtype_bytes(activation_type(m.type)));
  // B element (k, col): row-major [k x n], or [n x k] when transposed.
  const uint64_t b_rows = m.transpose_b ? m.n : m.k, b_cols = m.transpose_b ? m.k : m.n;
  return {(uint64_t(m.m - 1) * m.lda + m.k) * ab, (b_rows == 0 ? 0 : (b_rows - 1) * m.ldb + b_cols) * eb,
          uint64_t(m.m - 1) * m.ldc + m.n};
}

vector_extent extent_of(const vector_cmd& v) {
  const uint64_t count = uint64_t(v.rows) * v.cols;
  vector_extent x{count, 0, count, count * 4};
  switch (v.op) {
    case vector_op::add:
    case vector_op::mul:
    case vector_op::sub:
    case vector_op::max:
      x.src1 = count;
      break;
    case vector_op::rmsnorm:
      x.src1 = v.cols;
      break;
    case vector_op::sub_row:
    case vector_op::mul_row:
    case vector_op::div_row:
      x.src1 = v.rows;
      break;
    case vector_op::row_max:
    case vector_op::row_sum:
      x.dst_elements = v.rows;
      x.dst_bytes = uint64_t(v.rows) * 4;
      break;
    case vector_op::to_bf16:
      x.dst_bytes = count * 2;
      break;
    default:
      break;
  }
  return x;
}

void compute_matmul(const matmul_cmd& m, const uint8_t* a, const uint8_t* b, float* c) {
  // Element e of a span of `type` starting at p, widened to fp32.
  auto element = [](dtype type, const uint8_t* p, uint64_t e) {
    switch (type) {
      case dtype::fp32: {
        float f;
        std::memcpy(&f, p + e * 4, 4);
        return f;
      }
      case dtype::bf16:
        return from_bf16(uint16_t(p[e * 2] | (p[e * 2 + 1] << 8)));
      case dtype::fp8:
        return from_fp8(p[e]);
      case dtype::int8:
        return from_int8(p[e]);
    }
    return 0.0f;
  };
  const dtype at = activation_type(m.type), bt = m.type;
  // Operands widened to fp32 once: A as [m x k], B as [k x n].
  std::vector<float> aw(uint64_t(m.m) * m.k), bw(uint64_t(m.k) * m.n), row(m.n);
  for (uint32_t r = 0; r < m.m; ++r)
    for (uint32_t k = 0; k < m.k; ++k) aw[uint64_t(r) * m.k + k] = element(at, a, uint64_t(r) * m.lda + k);
  for (uint32_t k = 0; k < m.k; ++k)
    for (uint32_t col = 0; col < m.n; ++col)
      bw[uint64_t(k) * m.n + col] =
          element(bt, b, m.transpose_b ? uint64_t(col) * m.ldb + k : uint64_t(k) * m.ldb + col);
  // Each C element sums its k products in order, starting from C or 0.
  for (uint32_t r = 0; r < m.m; ++r) {
    float* cr = c + uint64_t(r) * m.ldc;
    for (uint32_t col = 0; col < m.n; ++col) row[col] = m.accumulate ? cr[col] : 0.0f;
    for (uint32_t k = 0; k < m.k; ++k) {
      const float ak = aw[uint64_t(r) * m.k + k];
      const float* bk = bw.data() + uint64_t(k) * m.n;
      for (uint32_t col = 0; col < m.n; ++col) row[col] += ak * bk[col];
    }
    std::copy(row.begin(), row.end(), cr);
  }
}

namespace {
float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
}  // namespace

void compute_vector(const vector_cmd& v, const float* x, const float* z, uint8_t* dst) {
  const uint64_t count = uint64_t(v.rows) * v.cols;
  float* y = reinterpret_cast<float*>(dst);  // every op but to_bf16 writes fp32
  const uint32_t cols = v.cols;
  switch (v.op) {
    case vector_op::add:
    case vector_op::mul:
    case vector_op::sub:
    case vector_op::max:
      for (uint64_t e = 0; e < count; ++e)
        y[e] = v.op == vector_op::add   ? x[e] + z[e]
               : v.op == vector_op::mul ? x[e] * z[e]
               : v.op == vector_op::sub ? x[e] - z[e]
                                        : std::max(x[e], z[e]);
      break;
    case vector_op::exp:
      for (uint64_t e = 0; e < count; ++e) y[e] = std::exp(x[e]);
      break;
    case vector_op::row_max:
    case vector_op::row_sum:
      for (uint32_t r = 0; r < v.rows; ++r) {
        float acc = v.op == vector_op::row_max ? -INFINITY : 0.0f;
        for (uint32_t e = 0; e < cols; ++e) {
          const float xe = x[uint64_t(r) * cols + e];
          acc = v.op == vector_op::row_max ? std::max(acc, xe) : acc + xe;
        }
        y[r] = acc;
      }
      break;
    case vector_op::sub_row:
    case vector_op::mul_row:
    case vector_op::div_row:
      for (uint32_t r = 0; r < v.rows; ++r)
        for (uint32_t e = 0; e < cols; ++e) {
          const uint64_t at = uint64_t(r) * cols + e;
          y[at] = v.op == vector_op::sub_row ? x[at] - z[r] : v.op == vector_op::mul_row ? x[at] * z[r] : x[at] / z[r];
        }
      break;
    case vector_op::to_bf16:
      for (uint64_t e = 0; e < count; ++e) {
        const uint16_t b = to_bf16(x[e]);
        dst[2 * e] = uint8_t(b);
        dst[2 * e + 1] = uint8_t(b >> 8);
      }
      break;
    case vector_op::causal_mask:
      for (uint32_t r = 0; r < v.rows; ++r)
        for (uint32_t e = 0; e < cols; ++e) {
          const uint64_t at = uint64_t(r) * cols + e;
          y[at] = uint64_t(e) + v.param0 > uint64_t(r) + v.param1 ? -INFINITY : x[at];
        }
      break;
    case vector_op::scale:
      for (uint64_t e = 0; e < count; ++e) y[e] = x[e] * v.scalar;
      break;
    case vector_op::copy:
      std::memmove(y, x, count * 4);
      break;
    case vector_op::silu:
      for (uint64_t e = 0; e < count; ++e) y[e] = x[e] * sigmoid(x[e]);
      break;
    case vector_op::gelu:
      // Hendrycks & Gimpel 2016, tanh approximation.
      for (uint64_t e = 0; e < count; ++e)
        y[e] = 0.5f * x[e] * (1.0f + std::tanh(0.7978845608f * (x[e] + 0.044715f * x[e] * x[e] * x[e])));
      break;
    case vector_op::softmax:
      for (uint32_t r = 0; r < v.rows; ++r) {
        const float* xr = x + uint64_t(r) * cols;
        float* yr = y + uint64_t(r) * cols;
        float mx = -INFINITY;
        for (uint32_t e = 0; e < cols; ++e) mx = std::max(mx, v.scalar * xr[e]);
        float sum = 0;
        for (uint32_t e = 0; e < cols; ++e) sum += (yr[e] = std::exp(v.scalar * xr[e] - mx));
        for (uint32_t e = 0; e < cols; ++e) yr[e] /= sum;
      }
      break;
    case vector_op::rmsnorm:
      for (uint32_t r = 0; r < v.rows; ++r) {
        const float* xr = x + uint64_t(r) * cols;
        float* yr = y + uint64_t(r) * cols;
        float ss = 0;
        for (uint32_t e = 0; e < cols; ++e) ss += xr[e] * xr[e];
        const float inv = 1.0f / std::sqrt(ss / float(cols) + v.scalar);
        for (uint32_t e = 0; e < cols; ++e) yr[e] = xr[e] * inv * z[e];
      }
      break;
    case vector_op::rope: {
      const uint32_t half = cols / 2;
      for (uint32_t r = 0; r < v.rows; ++r) {
        const double pos = double(v.param0) + double(r / v.param1);
        const float* xr = x + uint64_t(r) * cols;
        float* yr = y + uint64_t(r) * cols;
        for (uint32_t e = 0; e < half; ++e) {
          const double angle = pos * std::pow(double(v.scalar), -2.0 * e / cols);
          const float c = float(std::cos(angle)), sn = float(std::sin(angle));
          const float x0 = xr[e], x1 = xr[e + half];
          yr[e] = x0 * c - x1 * sn;
          yr[e + half] = x1 * c + x0 * sn;
        }
      }
      break;
    }
    case vector_op::topk: {
      std::vector<uint32_t> idx(cols);
      for (uint32_t r = 0; r < v.rows; ++r) {
        const float* xr = x + uint64_t(r) * cols;
        float* yr = y + uint64_t(r) * cols;
        std::iota(idx.begin(), idx.end(), 0u);
        // Ties go to the lower index, so the choice is deterministic.
        std::partial_sort(idx.begin(), idx.begin() + v.param0, idx.end(),
                          [&](uint32_t p, uint32_t q) { return xr[p] > xr[q] || (xr[p] == xr[q] && p < q); });
        const float mx = xr[idx[0]];
        std::vector<float> keep(v.param0);
        float sum = 0;
        for (uint32_t e = 0; e < v.param0; ++e) sum += (keep[e] = std::exp(xr[idx[e]] - mx));
        // Softmax over all experts restricted to the chosen ones, or renormalised among them.
        if (!v.normalize) {
          float all = 0;
          for (uint32_t e = 0; e < cols; ++e) all += std::exp(xr[e] - mx);
          sum = all;
        }
        std::fill(yr, yr + cols, 0.0f);
        for (uint32_t e = 0; e < v.param0; ++e) yr[idx[e]] = keep[e] / sum;
      }
      break;
    }
  }
}

}  // namespace npuvp::kernels
