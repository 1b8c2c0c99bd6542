// Pooled TLM generic payloads with reference counting (IEEE 1666-2011, 14.5):
// initiators take a payload from the pool, the last release() returns it.
//
// Ownership at teardown: the pool owns the payloads, not their extensions.
// A run stopped by an error leaves payloads in flight, still carrying
// extensions that interconnect modules set and would have cleared on the
// response path (address_router's route_ext); those modules may be destroyed
// before the pool. The destructor therefore detaches every extension without
// calling free() on it (~tlm_generic_payload would), and holders of pooled
// payloads must not release() or read them in their own destructors.
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
