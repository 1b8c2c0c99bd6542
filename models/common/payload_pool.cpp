#include "models/common/payload_pool.h"

namespace npuvp {

payload_pool::~payload_pool() {
  // Payloads hold a pointer back to this pool; detach before they are destroyed.
  for (auto& p : m_all) p->reset();
}

tlm::tlm_generic_payload* payload_pool::allocate() {
  tlm::tlm_generic_payload* p;
  if (m_free.empty()) {
    m_all.push_back(std::make_unique<tlm::tlm_generic_payload>(this));
    p = m_all.back().get();
  } else {
    p = m_free.back();
    m_free.pop_back();
  }
  p->acquire();
  return p;
}

void payload_pool::free(tlm::tlm_generic_payload* p) {
  p->reset();  // drops extensions
  p->set_data_ptr(nullptr);
  p->set_byte_enable_ptr(nullptr);
  p->set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  m_free.push_back(p);
}

}  // namespace npuvp
