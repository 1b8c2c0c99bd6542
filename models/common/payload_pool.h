// Pooled TLM generic payloads with reference counting (IEEE 1666-2011, 14.5):
// initiators take a payload from the pool, the last release() returns it.
#pragma once

#include <memory>
#include <vector>

#include <tlm>

namespace npuvp {

class payload_pool : public tlm::tlm_mm_interface {
 public:
  payload_pool() = default;
  payload_pool(const payload_pool&) = delete;
  payload_pool& operator=(const payload_pool&) = delete;
  ~payload_pool() override;

  // A reset payload with this pool as memory manager and one reference held.
  tlm::tlm_generic_payload* allocate();
  void free(tlm::tlm_generic_payload* p) override;
  size_t allocated() const { return m_all.size(); }

 private:
  std::vector<std::unique_ptr<tlm::tlm_generic_payload>> m_all;
  std::vector<tlm::tlm_generic_payload*> m_free;
};

}  // namespace npuvp
