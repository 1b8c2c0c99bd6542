// Wall-clock time since construction, on the steady clock: how the benchmarks,
// `npuvp run` and the cross-check time a simulation or a model evaluation.
#pragma once

#include <chrono>

namespace npuvp {

class stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
  }

 private:
  std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
};

}  // namespace npuvp
