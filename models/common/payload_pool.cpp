#include "models/common/payload_pool.h"

namespace npuvp {

payload_pool::~payload_pool() {
  // Payloads still in flight keep the extensions of modules that may be gone
  // already (header comment): detach them unread, never free() them.
  const unsigned int extensions = tlm::max_num_extensions();
  for (auto& p : m_all) {
    p->resize_extensions();
    for (unsigned int i = 0; i < extensions; ++i) p->set_extension(i, nullptr);
  }
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
