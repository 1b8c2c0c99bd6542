// Address-decoding crossbar: N initiators on port_in, M targets on mem_out
// (multi-sockets, bound in order: the k-th binding is index k). A decode
// function maps a global access to {target index, target-local address};
// the router rewrites the address on the way in and restores it on the way
// back, so initiators and targets each see their own address space. It is
// the interconnect until the NoC replaces it.
//
// Timing: `latency` is added once on the request path and once on the
// response path (b_transport: 2 * latency). AT 4-phase: requests wait in a
// FIFO per target and are forwarded one at a time (the initiator gets
// END_REQ when the target accepts, so target back-pressure reaches it);
// responses are accepted from targets at once (unbounded response buffer, an
// approximation) and returned one at a time per initiator, honouring END_RESP.
// There is no arbitration delay or bandwidth limit beyond that.
// An address the decoder rejects gets TLM_ADDRESS_ERROR_RESPONSE.
#pragma once

#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <systemc>
#include <tlm>
#include <vector>

#include "models/common/fifo_buffer.h"
#include "models/common/payload_event_queue.h"
#include "platform/base/stats.h"

namespace npuvp {

class address_router : public sc_core::sc_module, public stats_source {
 public:
  struct route {
    int target;      // index of the mem_out binding
    uint64_t local;  // address the target sees
  };
  // Throws npuvp::error (any std::exception) for an unmapped or straddling access.
  using decoder = std::function<route(uint64_t addr, uint64_t len)>;

  tlm_utils::multi_passthrough_target_socket<address_router> port_in;
  tlm_utils::multi_passthrough_initiator_socket<address_router> mem_out;

  address_router(sc_core::sc_module_name name, decoder decode, sc_core::sc_time latency);

  void report_stats(stats_writer& out) const override;
  // Requests and responses it holds, one line appended to `out` (nothing when
  // none): the chip's deadlock report.
  void describe_pending(std::string& out) const;

 private:
  // Carried by a payload between BEGIN_REQ and its BEGIN_RESP. Owned by the
  // router (m_ext_all, recycled in response_method), not by the payload: a
  // payload destroyed in flight (a run stopped by an error) must not delete it.
  struct route_ext : tlm::tlm_extension<route_ext> {
    int initiator = 0, target = 0;
    uint64_t global = 0;
    tlm::tlm_extension_base* clone() const override { return new route_ext(*this); }
    void copy_from(const tlm::tlm_extension_base& e) override { *this = static_cast<const route_ext&>(e); }
    void free() override {}
  };
  struct queued_request {
    tlm::tlm_generic_payload* trans;
    route_ext* ext;
  };
  struct target_side {
    fifo_buffer<queued_request> queue;
    tlm::tlm_generic_payload* open = nullptr;  // forwarded, END_REQ pending
    sc_core::sc_time free_at;                  // END_REQ time of the last request
  };
  struct initiator_side {
    fifo_buffer<tlm::tlm_generic_payload*> queue;
    tlm::tlm_generic_payload* open = nullptr;  // BEGIN_RESP sent, END_RESP pending
  };

  void b_transport(int id, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  unsigned int transport_dbg(int id, tlm::tlm_generic_payload& trans);
  tlm::tlm_sync_enum nb_transport_fw(int id, tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);
  tlm::tlm_sync_enum nb_transport_bw(int id, tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay);
  bool decode(tlm::tlm_generic_payload& trans, route& r);
  void request_method();
  void response_method();
  void send_requests(int target);
  void send_responses(int initiator);
  void end_request(route_ext& ext, tlm::tlm_generic_payload& trans, const sc_core::sc_time& delay);
  void take_response(route_ext& ext, tlm::tlm_generic_payload& trans, const sc_core::sc_time& delay);
  route_ext* new_ext();
  void end_of_elaboration() override;

  decoder m_decode;
  const sc_core::sc_time m_latency;
  std::vector<target_side> m_targets;
  std::vector<initiator_side> m_initiators;
  payload_event_queue<tlm::tlm_generic_payload> m_req_peq, m_resp_peq;
  sc_core::sc_event m_retry_req, m_retry_resp;
  std::vector<std::unique_ptr<route_ext>> m_ext_all;
  std::vector<route_ext*> m_ext_free;

  uint64_t m_requests = 0, m_decode_errors = 0;
};

}  // namespace npuvp
