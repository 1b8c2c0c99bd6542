// Placement policies and GEMM partition strategies, checked by running the
// lowered programs on the reference executor against a plain fp32 matmul.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>

#include "kernels/partition/partition.h"
#include "kernels/placement/placement.h"
#include "kernels/reference_executor.h"
#include "platform/base/error.h"

using namespace npuvp;
using namespace npuvp::kernels;

namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = "kernels_test_" + name;
  std::ofstream(path) << text;
  return path;
}

bool adjacent(core_xy a, core_xy b) { return std::abs(a.x - b.x) + std::abs(a.y - b.y) == 1; }

hw_config test_hw() {
  hw_config hw;  // 4x4 mesh, 128x128 arrays
  hw.core.sram.capacity_kib = 2048;
  return hw;
}

}  // namespace

TEST_CASE("every placement policy is a bijection onto distinct mesh cores", "[kernels][placement]") {
  for (const auto& name : {"linear_sequential", "linear_interleaved", "mesh_block", "ring_block"}) {
    const auto policy = make_placement(name);
    for (auto [g, n] : {std::pair{1, 16}, {2, 8}, {4, 4}, {8, 2}, {16, 1}, {3, 4}, {2, 6}}) {
      INFO(name << " G=" << g << " n=" << n);
      const group_map map = policy->place(g, n, 4, 4);
      CHECK_NOTHROW(check_group_map(map, g, n, 4, 4, name));
    }
  }
  CHECK_THROWS_WITH(make_placement("mesh_block")->place(3, 6, 4, 4), Catch::Contains("cannot tile 3 blocks of 6"));
  CHECK_THROWS_WITH(make_placement("diagonal"), Catch::Contains("unknown placement policy 'diagonal'"));
}

TEST_CASE("placement policies put ranks where docs/lowering.md says", "[kernels][placement]") {
  const auto seq = make_placement("linear_sequential")->place(4, 4, 4, 4);
  CHECK(seq[1][0] == core_xy{0, 1});
  CHECK(seq[1][3] == core_xy{3, 1});
  const auto inter = make_placement("linear_interleaved")->place(4, 4, 4, 4);
  CHECK(inter[1][0] == core_xy{1, 0});
  CHECK(inter[1][1] == core_xy{1, 1});
  CHECK(inter[2][3] == core_xy{2, 3});
  const auto block = make_placement("mesh_block")->place(4, 4, 4, 4);
  CHECK(block[1] == std::vector<core_xy>{{2, 0}, {3, 0}, {2, 1}, {3, 1}});
  CHECK(block[2][0] == core_xy{0, 2});
  const auto wide = make_placement("mesh_block")->place(2, 8, 4, 4);
  CHECK(wide[1][0] == core_xy{0, 2});  // 4x2 blocks stacked vertically
  CHECK(wide[1][7] == core_xy{3, 3});
}

TEST_CASE("ring_block puts ring neighbours one hop apart, wrap-around included", "[kernels][placement]") {
  for (auto [g, n] : {std::pair{1, 16}, {2, 8}, {4, 4}, {8, 2}}) {
    const auto map = make_placement("ring_block")->place(g, n, 4, 4);
    for (const auto& group : map)
      for (int r = 0; r < n; ++r) {
        INFO("G=" << g << " n=" << n << " rank " << r);
        CHECK(adjacent(group[r], group[(r + 1) % n]));
      }
  }
  // mesh_block's row-major order is not a ring: in a 2x2 block rank 1 -> 2 is diagonal.
  const auto block = make_placement("mesh_block")->place(4, 4, 4, 4);
  CHECK_FALSE(adjacent(block[0][1], block[0][2]));
}

TEST_CASE("explicit placement reads a YAML map and rejects bad ones", "[kernels][placement]") {
  const auto good = write_temp("good.yaml", "groups:\n  - [[0, 0], [3, 3]]\n  - [[1, 2], [2, 1]]\n");
  const auto map = make_placement("explicit", good)->place(2, 2, 4, 4);
  CHECK(map[0][1] == core_xy{3, 3});
  CHECK(map[1][0] == core_xy{1, 2});
  const auto dup = write_temp("dup.yaml", "groups:\n  - [[0, 0], [1, 1]]\n  - [[1, 1], [2, 1]]\n");
  CHECK_THROWS_WITH(make_placement("explicit", dup)->place(2, 2, 4, 4),
                    Catch::Contains(dup) && Catch::Contains("group 1: core [1, 1] is used twice"));
  const auto outside = write_temp("out.yaml", "groups: [[[0, 0], [4, 0]]]\n");
  CHECK_THROWS_WITH(make_placement("explicit", outside)->place(1, 2, 4, 4), Catch::Contains("outside the 4x4 mesh"));
  CHECK_THROWS_WITH(make_placement("explicit", good)->place(2, 3, 4, 4),
                    Catch::Contains("group 0 has 2 cores, expected 3"));
  const auto bad = write_temp("bad.yaml", "groups:\n  - [[0, 0], [1]]\n");
  CHECK_THROWS_WITH(make_placement("explicit", bad)->place(1, 2, 4, 4), Catch::Contains(":2: a core is [x, y]"));
  for (const auto& f : {good, dup, outside, bad}) std::remove(f.c_str());
}

