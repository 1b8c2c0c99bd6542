// Parameters of the analytical performance model (docs/perfmodel.md). Each has
// a first-principles default derived from the hardware config
// (first_principles_params); a calibration file fitted against the TLM
// platform overrides them (calibration.h). Times in ns, bandwidth fractions
// in [0, 1].
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "platform/config/hw_config.h"
#include "platform/config/schema.h"

namespace npuvp::perf {

// One point of the measured row locality of strided HBM reads (perf_params).
struct stride_locality {
  uint64_t stride_bytes = 0;
  double locality = 1.0;
  template <class V>
  void visit(V& v) {
    v.field("stride_bytes", stride_bytes, "B", "channel-local distance between consecutive interleave blocks read",
            1, 1e12);
    v.field("locality", locality, "", "channel throughput relative to reading consecutive blocks", 0.001, 1.0);
  }
};

struct perf_params {
  // HBM: sustained fraction of a channel's peak bandwidth by access pattern of
  // the DMA descriptor (see docs/perfmodel.md, "Access patterns").
  double hbm_efficiency_sequential = 1.0;
  double hbm_efficiency_strided = 1.0;
  double hbm_efficiency_random = 1.0;
  // Measured, not fitted (`npuvp calibrate` runs one DMA descriptor per
  // point on the TLM chip): a channel's throughput for a stream that reads
  // one interleave block at a time, at a fixed channel-local stride, relative
  // to consecutive blocks, by increasing stride. This row locality holds such
  // a stream (the weight tiles of a matrix) to that fraction of the rate of
  // consecutive blocks (hbm_stride_base_fraction), and the channel to
  // locality^(1 - hbm_row_overlap) of its strided rate; empty, the model
  // walks the pattern through the channel's bank timing instead (hbm_rows.h).
  std::vector<stride_locality> hbm_stride_locality;
  // Measured with it: the rate of its reference, one DMA reading consecutive
  // interleave blocks one per row from one channel, as a fraction of the
  // channel's peak (refreshes and the controller's gaps; 0.85 on the 8x8
  // preset's HBM3). A stream reading one block per row goes at most this x
  // its row locality x the channel's peak on each channel
  // (docs/perfmodel.md, "Row locality").
  double hbm_stride_base_fraction = 1.0;
  // How much of a strided stream's row-locality loss the other streams of its
  // channel recover (banks it leaves idle while it waits for row cycles): the
  // channel serves such streams at locality^(1 - overlap) of its strided rate,
  // and a stream alone never beats its own locality. 0: the loss is the
  // channel's; 1: only the stream's.
  double hbm_row_overlap = 1.0;
  // Each extra concurrent stream on a channel divides its capacity by
  // (1 + penalty): streams break each other's row-buffer locality.
  double hbm_stream_penalty = 0.0;
  // Each extra concurrent stream on a channel adds this to the round trip of
  // the bursts it serves (queueing behind the other streams' row misses): a
  // DMA's window-limited rate is window / loaded round trip (Little's law).
  double hbm_stream_latency_ns = 0.0;
  // Queueing delay at a saturated shared resource (a full HBM controller
  // queue), common to the flows through it: they share its bandwidth in
  // proportion to window / (own round trip + this), so with a long queue the
  // shares are nearly equal whatever the distances (flow_network.h).
  double share_queue_ns = 0.0;
  double hbm_read_latency_ns = 0.0;
  double hbm_write_latency_ns = 0.0;
  // All-bank refresh blocks every channel for hbm_refresh_blocked_ns every
  // hbm_refresh_interval_ns (0: off). A DMA not bound by a channel stalls with
  // it, less the time the data its window holds keeps its bottleneck busy;
  // channel-bound transfers pay refresh in the channel efficiencies.
  double hbm_refresh_interval_ns = 0.0;
  double hbm_refresh_blocked_ns = 0.0;
  // NoC: latency per router passed (router pipeline + the link after it) and
  // the payload fraction of link bandwidth (header flits and the allocator's
  // idle slots are overhead; measured by `calibrate` on a link two sends share).
  double noc_hop_ns = 0.0;
  double noc_payload_efficiency = 1.0;
  // A flow whose data crosses k >= 2 saturated links between routers, each
  // shared with different traffic, keeps 1 / (1 + loss x (1 - 1/k)) of its
  // fluid rate (critically loaded wormhole links in tandem; flow_network.h).
  double noc_series_loss = 0.0;
  // Each extra flow crossing a NoC link or port divides its capacity by
  // (1 + penalty): what the samples show beyond the measured payload and the
  // series loss (packets of several flows blocking each other).
  double noc_stream_penalty = 0.0;
  // A message between cores (remote signal, send's arrival notice): one flit,
  // routers x noc_hop_ns plus this.
  double signal_overhead_ns = 0.0;
  // A barrier opens this long after the last core arrived (gather + release).
  double barrier_release_ns = 0.0;
  // DMA engine: per-descriptor decode cost; spacing of its requests (two per
  // burst: read, write); SRAM access latency.
  double dma_setup_ns = 0.0;
  double dma_request_ns = 0.0;
  double sram_access_ns = 0.0;
  // Transfers the DMA engine works on at once: with more than one, the next
  // descriptor's setup and bursts overlap the previous one's tail.
  int dma_descriptors_in_flight = 1;
  // Whether a DMA reaches its own core's SRAM through the router's local port
  // (the chip assembly decides; false: a direct path, no NoC resources).
  bool local_sram_via_noc = false;
  // Dispatcher: cost of issuing any command (fetch + decode), on the engine
  // that runs it, before it starts.
  double command_overhead_ns = 0.0;

