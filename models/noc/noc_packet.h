// Packets and flits of the mesh kernel, and the interface through which a
// local port hands delivered packets to whatever is attached to it.
#pragma once

#include <cstdint>
#include <vector>

namespace npuvp {

// Where a packet enters or leaves the mesh: router (node = y * width + x) and
// local port at that router (0 = the core, 1.. = extra attachments in the order
// given to noc_mesh).
struct noc_endpoint {
  int node = 0;
  int port = 0;
  bool operator==(const noc_endpoint& o) const { return node == o.node && port == o.port; }
};

// One packet in flight. Data moves by pointer (`user`); flits model timing only.
struct noc_packet {
  noc_endpoint src, dst;
  int16_t dst_x = 0, dst_y = 0;  // the destination router (from dst.node)
  uint32_t flits = 1;       // header included
  uint32_t delivered = 0;   // flits that reached the destination port
  uint8_t vc_lo = 0;        // virtual channels the packet may use: [vc_lo, vc_hi)
  uint8_t vc_hi = 1;
  uint8_t cls = 0;          // noc_class (noc_mesh.h)
  uint64_t created = 0;     // NoC cycle the packet entered its source queue
  uint64_t tag = 0;         // owner's data (benchmark: measured flag; NI: kind)
  void* user = nullptr;     // owner's data (NI: the transaction)
};

// A flit in an input buffer or on a link: 8 bytes, the packet by index. A
// flit enters its input buffer when the router pipeline has elapsed (see
// noc_router), so a buffered flit is always ready to leave and needs no time stamp.
struct noc_flit {
  uint32_t packet;
  bool head, tail;
};

// Receives the packets that leave the mesh at one local port.
class noc_sink {
 public:
  virtual ~noc_sink() = default;
  // Called from the mesh kernel (an SC_METHOD: no wait()) when the last flit
  // arrives; `cycle` is that NoC cycle. The packet is freed afterwards.
  virtual void packet_delivered(const noc_packet& p, uint64_t cycle) = 0;
};

// Called by the mesh kernel at the start of every cycle while it returns true;
// a benchmark injects its synthetic traffic here instead of in 64 processes.
class noc_traffic {
 public:
  virtual ~noc_traffic() = default;
  virtual bool generate(uint64_t cycle) = 0;
};

// Fixed-capacity FIFO (input VC buffers, link and credit pipelines): no
// allocation after construction; storage rounded up to a power of two so
// indexing is a mask.
template <class T>
class noc_ring {
 public:
  explicit noc_ring(size_t capacity = 0) : m_capacity(static_cast<uint32_t>(capacity)) {
    size_t n = 1;
    while (n < capacity) n <<= 1;
    m_items.resize(n);
    m_mask = static_cast<uint32_t>(n - 1);
  }
  bool empty() const { return m_head == m_tail; }
  size_t size() const { return m_tail - m_head; }
  size_t capacity() const { return m_capacity; }
  T& front() { return m_items[m_head & m_mask]; }
  const T& front() const { return m_items[m_head & m_mask]; }
  void push(const T& v) { m_items[m_tail++ & m_mask] = v; }  // caller keeps size() <= capacity()
  void pop() { ++m_head; }

 private:
  std::vector<T> m_items;
  uint32_t m_capacity, m_mask = 0;
  uint32_t m_head = 0, m_tail = 0;  // free-running
};

// Fixed-capacity list (a slot of the mesh's time wheel): storage allocated
// once, appended to without a capacity check (the caller bounds how many items
// a slot can receive), emptied by clear().
template <class T>
class noc_list {
 public:
  explicit noc_list(size_t capacity = 0) : m_items(capacity), m_end(m_items.data()) {}
  noc_list(noc_list&&) = default;
  noc_list& operator=(noc_list&&) = default;
  noc_list(const noc_list&) = delete;
  noc_list& operator=(const noc_list&) = delete;
  void push(const T& v) { *m_end++ = v; }
  const T* begin() const { return m_items.data(); }
  const T* end() const { return m_end; }
  bool empty() const { return m_end == m_items.data(); }
  size_t size() const { return static_cast<size_t>(m_end - m_items.data()); }
  void clear() { m_end = m_items.data(); }

 private:
  std::vector<T> m_items;
  T* m_end;
};

}  // namespace npuvp
