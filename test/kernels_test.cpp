// Command stream, encoding and the reference executor (SystemC-free).
#include <catch2/catch.hpp>
#include <cstring>

#include "kernels/collectives.h"
#include "kernels/encoding.h"
#include "kernels/lowering_context.h"
#include "kernels/mem_access.h"
#include "kernels/reference_executor.h"
#include "kernels/stream_summary.h"
#include "platform/base/error.h"

using namespace npuvp;
using namespace npuvp::kernels;

namespace {

// One command of every kind, every field set to a distinct value.
program every_kind() {
  dma_cmd d;
  d.src_space = mem_space::hbm;
  d.dst_space = mem_space::sram;
  d.dst_core = 7;
  d.src = 0x123456789aULL;
  d.dst = 0x4000;
  d.row_bytes = 1024;
  d.rows = 64;
  d.src_stride = 4096;
  d.dst_stride = 1024;
  matmul_cmd m{engine::matrix, dtype::bf16, true, true, 128, 96, 64, 0x100, 0x200, 0x300, 96, 100, 80};
  vector_cmd v;
  v.op = vector_op::rope;
  v.normalize = true;
  v.rows = 8;
  v.cols = 128;
  v.src0 = 0x10;
  v.src1 = 0x20;
  v.dst = 0x30;
  v.scalar = 1e6f;
  v.param0 = 17;
  v.param1 = 4;
  return {d,
          m,
          v,
          send_cmd{engine::dma, 3, 0x40, 0x80, 512, 9},
          recv_cmd{engine::dma, 2, 0x80, 512, 9},
          wait_cmd{engine::matrix, 21, 2},
          signal_cmd{engine::vector, 22, 5, 1},
          barrier_cmd{engine::sync, 4, 16},
          end_cmd{}};
}

error decode_error(const std::vector<uint8_t>& bytes) {
  try {
    decode(bytes, "t.bin");
  } catch (const error& e) {
    return e;
  }
  FAIL("no error");
  throw std::logic_error("unreachable");
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("every command survives encode and decode unchanged", "[kernels][encoding]") {
  const program p = every_kind();
  const auto bytes = encode(p);
  REQUIRE(bytes.size() == p.size() * 64);
  CHECK(decode(bytes) == p);
  // Field positions documented in docs/command_stream.md.
  CHECK(bytes[0] == 1);           // dma opcode
  CHECK(bytes[3] == 0x10);        // src hbm, dst sram
  CHECK(bytes[6] == 7);           // dst_core low byte
  CHECK(bytes[8] == 0x9a);        // src, little-endian
  CHECK(bytes[64 + 0] == 2);      // matmul
  CHECK(bytes[64 + 2] == 3);      // accumulate and transpose_b flags
  CHECK(bytes[64 + 3] == 1);      // bf16
  CHECK(bytes[128 + 1] == 2);     // vector engine
  CHECK(bytes[7 * 64 + 0] == 8);  // barrier
  CHECK(bytes[8 * 64 + 0] == 9);  // end
  const stream_file s{5, p};
  const auto file = encode_stream(s);
  CHECK(file.size() == 16 + p.size() * 64);
  CHECK(std::memcmp(file.data(), "NPUVPCMD", 8) == 0);
  const stream_file back = decode_stream(file, "t.bin");
  CHECK(back.core_id == 5);
  CHECK(back.commands == p);
}

TEST_CASE("operator labels survive encode and decode in bytes 62..63", "[kernels][encoding]") {
  program p = every_kind();
  for (size_t i = 0; i < p.size(); ++i) set_op(p[i], static_cast<uint16_t>(0x100 * i + 3));
  const auto bytes = encode(p);
  for (size_t i = 0; i < p.size(); ++i) {
    CHECK(bytes[i * 64 + 62] == 3);
    CHECK(bytes[i * 64 + 63] == i);
  }
  const program back = decode(bytes);
  CHECK(back == p);
  CHECK(op_of(back[4]) == 0x403);
  CHECK(to_text(back[5]) == "wait     matrix sem=21 count=2 op=1283");
  // A label does not make commands equal that differ in it.
  program unlabelled = every_kind();
  CHECK_FALSE(unlabelled == p);
}

TEST_CASE("lowering_context labels emitted commands with interned operator names", "[kernels][lowering]") {
  hw_config hw;
  lowering_context ctx(hw);
  ctx.emit(0, wait_cmd{engine::dma, 1, 1});
  CHECK(ctx.begin_op("layer0.q_proj") == 1);
  ctx.emit(0, wait_cmd{engine::dma, 1, 1});
  CHECK(ctx.begin_op("layer0.k_proj") == 2);
  ctx.emit(1, signal_cmd{engine::dma, 1, self_core, 1});
  CHECK(ctx.begin_op("layer0.q_proj") == 1);
  ctx.emit(1, signal_cmd{engine::dma, 1, self_core, 1});
  const auto programs = ctx.finish();
  CHECK(op_of(programs[0][0]) == 0);
  CHECK(op_of(programs[0][1]) == 1);
  CHECK(op_of(programs[1][0]) == 2);
  CHECK(op_of(programs[1][1]) == 1);
  REQUIRE(ctx.op_names().size() == 3);
  CHECK(ctx.op_names()[2] == "layer0.k_proj");
}

TEST_CASE("the text dump is stable", "[kernels][encoding]") {
  const std::string expected =
      "     0  dma      dma    hbm:0x123456789a -> sram[7]:0x4000 row_bytes=1024 rows=64 src_stride=4096 "
      "dst_stride=1024\n"
      "     1  matmul   matrix bf16 m=128 k=96 n=64 a=0x100 b=0x200 c=0x300 lda=96 ldb=100 ldc=80 acc bt\n"
      "     2  vector   vector rope rows=8 cols=128 src0=0x10 src1=0x20 dst=0x30 scalar=1e+06 p0=17 p1=4 norm\n"
      "     3  send     dma    peer=3 src=0x40 dst=0x80 bytes=512 tag=9\n"
      "     4  recv     dma    peer=2 dst=0x80 bytes=512 tag=9\n"
      "     5  wait     matrix sem=21 count=2\n"
      "     6  signal   vector sem=22 core=5 count=1\n"
      "     7  barrier  sync   group=4 participants=16\n"
      "     8  end      sync  \n";
  CHECK(to_text(every_kind()) == expected);
  CHECK(to_text(decode(encode(every_kind()))) == expected);
}

TEST_CASE("decode names the offset of bad records", "[kernels][encoding]") {
  auto bytes = encode(every_kind());
  auto bad = bytes;
  bad[64 * 2] = 0x42;
  CHECK(contains(decode_error(bad).what(), "t.bin: record at byte offset 128: bad opcode 66"));
  bad = bytes;
  bad[64 * 3 + 1] = 9;
  CHECK(contains(decode_error(bad).what(), "offset 192: bad engine 9"));
  bad = bytes;
  bad[64 * 4 + 1] = uint8_t(engine::matrix);  // recv on the matrix engine
  CHECK(contains(decode_error(bad).what(), "recv runs on the dma engine, not matrix"));
  bad = bytes;
  bad[64 * 5 + 60] = 1;  // reserved byte of a wait
  CHECK(contains(decode_error(bad).what(), "offset 320: byte 60 is reserved"));
  bad = bytes;
  bad[64 * 2 + 3] = 99;
  CHECK(contains(decode_error(bad).what(), "bad vector op 99"));
  bad.assign(bytes.begin(), bytes.end() - 10);
  CHECK(contains(decode_error(bad).what(), "offset 512: truncated (54 of 64 bytes)"));
  auto file = encode_stream({1, every_kind()});
  file.resize(file.size() - 64);
  try {
    decode_stream(file, "s.bin");
    FAIL("no error");
  } catch (const error& e) {
    CHECK(contains(e.what(), "s.bin: header announces 9 records"));
    CHECK(contains(e.what(), "truncated at byte offset 528"));
  }
  CHECK_THROWS_WITH(decode_stream(std::vector<uint8_t>(16, 0), "z.bin"), Catch::Contains("bad magic"));
}

TEST_CASE("executor: load, matmul, store with engine ordering", "[kernels][executor]") {
  reference_executor ex(1, 4096, 4096);
  // A = [[1, 2], [3, 4]] at HBM 0, B = [[5, 6], [7, 8]] at HBM 16.
  ex.write_floats(mem_space::hbm, 0, 0, {1, 2, 3, 4, 5, 6, 7, 8});
  program p;
  dma_cmd load;
  load.src = 0;
  load.dst = 0;
  load.row_bytes = 32;
  p.push_back(load);
  p.push_back(signal_cmd{engine::dma, 1, self_core, 1});
  p.push_back(wait_cmd{engine::matrix, 1, 1});
  p.push_back(matmul_cmd{engine::matrix, dtype::fp32, false, false, 2, 2, 2, 0, 16, 64, 2, 2, 2});
  // Accumulate the same product again: C = 2 A B.
  p.push_back(matmul_cmd{engine::matrix, dtype::fp32, true, false, 2, 2, 2, 0, 16, 64, 2, 2, 2});
  p.push_back(signal_cmd{engine::matrix, 2, self_core, 1});
  p.push_back(wait_cmd{engine::dma, 2, 1});
  dma_cmd store;
  store.src_space = mem_space::sram;
  store.dst_space = mem_space::hbm;
  store.src = 64;
  store.dst = 256;
  store.row_bytes = 8;  // 2-D: two rows of 2 floats, HBM stride 16
  store.rows = 2;
  store.src_stride = 8;
  store.dst_stride = 16;
  p.push_back(store);
  p.push_back(end_cmd{});
  for (auto order : {executor_options::order::round_robin, executor_options::order::random}) {
    const auto stats = ex.run({p}, {order, 7});
    CHECK(ex.read_floats(mem_space::hbm, 0, 256, 6) == std::vector<float>{38, 44, 0, 0, 86, 100});
    CHECK(stats.matmul_macs == 16);
    CHECK(stats.dma_bytes == 48);
  }
}

TEST_CASE("executor: vector ops compute what docs/command_stream.md says", "[kernels][executor]") {
  reference_executor ex(1, 4096, 64);
  ex.write_floats(mem_space::sram, 0, 0, {1, 2, 3, 4, 0, 0, 0, 0});  // x at 0, w = 1 at 32
  ex.write_floats(mem_space::sram, 0, 32, {1, 1, 1, 1});
  auto vop = [](vector_op op, uint32_t rows, uint32_t cols, uint32_t dst, float scalar = 0, uint32_t p0 = 0,
                uint32_t p1 = 1) {
    vector_cmd v;
    v.op = op;
    v.rows = rows;
    v.cols = cols;
    v.src0 = 0;
    v.src1 = 32;
    v.dst = dst;
    v.scalar = scalar;
    v.param0 = p0;
    v.param1 = p1;
    return v;
  };
  ex.run({{vop(vector_op::softmax, 1, 4, 64, 1.0f), vop(vector_op::rmsnorm, 1, 4, 128, 0.0f),
           vop(vector_op::silu, 1, 4, 192), vop(vector_op::topk, 1, 4, 256, 0, 2),
           vop(vector_op::rope, 1, 4, 320, 10000.f, 1), vop(vector_op::add, 1, 4, 384),
           vop(vector_op::scale, 1, 4, 448, 0.5f)}});
  const auto sm = ex.read_floats(mem_space::sram, 0, 64, 4);
  const double z = std::exp(1) + std::exp(2) + std::exp(3) + std::exp(4);
  CHECK(sm[0] == Approx(std::exp(1) / z));
  CHECK(sm[3] == Approx(std::exp(4) / z));
  const auto rn = ex.read_floats(mem_space::sram, 0, 128, 4);
  CHECK(rn[3] == Approx(4 / std::sqrt(30.0 / 4)));
  CHECK(ex.read_floats(mem_space::sram, 0, 192, 1)[0] == Approx(1 / (1 + std::exp(-1.0))));
  // top-2 of [1,2,3,4] without normalisation: full softmax probabilities of experts 2 and 3.
  const auto tk = ex.read_floats(mem_space::sram, 0, 256, 4);
  CHECK(tk[0] == 0.0f);
  CHECK(tk[1] == 0.0f);
  CHECK(tk[2] == Approx(std::exp(3) / z));
  CHECK(tk[3] == Approx(std::exp(4) / z));
  // RoPE at position 1, cols 4: pairs (0,2) rotate by 1 rad, (1,3) by 1/100 rad.
  const auto rp = ex.read_floats(mem_space::sram, 0, 320, 4);
  CHECK(rp[0] == Approx(1 * std::cos(1.0) - 3 * std::sin(1.0)));
  CHECK(rp[2] == Approx(3 * std::cos(1.0) + 1 * std::sin(1.0)));
  CHECK(rp[1] == Approx(2 * std::cos(0.01) - 4 * std::sin(0.01)));
  CHECK(ex.read_floats(mem_space::sram, 0, 384, 4) == std::vector<float>{2, 3, 4, 5});
  CHECK(ex.read_floats(mem_space::sram, 0, 448, 4) == std::vector<float>{0.5f, 1, 1.5f, 2});
}

TEST_CASE("executor: online-softmax building blocks and transposed matmul", "[kernels][executor]") {
  reference_executor ex(1, 4096, 64);
  // x = [[1, 5, 2], [4, 0, -1]] at 0, y = [[1, 1, 1], [2, 2, 2]] at 64, per-row r = [10, 20] at 128.
  ex.write_floats(mem_space::sram, 0, 0, {1, 5, 2, 4, 0, -1});
  ex.write_floats(mem_space::sram, 0, 64, {1, 1, 1, 2, 2, 2});
  ex.write_floats(mem_space::sram, 0, 128, {10, 20});
  auto vop = [](vector_op op, uint32_t src1, uint32_t dst, uint32_t p0 = 0, uint32_t p1 = 0) {
    vector_cmd v;
    v.op = op;
    v.rows = 2;
    v.cols = 3;
    v.src0 = 0;
    v.src1 = src1;
    v.dst = dst;
    v.param0 = p0;
    v.param1 = p1;
    return v;
  };
  // B^T = [[1, 0, 1], [0, 1, 0]] ([n=2 x k=3]): C = x * B = [[3, 5], [3, 0]].
  ex.write_floats(mem_space::sram, 0, 1024, {1, 0, 1, 0, 1, 0});
  ex.run({{vop(vector_op::sub, 64, 192), vop(vector_op::max, 64, 256), vop(vector_op::row_max, 0, 320),
           vop(vector_op::row_sum, 0, 336), vop(vector_op::sub_row, 128, 384), vop(vector_op::mul_row, 128, 448),
           vop(vector_op::div_row, 128, 512), vop(vector_op::causal_mask, 0, 576, 1, 0), vop(vector_op::exp, 0, 640),
           matmul_cmd{engine::matrix, dtype::fp32, false, true, 2, 3, 2, 0, 1024, 2048, 3, 3, 2}}});
  CHECK(ex.read_floats(mem_space::sram, 0, 192, 6) == std::vector<float>{0, 4, 1, 2, -2, -3});
  CHECK(ex.read_floats(mem_space::sram, 0, 256, 6) == std::vector<float>{1, 5, 2, 4, 2, 2});
  CHECK(ex.read_floats(mem_space::sram, 0, 320, 2) == std::vector<float>{5, 4});
  CHECK(ex.read_floats(mem_space::sram, 0, 336, 2) == std::vector<float>{8, 3});
  CHECK(ex.read_floats(mem_space::sram, 0, 384, 6) == std::vector<float>{-9, -5, -8, -16, -20, -21});
  CHECK(ex.read_floats(mem_space::sram, 0, 448, 6) == std::vector<float>{10, 50, 20, 80, 0, -20});
  CHECK(ex.read_floats(mem_space::sram, 0, 512, 6) == std::vector<float>{0.1f, 0.5f, 0.2f, 0.2f, 0, -0.05f});
  // Keys start at position 1 (param0), queries at 0 (param1): key col+1 > query row is masked, so
  // row 0 loses everything and row 1 keeps only col 0 (key 1).
  const float inf = INFINITY;
  CHECK(ex.read_floats(mem_space::sram, 0, 576, 6) == std::vector<float>{-inf, -inf, -inf, 4, -inf, -inf});
  CHECK(ex.read_floats(mem_space::sram, 0, 640, 1)[0] == Approx(std::exp(1.0)));
  CHECK(ex.read_floats(mem_space::sram, 0, 2048, 4) == std::vector<float>{3, 5, 3, 0});
}

TEST_CASE("executor: send/recv, remote signal and barrier across cores", "[kernels][executor]") {
  reference_executor ex(3, 1024, 64);
  ex.write_floats(mem_space::sram, 0, 0, {42, 43});
  program p0 = {send_cmd{engine::dma, 1, 0, 128, 8, 5}, barrier_cmd{engine::sync, 0, 3}, end_cmd{}};
  // Core 1 forwards to core 2 after receiving; core 2 waits on a remote signal.
  program p1 = {recv_cmd{engine::dma, 0, 128, 8, 5}, send_cmd{engine::dma, 2, 128, 256, 8, 5},
                signal_cmd{engine::dma, 30, 2, 1}, barrier_cmd{engine::sync, 0, 3}, end_cmd{}};
  vector_cmd copy;
  copy.op = vector_op::copy;
  copy.cols = 2;
  copy.src0 = 256;
  copy.dst = 512;
  program p2 = {wait_cmd{engine::vector, 30, 1}, copy, barrier_cmd{engine::sync, 0, 3}, end_cmd{}};
  ex.run({p0, p1, p2});
  CHECK(ex.read_floats(mem_space::sram, 2, 512, 2) == std::vector<float>{42, 43});
}

TEST_CASE("executor: deadlock and bad programs are reported with the blocked commands", "[kernels][executor]") {
  reference_executor ex(2, 1024, 64);
  program p0 = {recv_cmd{engine::dma, 1, 0, 4, 1}, end_cmd{}};
  program p1 = {wait_cmd{engine::matrix, 20, 1}, end_cmd{}};
  try {
    ex.run({p0, p1});
    FAIL("no deadlock reported");
  } catch (const simulation_error& e) {
    CHECK(contains(e.what(), "deadlock"));
    CHECK(contains(e.what(), "core 0:\n    dma blocked at core 0 command 0 (recv"));
    CHECK(contains(e.what(), "matrix blocked at core 1 command 0 (wait     matrix sem=20"));
  }
  // A barrier that only one of its two participants reaches.
  CHECK_THROWS_AS(ex.run({{barrier_cmd{engine::sync, 0, 2}, end_cmd{}}, {end_cmd{}}}), simulation_error);
  // Out-of-bounds SRAM access names the command.
  vector_cmd big;
  big.op = vector_op::copy;
  big.cols = 1000;
  CHECK_THROWS_WITH(ex.run({{big}}), Catch::Contains("core 0 command 0 (vector") &&
                                         Catch::Contains("reads SRAM range [0, 4000), beyond its 1024 bytes"));
  // A send whose receiver expects a different size.
  CHECK_THROWS_WITH(ex.run({{send_cmd{engine::dma, 1, 0, 0, 8, 1}}, {recv_cmd{engine::dma, 0, 0, 4, 1}}}),
                    Catch::Contains("matching send wrote 8 bytes"));
}

TEST_CASE("a command's memory ranges, and what lies beyond its memories", "[kernels]") {
  auto accesses = [](const command& c) {
    std::vector<mem_access> out;
    for_each_access(c, [&](const mem_access& a) { out.push_back(a); });
    return out;
  };
  // A 2-D HBM load of 4 rows of 256 B, 1 KiB apart: the last row ends at 4096 + 3 KiB + 256.
  dma_cmd d;
  d.src = 4096;
  d.rows = 4;
  d.row_bytes = 256;
  d.src_stride = 1024;
  d.dst = 64;
  d.dst_stride = 256;
  const std::vector<mem_access> a = accesses(d);
  REQUIRE(a.size() == 2);
  CHECK((a[0].space == mem_space::hbm && a[0].addr == 4096 && a[0].stride == 1024 && !a[0].write));
  CHECK((a[1].space == mem_space::sram && a[1].core == self_core && a[1].write));
  const uint64_t hbm_end = 4096 + 3 * 1024 + 256, sram_end = 64 + 4 * 256;
  CHECK(in_memory(d, sram_end, hbm_end));
  CHECK(range_error(d, sram_end, hbm_end).empty());
  CHECK(!in_memory(d, sram_end, hbm_end - 1));
  CHECK(range_error(d, sram_end, hbm_end - 1) == "reads HBM range [4096, 7424), beyond its 7423 bytes");
  CHECK(range_error(d, sram_end - 1, hbm_end) == "writes SRAM range [64, 1088), beyond its 1087 bytes");
  // A stride no memory holds does not wrap around into range.
  d.src_stride = uint64_t(1) << 63;
  CHECK(!in_memory(d, sram_end, UINT64_MAX));
  CHECK_THAT(range_error(d, sram_end, UINT64_MAX), Catch::Contains("[4096, 2^64 or more)"));
  // A matmul: A (m rows of k at lda), B and C (fp32, ldc); a send writes the peer's SRAM.
  matmul_cmd m;
  m.m = 2;
  m.k = m.n = 4;
  m.lda = 8;
  m.ldb = m.ldc = 4;
  m.c = 1000;
  CHECK(in_memory(m, 1000 + 2 * 4 * 4, 0));
  CHECK(range_error(m, 1000 + 2 * 4 * 4 - 1, 0) == "writes SRAM range [1000, 1032), beyond its 1031 bytes");
  const std::vector<mem_access> s = accesses(send_cmd{engine::dma, 3, 0, 512, 64, 1});
  REQUIRE(s.size() == 2);
  CHECK((s[1].core == 3 && s[1].addr == 512 && s[1].row_bytes == 64 && s[1].write));
  CHECK(accesses(wait_cmd{}).empty());
}

TEST_CASE("ring all-reduce sums every rank's buffer on every rank", "[kernels][collectives]") {
  hw_config hw;  // 4x4 mesh
  for (int n : {2, 3, 4, 5, 7}) {
    for (uint64_t elems : {uint64_t(1), uint64_t(10), uint64_t(1001)}) {
      lowering_context ctx(hw);
      std::vector<int> ring;
      for (int r = 0; r < n; ++r) ring.push_back((r * 5) % 16);  // scattered cores
      const uint32_t data = ctx.alloc_symmetric(ring, elems * 4, "data");
      ring_all_reduce(ctx, ring, data, elems, engine::dma);
      const auto programs = ctx.finish();
      for (auto order : {executor_options::order::round_robin, executor_options::order::random}) {
        reference_executor ex(16, 64 * 1024, 64);
        for (int r = 0; r < n; ++r) {
          std::vector<float> v(elems);
          for (uint64_t e = 0; e < elems; ++e) v[e] = float((r + 1) * 1000 + e);
          ex.write_floats(mem_space::sram, ring[r], data, v);
        }
        ex.run(programs, {order, uint64_t(n * 31 + elems)});
        for (int r = 0; r < n; ++r) {
          const auto got = ex.read_floats(mem_space::sram, ring[r], data, elems);
          for (uint64_t e = 0; e < elems; ++e) REQUIRE(got[e] == float(n * (n + 1) / 2 * 1000 + n * e));
        }
      }
    }
  }
}

TEST_CASE("stream summary counts work, HBM bytes and NoC hop-bytes", "[kernels][summary]") {
  dma_cmd load;  // 2 rows x 100 B from HBM
  load.row_bytes = 100;
  load.rows = 2;
  dma_cmd remote;  // 64 B from this core's SRAM to core 15's
  remote.src_space = remote.dst_space = mem_space::sram;
  remote.dst_core = 15;
  remote.row_bytes = 64;
  const std::vector<program> programs = {
      {load, matmul_cmd{engine::matrix, dtype::fp32, false, false, 4, 8, 16, 0, 0, 0, 8, 16, 16},
       send_cmd{engine::dma, 5, 0, 0, 1000, 0}, signal_cmd{}, end_cmd{}},
      {remote, wait_cmd{}, end_cmd{}}};
  const stream_summary s = summarize(programs, 4);
  CHECK(s.commands == 8);
  CHECK(s.per_engine[int(engine::dma)] == 3);
  CHECK(s.per_engine[int(engine::sync)] == 4);
  CHECK(s.matmul_macs == 4 * 8 * 16);
  CHECK(s.busiest_core == 0);
  CHECK(s.hbm_read_bytes == 200);
  CHECK(s.noc_bytes == 1064);
  // core 0 -> 5 = (1, 1): 2 hops; core 1 (1, 0) -> 15 (3, 3): 5 hops.
  CHECK(s.noc_hop_bytes == 1000 * 2 + 64 * 5);
  CHECK(s.sync_commands == 2);
  stats_writer out;
  s.report_stats(out);
  CHECK(out.value("lowering", "noc_hop_bytes") == 2320);
}

TEST_CASE("race detection reports unordered accesses in any interleaving", "[kernels][executor][races]") {
  reference_executor ex(2, 4096, 4096);
  dma_cmd load;  // HBM [0, 64) -> SRAM [0, 64)
  load.row_bytes = 64;
  const matmul_cmd mm{engine::matrix, dtype::fp32, false, false, 2, 2, 2, 0, 16, 64, 2, 2, 2};  // reads [0, 32)
  // No semaphore between the DMA writing the operands and the matrix unit reading them.
  CHECK_THROWS_WITH(ex.run({{load, mm, end_cmd{}}}),
                    Catch::Contains("data race on the SRAM of core 0: core 0 command 1 (matmul") &&
                        Catch::Contains("reads [0, 16) while core 0 command 0 (dma") &&
                        Catch::Contains("writes [0, 64)"));
  // The same with the engine ordering is fine, and so is the unchecked run.
  CHECK_NOTHROW(ex.run({{load, signal_cmd{engine::dma, 1, self_core, 1}, wait_cmd{engine::matrix, 1, 1}, mm}}));
  executor_options unchecked;
  unchecked.detect_races = false;
  CHECK_NOTHROW(ex.run({{load, mm}}, unchecked));
  // Across cores: core 0 writes core 1's SRAM, core 1 reads it.
  dma_cmd remote;
  remote.src_space = remote.dst_space = mem_space::sram;
  remote.dst_core = 1;
  remote.row_bytes = 64;
  vector_cmd use;
  use.op = vector_op::copy;
  use.cols = 16;
  use.dst = 256;
  CHECK_THROWS_WITH(ex.run({{remote, end_cmd{}}, {use, end_cmd{}}}),
                    Catch::Contains("data race on the SRAM of core 1"));
  // A barrier orders them: the barrier waits for core 0's DMA, core 1's copy is dispatched after it.
  CHECK_NOTHROW(ex.run(
      {{remote, barrier_cmd{engine::sync, 3, 2}, end_cmd{}}, {barrier_cmd{engine::sync, 3, 2}, use, end_cmd{}}}));
  // So does a remote signal after the write.
  CHECK_NOTHROW(ex.run(
      {{remote, signal_cmd{engine::dma, 40, 1, 1}, end_cmd{}}, {wait_cmd{engine::vector, 40, 1}, use, end_cmd{}}}));
  // Matrix and vector both read what the DMA wrote, unordered with each other: reads never race, and
  // their writes are disjoint. A wait for 0 on a never-signalled semaphore orders nothing.
  vector_cmd use2 = use;
  use2.dst = 512;
  CHECK_NOTHROW(ex.run({{load, signal_cmd{engine::dma, 2, self_core, 1}, signal_cmd{engine::dma, 3, self_core, 1},
                         wait_cmd{engine::matrix, 2, 1}, mm, wait_cmd{engine::vector, 3, 1}, use2, end_cmd{}}}));
  CHECK_THROWS_WITH(ex.run({{load, wait_cmd{engine::vector, 9, 0}, use2, end_cmd{}}}), Catch::Contains("data race"));
}
