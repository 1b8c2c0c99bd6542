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

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

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

// Target side: a TLM initiator socket bound to a memory target. Each request
// packet is served by one of `workers` threads calling b_transport on the
// target (which may be an AT target behind a simple_target_socket), waiting
// its annotated delay, then sending the response packet.
class noc_target_ni : public sc_core::sc_module, public noc_sink, public stats_source {
 public:
  tlm_utils::simple_initiator_socket<noc_target_ni> mem_out;

  noc_target_ni(const sc_core::sc_module_name& name, noc_mesh& mesh, noc_endpoint at, int workers = 16);

  void packet_delivered(const noc_packet& p, uint64_t cycle) override;
  void report_stats(stats_writer& out) const override;

 private:
  void worker();

  noc_mesh& m_mesh;
  noc_endpoint m_at;
  struct request {
    noc_transaction* t;
    noc_endpoint reply_to;
  };
  std::deque<request> m_queue;
  sc_core::sc_event m_arrived;
  uint64_t m_served = 0;
};

// Flits of `bytes` of data: ceil(bytes / flit_bytes).
uint32_t noc_data_flits(uint64_t bytes, int flit_bytes);

}  // namespace npuvp
