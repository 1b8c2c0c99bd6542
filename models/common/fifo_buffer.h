// A FIFO in one contiguous array that grows by doubling and never shrinks:
// after warm-up, push/pop allocate nothing (unlike std::deque, which allocates
// and frees chunks as it moves). Popping advances a head index; the live
// elements move back to the start of the array when the end is reached and at
// least half of it is free (amortised O(1)). erase(i) keeps the order and
// shifts the shorter side, so erasing near the front is cheap.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace npuvp {

template <class T>
class fifo_buffer {
 public:
  bool empty() const { return m_size == 0; }
  size_t size() const { return m_size; }
  T& operator[](size_t i) { return m_buf[m_head + i]; }
  const T& operator[](size_t i) const { return m_buf[m_head + i]; }
  T& front() { return m_buf[m_head]; }
  const T& front() const { return m_buf[m_head]; }

  void push_back(const T& v) {
    if (m_head + m_size == m_buf.size()) make_room();
    m_buf[m_head + m_size] = v;
    ++m_size;
  }
  void pop_front() {
    ++m_head;
    if (--m_size == 0) m_head = 0;
  }
  // Removes element i; the others keep their order.
  void erase(size_t i) {
    const auto first = m_buf.begin() + static_cast<std::ptrdiff_t>(m_head);
    const auto pos = first + static_cast<std::ptrdiff_t>(i);
    if (i < m_size / 2) {
      std::move_backward(first, pos, pos + 1);
      pop_front();
    } else {
      std::move(pos + 1, first + static_cast<std::ptrdiff_t>(m_size), pos);
      if (--m_size == 0) m_head = 0;
    }
  }

 private:
  void make_room() {
    const auto first = m_buf.begin() + static_cast<std::ptrdiff_t>(m_head);
    if (m_head >= m_size && m_size > 0) {  // at least half free: compact
      std::move(first, first + static_cast<std::ptrdiff_t>(m_size), m_buf.begin());
    } else {
      std::vector<T> b(m_buf.empty() ? 16 : 2 * m_buf.size());
      std::move(first, first + static_cast<std::ptrdiff_t>(m_size), b.begin());
      m_buf.swap(b);
    }
    m_head = 0;
  }

  std::vector<T> m_buf;
  size_t m_head = 0, m_size = 0;
};

}  // namespace npuvp
