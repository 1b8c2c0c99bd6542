// Ring collectives built from send/recv, semaphores and vector adds
// (Thakur, Rabenseifner & Gropp 2005; Patarasuk & Yuan 2009). docs/lowering.md
// gives the step counts and the synchronisation of every step.
//
// `ring` lists physical core ids in ring order (rank i sends to rank i+1).
// Data lives at the same SRAM offset on every ring member (alloc_symmetric).
// `ready` is the engine that last wrote the data on each core; the collective
// orders its own engines after it. Each function returns the engine on which
// the result is complete; order() later work after it.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/lowering_context.h"

namespace npuvp::kernels {

// A contiguous piece of the buffer, in fp32 elements from its start.
struct chunk {
  uint64_t offset = 0;
  uint64_t elems = 0;
};

// `elems` split into `parts` nearly equal chunks.
std::vector<chunk> even_chunks(uint64_t elems, int parts);

// n-1 steps; afterwards rank r holds the sum over all ranks of chunk (r+1) mod n.
// Each step sends one chunk to the next rank into a double-buffered scratch
// area, and the receiver adds it (vector add).
engine ring_reduce_scatter(lowering_context& ctx, const std::vector<int>& ring, uint32_t data,
                           const std::vector<chunk>& chunks, engine ready);

// n-1 steps; rank r starts owning chunk (r+shift) mod n and ends with all chunks.
engine ring_all_gather(lowering_context& ctx, const std::vector<int>& ring, uint32_t data,
                       const std::vector<chunk>& chunks, int shift, engine ready);

// Reduce-scatter then all-gather: 2(n-1) steps, each moving 1/n of the data
// per rank; every rank ends with the element-wise sum of all ranks' buffers.
engine ring_all_reduce(lowering_context& ctx, const std::vector<int>& ring, uint32_t data, uint64_t elems,
                       engine ready);

// Direct ("two-shot") collectives for small messages over many ranks, where the
// 2(n-1) latency-bound steps of a ring dominate (Thakur, Rabenseifner & Gropp
// 2005, sec. 4: latency term; the one-shot/two-shot all-reduce of NCCL and
// TensorRT-LLM for small messages). Each rank sends straight to every other one,
// starting with the next rank so no receiver is hit by every sender at once.

// Every rank ends with all of `chunks`; chunk i starts on group[i] (empty chunks
// are skipped). 1 step: rank i sends chunk i to each peer, receives the others.
engine direct_all_gather(lowering_context& ctx, const std::vector<int>& group, uint32_t data,
                         const std::vector<chunk>& chunks, engine ready);

// Reduce-scatter then all-gather, one step each: rank i receives chunk i of every
// peer into its own scratch slot for that peer, adds them (n-1 vector adds), then
// sends the sum to every peer. Same data per rank as the ring, 2 steps instead of 2(n-1).
engine direct_all_reduce(lowering_context& ctx, const std::vector<int>& group, uint32_t data, uint64_t elems,
                         engine ready);

}  // namespace npuvp::kernels
