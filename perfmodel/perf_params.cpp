#include "perfmodel/perf_params.h"

#include <algorithm>
#include <cmath>

namespace npuvp::perf {

namespace {

// Fraction of peak an HBM channel sustains for runs of `run` contiguous bytes
// that each open a new DRAM row: the channel needs a row activation per run
// and per pseudo-channel, and JEDEC spaces activations of one pseudo-channel by
// at least max(tRRD_S, tFAW / 4) (JESD235, four-activate window); the run's
// data occupies the bus for run / (bytes per tCK). Refresh blocks the channel
// tRFC out of every tREFI (JESD235 all-bank refresh).
double hbm_run_efficiency(const hbm_config& h, double run) {
  const hbm_timing& t = h.timing;
  const double refresh = h.refresh ? 1.0 - double(t.tRFC) / double(t.tREFI) : 1.0;
  const double bytes_per_tck = double(h.org.pseudo_channels) * h.org.burst_bytes() / double(t.tBURST);
  const double act_spacing = std::max(double(t.tRRD_S), double(t.tFAW) / 4.0);
  const double data_tck = run / bytes_per_tck;
  return refresh * std::min(1.0, data_tck * h.org.pseudo_channels / act_spacing);
}

}  // namespace

perf_params first_principles_params(const hw_config& hw) {
  perf_params p;
  const hbm_config& h = hw.hbm;
  const hbm_timing& t = h.timing;
  // Contiguous streams hit open rows (FR-FCFS, Rixner 2000): refresh is the only loss.
  p.hbm_efficiency_sequential = hbm_run_efficiency(h, 1e30);
  // Rows of at least one interleave block: one activation per block.
  p.hbm_efficiency_strided = hbm_run_efficiency(h, double(h.interleave_bytes));
  // Shorter rows: in the worst case one activation per HBM burst.
  p.hbm_efficiency_random = hbm_run_efficiency(h, double(h.org.burst_bytes()));
  // A stream waiting for one bank's row cycles leaves the other banks free
  // (a channel has pseudo_channels x banks of them): all of its loss is
  // recoverable by other streams; to be calibrated (streams_4_rows_<stride>).
  p.hbm_row_overlap = 1.0;
  // First principles give no loss from interleaved streams under FR-FCFS; to be calibrated.
  p.hbm_stream_penalty = 0.0;
  // Nor queueing delay; to be calibrated (streams_<n>, hbm_streams_<n>).
  p.hbm_stream_latency_ns = 0.0;
  // A saturated channel holds a full controller queue (hbm.queue_depth
  // requests of one DMA burst), drained at the channel's peak: every request
  // waits that long (Little's law).
  p.share_queue_ns = h.queue_depth * double(hw.core.dma.burst_bytes) / h.peak_gbps();
  // Row miss on an idle bank: ACT -> RD (tRCD), RD -> data (tCL), data burst (tBURST).
  p.hbm_read_latency_ns = (t.tRCD + t.tCL + t.tBURST) * t.tck_ns;
  // ACT -> WR (tRCD), WR -> data (tWL), data burst (tBURST); answered when written.
  p.hbm_write_latency_ns = (t.tRCD + t.tWL + t.tBURST) * t.tck_ns;
  // All-bank refresh (JESD235): precharge all (tRP), then tRFC, every tREFI;
  // the VP's channels refresh in step (models/hbm/hbm_channel.h).
  if (h.refresh) {
    p.hbm_refresh_interval_ns = t.tREFI * t.tck_ns;
    p.hbm_refresh_blocked_ns = (t.tRP + t.tRFC) * t.tck_ns;
  }
  // Dally & Towles 2004 ch. 16: per hop a router pipeline plus a link traversal.
  p.noc_hop_ns = (hw.noc.router_cycles + hw.noc.link_cycles) / hw.noc.clock_ghz;
  // One packet per DMA burst: a header flit plus ceil(burst / flit) data flits
  // (models/noc/noc_interface.h).
  const double data_flits = std::ceil(double(hw.core.dma.burst_bytes) / hw.noc.flit_bytes);
  p.noc_payload_efficiency = data_flits / (data_flits + 1.0);
  // Fluid links in series lose nothing; to be calibrated (ring_row).
  p.noc_series_loss = 0.0;
  // Nor do interleaved flows; to be calibrated (noc_shared_<n>, port_mixed, ring_mixed).
  p.noc_stream_penalty = 0.0;
  // A signal is one header flit: one NoC cycle of serialisation.
  p.signal_overhead_ns = 1.0 / hw.noc.clock_ghz;
  // Arrivals gathered at one core, then a release message: two one-hop messages
  // (the VP's core_sync: 2 x message latency).
  p.barrier_release_ns = 2 * (p.noc_hop_ns + p.signal_overhead_ns);
  p.dma_setup_ns = hw.core.dma.setup_cycles / hw.core.clock_ghz;
  // At most one BEGIN_REQ per core cycle (models/dma/dma_engine.h).
  p.dma_request_ns = 1.0 / hw.core.clock_ghz;
  p.sram_access_ns = hw.core.sram.access_cycles / hw.core.clock_ghz;
  // The core overlaps up to this many consecutive DMA commands (models/npu_core/npu_core.h).
  p.dma_descriptors_in_flight = hw.core.dma.descriptors_in_flight;
  p.command_overhead_ns = 0.0;
  return p;
}

}  // namespace npuvp::perf
