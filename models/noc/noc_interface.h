// Network interfaces: TLM-2.0 transactions in, packets across the mesh, TLM-2.0
// transactions out, so initiators and targets stay plain TLM modules that do
// not know the mesh.
//
//   DMA --(initiator socket)--> noc_initiator_ni.port_in      [request packet]
//        ... mesh ...           noc_target_ni.mem_out --> SRAM / HBM channel
//                               [response packet back to the initiator NI]
//
// A request packet is a header flit plus the write data flits; the response is
// a header flit plus the read data flits (ceil(length / noc.flit_bytes) data
// flits, one packet per transaction). Requests and responses travel on disjoint
// virtual channels (noc_class::request / response), so responses always drain
// and no request/response cycle can deadlock the network (needs noc.vcs >= 2).
// Bytes move by pointer: the target works on the initiator's payload with the
// address replaced by the local one; flits carry timing only.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <systemc>
#include <tlm>
#include <unordered_map>
#include <vector>

#include "models/common/fifo_buffer.h"
#include "models/noc/noc_mesh.h"
#include "platform/base/stats.h"

namespace npuvp {

// Where an address lives: the endpoint of its target NI and the address the
// target sees.
struct noc_destination {
  noc_endpoint port;
  uint64_t local_addr = 0;
};
using noc_decoder = std::function<noc_destination(uint64_t addr)>;

// One transaction crossing the mesh (carried by pointer in both packets).
struct noc_transaction {
  tlm::tlm_generic_payload* gp = nullptr;
  uint64_t local_addr = 0;
  bool blocking = false;
  sc_core::sc_time start;  // request sent (round-trip statistics)
  sc_core::sc_event done;  // b_transport: the response packet arrived
};

// Initiator side: a TLM target socket for a DMA engine (or any initiator).
// b_transport blocks until the response packet arrives; nb_transport_fw takes
// the 4-phase AT protocol: BEGIN_REQ is accepted at once (END_REQ through the
// return path: the source queue is unbounded), BEGIN_RESP comes on the backward
// path when the response packet's last flit arrives, END_RESP completes it.
class noc_initiator_ni : public sc_core::sc_module, public noc_sink, public stats_source {
 public:
  tlm_utils::simple_target_socket<noc_initiator_ni> port_in;

  noc_initiator_ni(const sc_core::sc_module_name& name, noc_mesh& mesh, noc_endpoint at, noc_decoder decode);

  void packet_delivered(const noc_packet& p, uint64_t cycle) override;
  void report_stats(stats_writer& out) const override;
  // Transactions sent and not completed, one line appended to `out` (nothing
  // when none): the chip's deadlock report.
  void describe_pending(std::string& out) const;

 private:
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase, sc_core::sc_time& delay);
  void send_request(noc_transaction& t, const sc_core::sc_time& delay);

  noc_mesh& m_mesh;
  noc_endpoint m_at;
  noc_decoder m_decode;
  std::deque<noc_transaction> m_pool;  // non-blocking transactions; stable addresses
  std::vector<noc_transaction*> m_free;
  std::unordered_map<tlm::tlm_generic_payload*, noc_transaction*> m_waiting_end_resp;
  uint64_t m_reads = 0, m_writes = 0;
  sample_stats m_round_trip;  // ns
};

// How the target NI talks to its target.
//   lt: b_transport, which must not call wait() (an LT target, or an address
//       router in front of one): requests are served at once in arrival order
//       and the response leaves after the returned delay.
//   at: the 4-phase base protocol (an AT target such as the HBM controller):
//       up to `max_outstanding` requests are in the target or about to enter
//       it; the others wait in the NI in arrival order. BEGIN_REQ goes out one
//       delta cycle after the request packet arrived (or after the response
//       that freed its slot left), the response packet one delta cycle after
//       BEGIN_RESP (or TLM_COMPLETED) with its annotated delay.
enum class noc_target_protocol { lt, at };

// Target side: a TLM initiator socket bound to a memory target. No SystemC
// thread: requests are taken from a method that runs after the other
// processes of the delta cycle in which they arrived (docs/noc.md, "Network
// interfaces"), so no coroutine switch happens per transaction.
class noc_target_ni : public sc_core::sc_module, public noc_sink, public stats_source {
 public:
  tlm_utils::simple_initiator_socket<noc_target_ni> mem_out;

  noc_target_ni(const sc_core::sc_module_name& name, noc_mesh& mesh, noc_endpoint at,
                noc_target_protocol protocol = noc_target_protocol::lt, int max_outstanding = 16);

  void packet_delivered(const noc_packet& p, uint64_t cycle) override;
  void report_stats(stats_writer& out) const override;
  // Requests waiting, in the target or answered and not yet sent back, one
  // line appended to `out` (nothing when none): the chip's deadlock report.
  void describe_pending(std::string& out) const;

 private:
  struct request {
    noc_transaction* t;
    noc_endpoint reply_to;
    uint64_t global;  // the initiator's address, restored for the response
  };
  struct response {
    request r;
    sc_core::sc_time delay;
    uint64_t delta;  // sc_delta_count() when it came: sent in the next delta cycle
  };
  void relay_method();  // a delta cycle later: step_method after that cycle's other processes
  void step_method();
  void serve_lt(const request& r);
  void begin_request(const request& r);
  void send_response(const request& r, const sc_core::sc_time& delay);
  tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload& gp, tlm::tlm_phase& phase, sc_core::sc_time& delay);

  noc_mesh& m_mesh;
  noc_endpoint m_at;
  const noc_target_protocol m_protocol;
  fifo_buffer<request> m_queue;                  // arrived, not taken
  int m_idle;                                    // at: free slots of max_outstanding
  std::vector<request> m_taking, m_next_taking;  // at: BEGIN_REQ in this / the next delta cycle
  std::vector<response> m_answered;              // at: responses to send in the next delta cycle
  std::vector<request> m_in_target;  // at: by payload, BEGIN_REQ sent, response pending (small: linear search)
  tlm::tlm_generic_payload* m_req_open = nullptr;  // at: BEGIN_REQ sent, END_REQ pending
  sc_core::sc_event m_delta, m_step;
  uint64_t m_served = 0;
};

// Flits of `bytes` of data: ceil(bytes / flit_bytes).
uint32_t noc_data_flits(uint64_t bytes, int flit_bytes);

}  // namespace npuvp
