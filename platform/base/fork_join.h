// Fork-join over a fixed set of worker threads, for simulation kernels that
// split one time step into independent bands (the NoC's router kernel, one
// call per cycle). run() executes body(0), ..., body(bands - 1) once each and
// returns when all are done: the calling thread and the workers claim bands
// from a shared counter, so a worker the host has not scheduled never holds
// the step up (the caller then runs its bands). A step is a few
// microseconds, so workers spin on an atomic epoch for a while before they
// sleep on a condition variable (an idle simulation costs no CPU).
//
// The body must not throw and must not call SystemC: workers are plain
// threads outside the SystemC kernel.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace npuvp {

class fork_join {
 public:
  // `bands` >= 1; bands - 1 worker threads are started.
  fork_join(int bands, std::function<void(int band)> body);
  ~fork_join();
  fork_join(const fork_join&) = delete;
  fork_join& operator=(const fork_join&) = delete;

  int bands() const { return m_bands; }
  void run();

 private:
  void work();
  void claim_bands();

  std::function<void(int)> m_body;
  int m_bands;
  alignas(64) std::atomic<int> m_next{0};  // next band to claim (>= m_bands: none left)
  std::atomic<int> m_finished{0};          // bands done in this step
  std::atomic<uint64_t> m_epoch{0};        // steps started (wakes the workers); ~0: stop
  std::atomic<int> m_sleepers{0};
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::vector<std::thread> m_threads;
};

}  // namespace npuvp
