#include "kernels/partition/partition.h"

#include "kernels/partition/strategies.h"
#include "platform/base/error.h"

namespace npuvp::kernels {

const std::vector<std::string>& partition_names() {
  static const std::vector<std::string> names = {"mn_split", "k_split", "mnk_2d", "megatron"};
  return names;
}

std::unique_ptr<partition_strategy> make_partition(const std::string& name) {
  if (name == "mn_split") return std::make_unique<mn_split>();
  if (name == "k_split") return std::make_unique<k_split>();
  if (name == "mnk_2d") return std::make_unique<mnk_2d>();
  if (name == "megatron") return std::make_unique<megatron>();
  std::string known;
  for (const auto& n : partition_names()) known += " " + n;
  throw error("unknown partition strategy '" + name + "' (known:" + known + ")");
}

void check_gemm_job(const gemm_job& j) {
  if (j.m == 0 || j.k == 0 || j.n == 0)
    throw error("lower_gemm: a " + std::to_string(j.m) + " x " + std::to_string(j.k) + " x " + std::to_string(j.n) +
                " GEMM (m x k x n) has nothing to compute: every dimension must be 1 or more");
}

void lower_gemm(lowering_context& ctx, const partition_strategy& strategy, const group_map& map,
                const std::vector<gemm_job>& jobs) {
  if (map.size() != jobs.size())
    throw error("lower_gemm: " + std::to_string(jobs.size()) + " jobs for " + std::to_string(map.size()) + " groups");
  for (const gemm_job& j : jobs) check_gemm_job(j);
  for (size_t g = 0; g < map.size(); ++g) strategy.lower(ctx, jobs[g], core_ids(map[g], ctx.hw().mesh.width));
}

std::pair<int, int> grid_shape(int n) {
  int p = 1;
  for (int d = 1; d * d <= n; ++d)
    if (n % d == 0) p = d;
  return {p, n / p};
}

std::vector<gemm_job> stacked_gemm_jobs(int groups, uint32_t m, uint32_t k, uint32_t n) {
  std::vector<gemm_job> jobs;
  uint64_t top = 0;
  for (int g = 0; g < groups; ++g) {
    gemm_job j{m, k, n, top, top + uint64_t(m) * k * 4, top + uint64_t(m) * k * 4 + uint64_t(k) * n * 4};
    top = (j.c + uint64_t(m) * n * 4 + 4095) / 4096 * 4096;
    jobs.push_back(j);
  }
  return jobs;
}

}  // namespace npuvp::kernels
