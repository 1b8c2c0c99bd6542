#include "platform/base/fork_join.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NPUVP_CPU_RELAX() _mm_pause()
#else
#define NPUVP_CPU_RELAX() std::this_thread::yield()
#endif

namespace npuvp {

namespace {
// Spins before a worker sleeps: ~50 us (a pause is ~25 ns), a dozen steps of a
// busy kernel; short, so that an oversubscribed host loses little to spinning.
constexpr int spin_limit = 2000;
constexpr uint64_t stop_epoch = ~uint64_t(0);
}  // namespace

fork_join::fork_join(int bands, std::function<void(int)> body)
    : m_body(std::move(body)), m_bands(bands), m_next(bands) {
  for (int b = 1; b < bands; ++b) m_threads.emplace_back([this] { work(); });
}

fork_join::~fork_join() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_epoch.store(stop_epoch);
  }
  m_wake.notify_all();
  for (auto& t : m_threads) t.join();
}

void fork_join::claim_bands() {
  for (int b; (b = m_next.fetch_add(1)) < m_bands;) {
    m_body(b);
    m_finished.fetch_add(1);
  }
}

void fork_join::run() {
  // Between steps every band is claimed (m_next >= m_bands), so a late worker
  // finds nothing; the counters are reset before the step is announced.
  m_finished.store(0);
  m_next.store(0);
  // Sequentially consistent store and load, paired with the worker's
  // m_sleepers increment and epoch check: either the worker sees the new
  // epoch before it sleeps, or this thread sees it asleep and wakes it.
  m_epoch.store(m_epoch.load(std::memory_order_relaxed) + 1);
  if (m_sleepers.load() > 0) {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_wake.notify_all();
  }
  claim_bands();
  // Bands a worker is still running: spin, then give the core away (the
  // worker may be waiting for it).
  for (int spins = 0; m_finished.load() < m_bands; ++spins)
    if (spins < spin_limit) NPUVP_CPU_RELAX();
    else std::this_thread::yield();
}

void fork_join::work() {
  uint64_t seen = 0;
  for (;;) {
    uint64_t epoch = m_epoch.load();
    for (int spins = 0; epoch == seen && spins < spin_limit; ++spins) {
      NPUVP_CPU_RELAX();
      epoch = m_epoch.load();
    }
    if (epoch == seen) {
      std::unique_lock<std::mutex> lock(m_mutex);
      ++m_sleepers;
      m_wake.wait(lock, [&] { return m_epoch.load() != seen; });
      --m_sleepers;
      epoch = m_epoch.load();
    }
    if (epoch == stop_epoch) return;
    seen = epoch;
    claim_bands();
  }
}

}  // namespace npuvp
