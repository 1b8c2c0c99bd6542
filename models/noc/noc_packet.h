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
  uint32_t flits = 1;       // header included
  uint32_t delivered = 0;   // flits that reached the destination port
  uint8_t vc_lo = 0;        // virtual channels the packet may use: [vc_lo, vc_hi)
  uint8_t vc_hi = 1;
  uint8_t cls = 0;          // noc_class (noc_mesh.h)
  uint64_t created = 0;     // NoC cycle the packet entered its source queue
  uint64_t tag = 0;         // owner's data (benchmark: measured flag; NI: kind)
  void* user = nullptr;     // owner's data (NI: the transaction)
};

// A flit in an input buffer or on a link: 16 bytes, the packet by index.
struct noc_flit {
  uint32_t packet;
  uint16_t seq;
  bool head, tail;
  uint64_t ready;  // first cycle the router pipeline lets it leave
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
// allocation after construction.
template <class T>
class noc_ring {
 public:
  explicit noc_ring(size_t capacity = 0) : m_items(capacity) {}
  bool empty() const { return m_count == 0; }
  bool full() const { return m_count == m_items.size(); }
  size_t size() const { return m_count; }
  size_t capacity() const { return m_items.size(); }
  T& front() { return m_items[m_head]; }
  const T& front() const { return m_items[m_head]; }
  void push(const T& v) {
    size_t i = m_head + m_count;
    if (i >= m_items.size()) i -= m_items.size();
    m_items[i] = v;
    ++m_count;
  }
  void pop() {
    if (++m_head == m_items.size()) m_head = 0;
    --m_count;
  }

 private:
  std::vector<T> m_items;
  size_t m_head = 0, m_count = 0;
};

}  // namespace npuvp