namespace {

// Lowers one GEMM per group with `strategy` on `placement`, runs it, and
// compares every group's C with a plain fp32 matmul.
void check_gemm(const std::string& strategy, const std::string& placement, int groups, int n, uint32_t M, uint32_t K,
                uint32_t N, executor_options::order order, dtype type = dtype::fp32) {
  INFO(strategy << " on " << placement << ", " << groups << " groups of " << n << ", M=" << M << " K=" << K << " N="
                << N << (order == executor_options::order::random ? ", random order" : "") << ", " << dtype_name(type));
  const hw_config hw = test_hw();
  const group_map map = make_placement(placement)->place(groups, n, hw.mesh.width, hw.mesh.height);
  std::vector<gemm_job> jobs;
  uint64_t hbm = 0;
  for (int g = 0; g < groups; ++g) {
    const uint64_t eb = dtype_bytes(type);
    gemm_job j{M, K, N, hbm, hbm + uint64_t(M) * K * eb, hbm + uint64_t(M) * K * eb + uint64_t(K) * N * eb, type};
    hbm = j.c + uint64_t(M) * N * 4;
    jobs.push_back(j);
  }
  lowering_context ctx(hw);
  lower_gemm(ctx, *make_partition(strategy), map, jobs);
  const auto programs = ctx.finish();
  for (const auto& p : programs)
    for (const auto& c : p)
      if (auto* m = std::get_if<matmul_cmd>(&c)) {
        REQUIRE(m->k <= uint32_t(hw.core.matrix.rows));
        REQUIRE(m->n <= uint32_t(hw.core.matrix.cols));
      }
  reference_executor ex(16, hw.core.sram.capacity_bytes(), hbm);
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<std::vector<float>> a(groups), b(groups);
  for (int g = 0; g < groups; ++g) {
    a[g].resize(uint64_t(M) * K);
    b[g].resize(uint64_t(K) * N);
    for (auto* m : {&a[g], &b[g]})
      for (auto& x : *m) x = type == dtype::bf16 ? from_bf16(to_bf16(dist(rng))) : dist(rng);
    ex.write_floats(mem_space::hbm, 0, jobs[g].a, a[g], type);
    ex.write_floats(mem_space::hbm, 0, jobs[g].b, b[g], type);
    ex.write_floats(mem_space::hbm, 0, jobs[g].c, std::vector<float>(uint64_t(M) * N, NAN));
  }
  const auto stats = ex.run(programs, {order, 99});
  CHECK(stats.matmul_macs >= uint64_t(groups) * M * K * N);
  for (int g = 0; g < groups; ++g) {
    const auto c = ex.read_floats(mem_space::hbm, 0, jobs[g].c, uint64_t(M) * N);
    double worst = 0;
    for (uint32_t i = 0; i < M; ++i)
      for (uint32_t j = 0; j < N; ++j) {
        double ref = 0;
        for (uint32_t k = 0; k < K; ++k) ref += double(a[g][uint64_t(i) * K + k]) * b[g][uint64_t(k) * N + j];
        const double err = std::abs(ref - c[uint64_t(i) * N + j]);
        if (!(err <= worst)) worst = err;  // also catches NaN (an element never stored)
      }
    INFO("group " << g);
    CHECK(worst < 1e-3);  // |values| <= K, fp32 sums of K products: error ~ K * 2^-24 * |partial sums|
  }
}

}  // namespace

TEST_CASE("every partition strategy on every placement computes the GEMM (4 groups of 4)", "[kernels][partition]") {
  for (const auto& strategy : partition_names())
    for (const auto& placement : {"linear_sequential", "linear_interleaved", "mesh_block", "ring_block"})
      check_gemm(strategy, placement, 4, 4, 192, 260, 320, executor_options::order::round_robin);
}

TEST_CASE("every partition strategy on every placement computes the GEMM (2 groups of 8)", "[kernels][partition]") {
  for (const auto& strategy : partition_names())
    for (const auto& placement : {"linear_sequential", "linear_interleaved", "mesh_block", "ring_block"})
      check_gemm(strategy, placement, 2, 8, 192, 260, 320, executor_options::order::round_robin);
}

TEST_CASE("partitioned GEMMs are correct in any interleaving (random schedules)", "[kernels][partition]") {
  for (const auto& strategy : partition_names()) {
    check_gemm(strategy, "ring_block", 4, 4, 192, 260, 320, executor_options::order::random);
    check_gemm(strategy, "mesh_block", 1, 16, 67, 131, 45, executor_options::order::random);
    check_gemm(strategy, "linear_interleaved", 3, 5, 7, 3, 2,
               executor_options::order::random);  // fewer rows than cores
  }
}

TEST_CASE("bf16 operands: half the bytes, same result as fp32 on bf16-rounded inputs", "[kernels][partition]") {
  for (const auto& strategy : partition_names()) {
    check_gemm(strategy, "ring_block", 4, 4, 96, 200, 160, executor_options::order::random, dtype::bf16);
    check_gemm(strategy, "mesh_block", 2, 8, 33, 70, 50, executor_options::order::round_robin, dtype::bf16);
  }
  CHECK(from_bf16(to_bf16(1.0f)) == 1.0f);
  CHECK(to_bf16(1.0f + 1.0f / 256) == 0x3F80);  // halfway: ties to even
  CHECK(to_bf16(1.0f + 3.0f / 256) == 0x3F82);
}

TEST_CASE("a GEMM that does not fit SRAM is rejected saying by how much", "[kernels][partition]") {
  hw_config hw = test_hw();
  hw.core.sram.capacity_kib = 256;
  const auto map = make_placement("mesh_block")->place(1, 4, 4, 4);
  // megatron replicates A: 512 x 512 fp32 = 1024 KiB per core.
  lowering_context ctx(hw);
  CHECK_THROWS_WITH(lower_gemm(ctx, *make_partition("megatron"), map, {gemm_job{512, 512, 512, 0, 1 << 20, 2 << 20}}),
                    Catch::Contains("core 0 (x=0, y=0): SRAM does not fit: needs 1024.0 KiB") &&
                        Catch::Contains("over by 768.0 KiB") && Catch::Contains("A (replicated) 1024.0 KiB"));
}
