#include "kernels/collectives.h"

#include <algorithm>

namespace npuvp::kernels {

std::vector<chunk> even_chunks(uint64_t elems, int parts) {
  std::vector<chunk> out;
  for (int i = 0; i < parts; ++i) {
    const auto [b, e] = split_range(elems, parts, i);
    out.push_back({b, e - b});
  }
  return out;
}

namespace {
int wrap(int i, int n) { return ((i % n) + n) % n; }
}  // namespace

engine ring_reduce_scatter(lowering_context& ctx, const std::vector<int>& ring, uint32_t data,
                           const std::vector<chunk>& chunks, engine ready) {
  const int n = static_cast<int>(ring.size());
  if (n < 2) return ready;
  uint64_t biggest = 0;
  for (const auto& c : chunks) biggest = std::max(biggest, c.elems);
  // Two receive slots: the sender may fill one while the receiver adds the other.
  const uint32_t scratch = ctx.alloc_symmetric(ring, 2 * biggest * 4, "reduce-scatter scratch");
  const uint16_t credit = ctx.new_semaphore();
  const uint32_t tag = ctx.new_tag();
  auto slot = [&](int s) { return scratch + static_cast<uint32_t>((s % 2) * biggest * 4); };
  auto at = [&](int c) { return data + static_cast<uint32_t>(chunks[c].offset * 4); };
  for (int r = 0; r < n; ++r) {
    const int me = ring[r], next = ring[wrap(r + 1, n)], prev = ring[wrap(r - 1, n)];
    ctx.order(me, ready, engine::dma);
    ctx.order(me, ready, engine::vector);
    for (int s = 0; s <= n - 2; ++s) {
      const int send_chunk = wrap(r - s, n), recv_chunk = wrap(r - s - 1, n);
      const uint32_t send_bytes = static_cast<uint32_t>(chunks[send_chunk].elems * 4);
      const uint32_t recv_bytes = static_cast<uint32_t>(chunks[recv_chunk].elems * 4);
      // DMA: the chunk to send was completed by the previous step's add; the
      // next rank's slot must have been consumed two steps ago.
      if (s >= 1) ctx.emit(me, wait_cmd{engine::dma, lowering_context::pair_semaphore(engine::vector, engine::dma), 1});
      if (s >= 2) ctx.emit(me, wait_cmd{engine::dma, credit, 1});
      ctx.emit(me, send_cmd{engine::dma, static_cast<uint16_t>(next), at(send_chunk), slot(s), send_bytes, tag});
      ctx.emit(me, recv_cmd{engine::dma, static_cast<uint16_t>(prev), slot(s), recv_bytes, tag});
      ctx.emit(me,
               signal_cmd{engine::dma, lowering_context::pair_semaphore(engine::dma, engine::vector), self_core, 1});
      // Vector: add the received chunk into place, then release the slot.
      ctx.emit(me, wait_cmd{engine::vector, lowering_context::pair_semaphore(engine::dma, engine::vector), 1});
      vector_cmd add;
      add.op = vector_op::add;
      add.rows = 1;
      add.cols = static_cast<uint32_t>(chunks[recv_chunk].elems);
      add.src0 = at(recv_chunk);
      add.src1 = slot(s);
      add.dst = at(recv_chunk);
      ctx.emit(me, add);
      if (s <= n - 3)
        ctx.emit(me, signal_cmd{engine::vector, lowering_context::pair_semaphore(engine::vector, engine::dma),
                                self_core, 1});
      if (s <= n - 4) ctx.emit(me, signal_cmd{engine::vector, credit, static_cast<uint16_t>(prev), 1});
    }
  }
  return engine::vector;
}

engine ring_all_gather(lowering_context& ctx, const std::vector<int>& ring, uint32_t data,
                       const std::vector<chunk>& chunks, int shift, engine ready) {
  const int n = static_cast<int>(ring.size());
  if (n < 2) return ready;
  const uint16_t go = ctx.new_semaphore();
  const uint32_t tag = ctx.new_tag();
  auto at = [&](int c) { return data + static_cast<uint32_t>(chunks[c].offset * 4); };
  for (int r = 0; r < n; ++r) {
    const int me = ring[r], next = ring[wrap(r + 1, n)], prev = ring[wrap(r - 1, n)];
    // The previous rank may overwrite our non-owned chunks once every engine
    // that used them (`ready`, and our own DMA in order) is done.
    ctx.order(me, ready, engine::dma);
    ctx.emit(me, signal_cmd{engine::dma, go, static_cast<uint16_t>(prev), 1});
    ctx.emit(me, wait_cmd{engine::dma, go, 1});
    for (int s = 0; s <= n - 2; ++s) {
      const int send_chunk = wrap(r + shift - s, n), recv_chunk = wrap(r + shift - 1 - s, n);
      ctx.emit(me, send_cmd{engine::dma, static_cast<uint16_t>(next), at(send_chunk), at(send_chunk),
                            static_cast<uint32_t>(chunks[send_chunk].elems * 4), tag});
      ctx.emit(me, recv_cmd{engine::dma, static_cast<uint16_t>(prev), at(recv_chunk),
                            static_cast<uint32_t>(chunks[recv_chunk].elems * 4), tag});
    }
  }
  return engine::dma;
}

engine ring_all_reduce(lowering_context& ctx, const std::vector<int>& ring, uint32_t data, uint64_t elems,
                       engine ready) {
  const auto chunks = even_chunks(elems, static_cast<int>(ring.size()));
  const engine e = ring_reduce_scatter(ctx, ring, data, chunks, ready);
  return ring_all_gather(ctx, ring, data, chunks, 1, e);
}

engine direct_all_gather(lowering_context& ctx, const std::vector<int>& group, uint32_t data,
                         const std::vector<chunk>& chunks, engine ready) {
  const int n = static_cast<int>(group.size());
  if (n < 2) return ready;
  const uint16_t go = ctx.new_semaphore();
  const uint32_t tag = ctx.new_tag();
  auto at = [&](int c) { return data + static_cast<uint32_t>(chunks[c].offset * 4); };
  auto bytes = [&](int c) { return static_cast<uint32_t>(chunks[c].elems * 4); };
  for (int r = 0; r < n; ++r) {
    const int me = group[r];
    // Peers may overwrite our non-owned chunks once every engine that used them is
    // done: each rank tells every peer, and sends only after all peers told it.
    ctx.order(me, ready, engine::dma);
    for (int s = 1; s < n; ++s)
      ctx.emit(me, signal_cmd{engine::dma, go, static_cast<uint16_t>(group[wrap(r + s, n)]), 1});
    ctx.emit(me, wait_cmd{engine::dma, go, static_cast<uint32_t>(n - 1)});
    if (bytes(r) > 0)
      for (int s = 1; s < n; ++s)
        ctx.emit(me, send_cmd{engine::dma, static_cast<uint16_t>(group[wrap(r + s, n)]), at(r), at(r), bytes(r), tag});
    for (int s = 1; s < n; ++s) {
      const int from = wrap(r - s, n);
      if (bytes(from) > 0)
        ctx.emit(me, recv_cmd{engine::dma, static_cast<uint16_t>(group[from]), at(from), bytes(from), tag});
    }
  }
  return engine::dma;
}

engine direct_all_reduce(lowering_context& ctx, const std::vector<int>& group, uint32_t data, uint64_t elems,
                         engine ready) {
  const int n = static_cast<int>(group.size());
  if (n < 2) return ready;
  const auto chunks = even_chunks(elems, n);
  const uint64_t biggest = chunks[0].elems;  // even_chunks: the first chunks are the larger ones
  // Slot p of rank r's scratch holds peer p's copy of chunk r. The scratch is fresh:
  // no peer can write into a slot still in use.
  const uint32_t scratch = ctx.alloc_symmetric(group, uint64_t(n) * biggest * 4, "all-reduce scratch");
  const uint32_t tag = ctx.new_tag();
  auto at = [&](int c) { return data + static_cast<uint32_t>(chunks[c].offset * 4); };
  auto slot = [&](int p) { return scratch + static_cast<uint32_t>(uint64_t(p) * biggest * 4); };
  const uint16_t dma_to_vector = lowering_context::pair_semaphore(engine::dma, engine::vector);
  for (int r = 0; r < n; ++r) {
    const int me = group[r];
    ctx.order(me, ready, engine::dma);
    ctx.order(me, ready, engine::vector);
    const auto mine = static_cast<uint32_t>(chunks[r].elems);
    for (int s = 1; s < n; ++s) {
      const int to = wrap(r + s, n);
      if (chunks[to].elems > 0)
        ctx.emit(me, send_cmd{engine::dma, static_cast<uint16_t>(group[to]), at(to), slot(r),
                              static_cast<uint32_t>(chunks[to].elems * 4), tag});
    }
    if (mine > 0)
      for (int s = 1; s < n; ++s) {
        const int from = wrap(r - s, n);
        ctx.emit(me, recv_cmd{engine::dma, static_cast<uint16_t>(group[from]), slot(from), mine * 4, tag});
      }
    ctx.emit(me, signal_cmd{engine::dma, dma_to_vector, self_core, 1});
    ctx.emit(me, wait_cmd{engine::vector, dma_to_vector, 1});
    for (int s = 1; s < n && mine > 0; ++s) {
      vector_cmd add;
      add.op = vector_op::add;
      add.rows = 1;
      add.cols = mine;
      add.src0 = at(r);
      add.src1 = slot(wrap(r - s, n));
      add.dst = at(r);
      ctx.emit(me, add);
    }
  }
  return direct_all_gather(ctx, group, data, chunks, engine::vector);
}

}  // namespace npuvp::kernels
