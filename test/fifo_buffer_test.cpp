#include <catch2/catch.hpp>

#include <deque>
#include <random>

#include "models/common/fifo_buffer.h"

using npuvp::fifo_buffer;

TEST_CASE("fifo_buffer keeps order through push, pop and erase", "[common]") {
  fifo_buffer<int> f;
  for (int i = 0; i < 5; ++i) f.push_back(i);  // 0 1 2 3 4
  f.erase(1);                                  // front side: 0 2 3 4
  f.erase(2);                                  // back side: 0 2 4
  REQUIRE(f.size() == 3);
  CHECK(f[0] == 0);
  CHECK(f[1] == 2);
  CHECK(f[2] == 4);
  f.pop_front();
  CHECK(f.front() == 2);
  f.erase(1);
  f.erase(0);
  CHECK(f.empty());
}

TEST_CASE("fifo_buffer matches std::deque over random operations", "[common]") {
  // Crosses growth and compaction many times.
  fifo_buffer<int> f;
  std::deque<int> d;
  std::mt19937 rng(3);
  for (int step = 0; step < 20000; ++step) {
    const unsigned op = rng() % 4;
    if (op < 2 || d.empty()) {
      f.push_back(step);
      d.push_back(step);
    } else if (op == 2) {
      f.pop_front();
      d.pop_front();
    } else {
      const size_t i = rng() % d.size();
      f.erase(i);
      d.erase(d.begin() + static_cast<std::ptrdiff_t>(i));
    }
    REQUIRE(f.size() == d.size());
    if (!d.empty()) {
      REQUIRE(f.front() == d.front());
      REQUIRE(f[d.size() - 1] == d.back());
    }
  }
  for (size_t i = 0; i < d.size(); ++i) REQUIRE(f[i] == d[i]);
}