  template <class V>
  void visit(V& v) {
    v.field("hbm_efficiency_sequential", hbm_efficiency_sequential, "",
            "sustained fraction of HBM channel peak for contiguous transfers", 0.01, 1.0);
    v.field("hbm_efficiency_strided", hbm_efficiency_strided, "",
            "fraction of peak for 2-D transfers whose rows are at least one interleave block", 0.01, 1.0);
    v.field("hbm_efficiency_random", hbm_efficiency_random, "",
            "fraction of peak for 2-D transfers with rows shorter than one interleave block", 0.01, 1.0);
    v.list("hbm_stride_locality", hbm_stride_locality,
           "measured row locality of one-block-per-row reads by channel-local stride (calibrate; empty: row walk)");
    v.check(std::adjacent_find(hbm_stride_locality.begin(), hbm_stride_locality.end(),
                               [](const stride_locality& a, const stride_locality& b) {
                                 return a.stride_bytes >= b.stride_bytes;
                               }) == hbm_stride_locality.end(),
            "hbm_stride_locality", "strides must increase from one entry to the next");
    v.field("hbm_stride_base_fraction", hbm_stride_base_fraction, "",
            "rate of one stream of consecutive blocks, one per row, from one channel, over the channel peak "
            "(calibrate; the reference of hbm_stride_locality)",
            0.01, 1.0);
    v.field("hbm_row_overlap", hbm_row_overlap, "",
            "share of a strided stream's row-locality loss that other streams of its channel recover", 0.0, 1.0);
    v.field("hbm_stream_penalty", hbm_stream_penalty, "",
            "channel capacity is divided by 1 + penalty x (concurrent streams - 1)", 0.0, 10.0);
    v.field(
        "hbm_stream_latency_ns", hbm_stream_latency_ns, "ns",
        "round trip added per extra concurrent stream on an HBM channel (queueing; lowers window-limited DMA rates)",
        0.0, 1e4);
    v.field("share_queue_ns", share_queue_ns, "ns",
            "queueing delay at a saturated channel, added to each flow's round trip when weighting its fair share",
            0.0, 1e6);
    v.field("hbm_read_latency_ns", hbm_read_latency_ns, "ns", "unloaded HBM read latency (controller to data)", 0.0,
            1e5);
    v.field("hbm_write_latency_ns", hbm_write_latency_ns, "ns", "unloaded HBM write latency (to the response)", 0.0,
            1e5);
    v.field("hbm_refresh_interval_ns", hbm_refresh_interval_ns, "ns",
            "HBM channels are blocked by an all-bank refresh this often (tREFI; 0: no refresh stalls)", 0.0, 1e9);
    v.field("hbm_refresh_blocked_ns", hbm_refresh_blocked_ns, "ns",
            "how long a refresh blocks the channels (tRP + tRFC): a DMA not bound by a channel stalls for it, less "
            "the time its window's data keeps its bottleneck busy",
            0.0, 1e6);
    v.check(hbm_refresh_interval_ns == 0 || hbm_refresh_blocked_ns < hbm_refresh_interval_ns,
            "hbm_refresh_blocked_ns", "must be shorter than hbm_refresh_interval_ns");
    v.field("noc_hop_ns", noc_hop_ns, "ns", "latency per router passed (router pipeline + link)", 0.0, 1e4);
    v.field("noc_payload_efficiency", noc_payload_efficiency, "",
            "payload fraction of NoC link bandwidth (header flits are overhead)", 0.01, 1.0);
    v.field("noc_series_loss", noc_series_loss, "",
            "a flow crossing k >= 2 saturated links shared with different traffic keeps 1 / (1 + loss x (1 - 1/k)) of "
            "its rate",
            0.0, 10.0);
    v.field("noc_stream_penalty", noc_stream_penalty, "",
            "NoC link/port capacity is divided by 1 + penalty x (flows crossing it - 1)", 0.0, 10.0);
    v.field("signal_overhead_ns", signal_overhead_ns, "ns",
            "fixed cost of a message to another core (remote signal, arrival notice), on top of its hops", 0.0, 1e5);
    v.field("barrier_release_ns", barrier_release_ns, "ns", "a barrier opens this long after the last arrival", 0.0,
            1e6);
    v.field("dma_setup_ns", dma_setup_ns, "ns", "DMA descriptor decode before its first burst", 0.0, 1e5);
    v.field("dma_request_ns", dma_request_ns, "ns",
            "time between two requests of a DMA engine (one BEGIN_REQ per core cycle, or slower under back-pressure)",
            0.001, 1e4);
    v.field("sram_access_ns", sram_access_ns, "ns", "SRAM access pipeline latency", 0.0, 1e4);
    v.field("dma_descriptors_in_flight", dma_descriptors_in_flight, "descriptors",
            "transfers the DMA engine overlaps (the next one's setup and bursts during the previous one's tail)", 1,
            1024);
    v.field("local_sram_via_noc", local_sram_via_noc, "",
            "a DMA reaches its own core's SRAM through the router's local port (else directly)");
    v.field("command_overhead_ns", command_overhead_ns, "ns", "issue cost of every command on its engine", 0.0, 1e5);
  }
};

// Values derived from the hardware description alone (cited in the .cpp).
perf_params first_principles_params(const hw_config& hw);

}  // namespace npuvp::perf
