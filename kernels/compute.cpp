#include "kernels/compute.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

namespace npuvp::kernels {

matmul_extent extent_of(const matmul_cmd& m) {
  if (m.m == 0 || m.n == 0) return {};
  return {m.k == 0 ? 0 : uint64_t(m.m - 1) * m.lda + m.k, m.k == 0 ? 0 : uint64_t(m.k - 1) * m.ldb + m.n,
          uint64_t(m.m - 1) * m.ldc + m.n};
}

vector_extent extent_of(const vector_cmd& v) {
  const uint64_t count = uint64_t(v.rows) * v.cols;
  uint64_t src1 = 0;
  if (v.op == vector_op::add || v.op == vector_op::mul) src1 = count;
  if (v.op == vector_op::rmsnorm) src1 = v.cols;
  return {count, src1, count};
}

void compute_matmul(const matmul_cmd& m, const float* a, const float* b, float* c) {
  for (uint32_t r = 0; r < m.m; ++r)
    for (uint32_t col = 0; col < m.n; ++col) {
      float acc = m.accumulate ? c[uint64_t(r) * m.ldc + col] : 0.0f;
      for (uint32_t k = 0; k < m.k; ++k) acc += a[uint64_t(r) * m.lda + k] * b[uint64_t(k) * m.ldb + col];
      c[uint64_t(r) * m.ldc + col] = acc;
    }
}

namespace {
float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
}  // namespace

void compute_vector(const vector_cmd& v, const float* x, const float* z, float* y) {
  const uint64_t count = uint64_t(v.rows) * v.cols;
  const uint32_t cols = v.cols;
  switch (v.op) {
    case vector_op::add:
    case vector_op::mul:
      for (uint64_t e = 0; e < count; ++e) y[e] = v.op == vector_op::add ? x[e] + z[e] : x[e] * z[e];
      break;
    case vector_op::scale: for (uint64_t e = 0; e < count; ++e) y[e] = x[e] * v.scalar; break;
    case vector_op::copy: std::memmove(y, x, count * 4); break;
    case vector_op::silu: for (uint64_t e = 0; e < count; ++e) y[e] = x[e] * sigmoid(x[e]); break;
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
        std::partial_sort(idx.begin(), idx.begin() + v.param0, idx.end(), [&](uint32_t p, uint32_t q) {
          return xr[p] > xr[q] || (xr[p] == xr[q] && p < q);
        });
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
