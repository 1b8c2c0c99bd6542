#include "models/hbm/hbm_channel.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "platform/base/error.h"

namespace npuvp {

using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

namespace {

double to_ns(const sc_time& t) {
  static const double ns_per_unit = sc_core::sc_get_time_resolution().to_seconds() * 1e9;
  return static_cast<double>(t.value()) * ns_per_unit;
}

}  // namespace

hbm_channel::hbm_channel(sc_core::sc_module_name name, const hbm_config& cfg, bool functional, trace_writer* trace)
    : sc_module(name),
      port_in("port_in"),
      m_cfg(cfg),
      m_t(m_cfg.timing),
      m_functional(functional),
      m_lt(cfg.mode == "lt"),
      m_fr_fcfs(cfg.scheduler == "fr_fcfs"),
      m_capacity(cfg.org.capacity_bytes()),
      m_burst_bytes(cfg.org.burst_bytes()),
      m_mapper(m_cfg),
      m_trace(trace),
      m_fw_peq(this, &hbm_channel::on_fw_phase) {
  port_in.register_b_transport(this, &hbm_channel::b_transport);
  port_in.register_nb_transport_fw(this, &hbm_channel::nb_transport_fw);
  port_in.register_transport_dbg(this, &hbm_channel::transport_dbg);

  // Command times are whole tCK cycles; tCK must be a whole number of
  // SystemC time-resolution units (1 ps by default).
  const double tck_res = m_t.tck_ns * 1e-9 / sc_core::sc_get_time_resolution().to_seconds();
  m_tck_res = static_cast<uint64_t>(std::llround(tck_res));
  if (m_tck_res == 0 || std::fabs(tck_res - static_cast<double>(m_tck_res)) > 1e-6)
    throw error(std::string(this->name()) + ": hbm.timing.tck_ns " + std::to_string(m_t.tck_ns) +
                " is not a multiple of the SystemC time resolution");

  m_pcs.resize(static_cast<size_t>(m_cfg.org.pseudo_channels));
  for (auto& p : m_pcs) {
    p.banks.resize(static_cast<size_t>(m_cfg.org.banks()));
    p.last_act_bg.assign(static_cast<size_t>(m_cfg.org.bank_groups), never);
    p.last_cas_bg.assign(static_cast<size_t>(m_cfg.org.bank_groups), never);
    p.last_wr_end_bg.assign(static_cast<size_t>(m_cfg.org.bank_groups), never);
    p.pre_wanted.assign(static_cast<size_t>((m_cfg.org.banks() + 63) / 64), 0);
  }
  m_next_refresh = m_cfg.refresh ? m_t.tREFI : std::numeric_limits<int64_t>::max();
  m_miss_seen.assign(static_cast<size_t>(m_cfg.org.bank_groups) * 2, 0);

  // LT: unloaded latency of a one-burst row miss (ACT, READ, data) unless
  // calibrated; data occupies the channel at peak * efficiency.
  m_lt_latency_ns = m_cfg.lt.latency_ns > 0 ? m_cfg.lt.latency_ns : cycles_ns(m_t.tRCD + m_t.tCL + m_t.tBURST);
  m_lt_ns_per_byte = 1.0 / (m_cfg.peak_gbps() * m_cfg.lt.efficiency);

  if (m_trace) {
    m_track = m_trace->track(this->name());
    m_ev_read = m_trace->name("read");
    m_ev_write = m_trace->name("write");
    m_ev_refresh = m_trace->name("refresh");
  }

  SC_HAS_PROCESS(hbm_channel);
  SC_METHOD(schedule);
  sensitive << m_wake;
  dont_initialize();
  SC_METHOD(send_responses);
  sensitive << m_resp_event;
  dont_initialize();
}

int64_t hbm_channel::now_cycle() const {
  const uint64_t v = sc_core::sc_time_stamp().value();
  return static_cast<int64_t>((v + m_tck_res - 1) / m_tck_res);
}

sc_time hbm_channel::at_cycle(int64_t c) const { return sc_time::from_value(static_cast<uint64_t>(c) * m_tck_res); }

// ------------------------------------------------------------------ TLM entry points

void hbm_channel::b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) {
  if (m_lt) {
    lt_access(trans, delay);
    return;
  }
  // AT controller behind a blocking caller: enter the queue at the annotated
  // time, wait for the response.
  wait(delay);
  delay = SC_ZERO_TIME;
  while (queue_full() || m_blocked) {
    ++m_slot_waiters;
    wait(m_slot_freed);
    --m_slot_waiters;
  }
  sc_core::sc_event done;
  accept(trans, &done);
  wait(done);
}

tlm::tlm_sync_enum hbm_channel::nb_transport_fw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                                sc_time& delay) {
  if (m_lt) {
    if (phase != tlm::BEGIN_REQ)
      throw simulation_error(std::string(name()) + ": LT mode got a phase other than BEGIN_REQ");
    lt_access(trans, delay);
    phase = tlm::BEGIN_RESP;
    return tlm::TLM_COMPLETED;
  }
  // Unannotated phases are handled at once; annotated ones wait in the PEQ.
  if (delay == SC_ZERO_TIME) {
    if (phase == tlm::BEGIN_REQ && !queue_full() && !m_blocked) {
      accept(trans, nullptr);
      phase = tlm::END_REQ;
      return tlm::TLM_UPDATED;
    }
    if (phase == tlm::END_RESP) {
      on_fw_phase(trans, phase);
      return tlm::TLM_COMPLETED;
    }
  }
  m_fw_peq.notify(trans, phase, delay);
  return tlm::TLM_ACCEPTED;
}

void hbm_channel::on_fw_phase(tlm::tlm_generic_payload& trans, const tlm::tlm_phase& phase) {
  if (phase == tlm::BEGIN_REQ) {
    if (m_blocked) throw simulation_error(std::string(name()) + ": BEGIN_REQ before END_REQ of the previous request");
    if (queue_full()) {
      m_blocked = &trans;  // END_REQ when a slot frees (back-pressure)
      return;
    }
    accept(trans, nullptr);
    tlm::tlm_phase ph = tlm::END_REQ;
    sc_time d = SC_ZERO_TIME;
    port_in->nb_transport_bw(trans, ph, d);
  } else if (phase == tlm::END_RESP) {
    if (!m_resp_busy || &trans != m_reqs[static_cast<size_t>(m_resp_inflight)].trans)
      throw simulation_error(std::string(name()) + ": END_RESP for a transaction without BEGIN_RESP");
    m_resp_busy = false;
    response_done(m_resp_inflight);
    m_resp_event.notify(SC_ZERO_TIME);  // next response from the method, not nested in this call
  } else {
    throw simulation_error(std::string(name()) + ": unexpected phase on the forward path");
  }
}

bool hbm_channel::access_data(tlm::tlm_generic_payload& trans) {
  const uint64_t a = trans.get_address();
  const uint64_t len = trans.get_data_length();
  if (trans.get_byte_enable_ptr()) {
    trans.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    return false;
  }
  if (a >= m_capacity || len > m_capacity - a) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return false;
  }
  if (m_functional) {
    if (trans.is_read())
      m_store.read(a, trans.get_data_ptr(), len);
    else if (trans.is_write())
      m_store.write(a, trans.get_data_ptr(), len);
  }
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
  return true;
}

unsigned int hbm_channel::transport_dbg(tlm::tlm_generic_payload& trans) {
  const uint64_t a = trans.get_address();
  if (!m_functional || a >= m_capacity) return 0;
  const uint64_t len = std::min<uint64_t>(trans.get_data_length(), m_capacity - a);
  if (trans.is_read()) m_store.read(a, trans.get_data_ptr(), len);
  else if (trans.is_write()) m_store.write(a, trans.get_data_ptr(), len);
  return static_cast<unsigned int>(len);
}

// ------------------------------------------------------------------ LT mode

void hbm_channel::lt_access(tlm::tlm_generic_payload& trans, sc_time& delay) {
  const sc_time now = sc_core::sc_time_stamp();
  const sc_time arrive = now + delay;
  if (m_first_arrival_ns < 0) m_first_arrival_ns = to_ns(arrive);
  if (!access_data(trans)) {
    ++m_errors;
    return;
  }
  const uint64_t len = trans.get_data_length();
  (trans.is_write() ? m_writes : m_reads)++;
  m_bytes += len;
  // Occupancy of the channel at the sustained rate; no bank, turnaround or
  // refresh effects.
  const sc_time begin = std::max(arrive, m_lt_next_free);
  const sc_time occupancy(static_cast<double>(len) * m_lt_ns_per_byte, sc_core::SC_NS);
  m_lt_next_free = begin + occupancy;
  const sc_time done = begin + occupancy + sc_time(m_lt_latency_ns, sc_core::SC_NS);
  delay = done - now;
  const double done_ns = to_ns(done);
  if (trans.is_read()) m_read_latency.add(done_ns - to_ns(arrive));
  m_last_done_ns = std::max(m_last_done_ns, done_ns);
  if (m_trace)
    m_trace->complete(m_track, trans.is_read() ? m_ev_read : m_ev_write, to_ns(arrive), done_ns - to_ns(arrive));
}

// ------------------------------------------------------------------ AT mode

int hbm_channel::accept(tlm::tlm_generic_payload& trans, sc_core::sc_event* blocking_done) {
  int r;
  if (m_free_reqs.empty()) {
    r = static_cast<int>(m_reqs.size());
    m_reqs.emplace_back();
  } else {
    r = m_free_reqs.back();
    m_free_reqs.pop_back();
  }
  if (trans.has_mm()) trans.acquire();
  request& q = m_reqs[static_cast<size_t>(r)];
  q.trans = &trans;
  q.blocking_done = blocking_done;
  q.arrival_ns = to_ns(sc_core::sc_time_stamp());
  q.done = now_cycle();
  q.read = !trans.is_write();
  q.bursts_unscheduled = 0;
  if (m_first_arrival_ns < 0) m_first_arrival_ns = q.arrival_ns;

  const uint64_t len = trans.get_data_length();
  if (!access_data(trans) || len == 0 || trans.get_command() == tlm::TLM_IGNORE_COMMAND) {
    m_errors += trans.get_response_status() != tlm::TLM_OK_RESPONSE;
    finish_request(r, false);
    return r;
  }
  (q.read ? m_reads : m_writes)++;
  m_bytes += len;
  const uint64_t bb = static_cast<uint64_t>(m_burst_bytes);
  const uint64_t first = trans.get_address() / bb, last = (trans.get_address() + len - 1) / bb;
  for (uint64_t i = first; i <= last; ++i) {
    const hbm_address a = m_mapper.decode(i * bb);
    pc_state& p = m_pcs[static_cast<size_t>(a.pc)];
    const int bank = a.bg * m_cfg.org.banks_per_group + a.ba;
    p.queue.push_back({r, bank, a.bg, q.read, a.row});
    bank_state& k = p.banks[static_cast<size_t>(bank)];
    ++k.queued;
    if (k.open_row < 0) ++p.closed;
    if (k.open_row == a.row)
      set_hits(p, bank, k.hits + 1);
    else
      update_pre_wanted(p, bank);
  }
  q.bursts_unscheduled = static_cast<int>(last - first + 1);
  ++m_queued;
  m_wake.notify(SC_ZERO_TIME);
  return r;
}

void hbm_channel::schedule() {
  const int64_t now = now_cycle();
  int64_t wake = std::numeric_limits<int64_t>::max();
  for (auto& p : m_pcs) {
    // Row commands first: PRE for a bank that holds another row than queued
    // bursts want, as soon as the bank allows (tRAS, tRTP, tWR) -- unless
    // FR-FCFS still has hits queued for the open row. FCFS only prepares the
    // oldest burst. Again after every burst scheduled that may create such a
    // bank or move its PRE: an ACT, a bank's last queued hit (its READ or WRITE
    // also moves the earliest PRE), and with FCFS any burst (the next one
    // becomes the oldest). Without that pass nothing would wake the channel
    // for the PRE until another request came (test/hbm_test.cpp).
    bool pre_pass = true;
    while (!p.queue.empty()) {
      while (!p.pending_cas.empty() && p.pending_cas.front() <= now) p.pending_cas.pop_front();
      if (pre_pass) {
        pre_pass = false;
        if (m_fr_fcfs) {
          for (size_t w = 0; w < p.pre_wanted.size(); ++w)
            for (uint64_t m = p.pre_wanted[w]; m != 0; m &= m - 1) {
              const int bank = static_cast<int>(w * 64) + __builtin_ctzll(m);
              const bank_state& k = p.banks[static_cast<size_t>(bank)];
              if (k.earliest_pre > now)
                wake = std::min(wake, k.earliest_pre);
              else if (k.hits == 0)
                precharge(p, bank, now);
            }
        } else {
          const burst& b = p.queue.front();
          const bank_state& k = p.banks[static_cast<size_t>(b.bank)];
          if (k.open_row >= 0 && k.open_row != b.row) {
            if (k.earliest_pre > now)
              wake = std::min(wake, k.earliest_pre);
            else
              precharge(p, b.bank, now);
          }
        }
      }
      // At most `lookahead` row hits wait for their column command; a burst
      // that needs an ACT is committed when the ACT can issue.
      const bool full = static_cast<int>(p.pending_cas.size()) >= m_cfg.lookahead;
      if (full) wake = std::min(wake, p.pending_cas[static_cast<size_t>((m_cfg.lookahead - 1) / 2)]);
      // FR-FCFS (Rixner et al. 2000): among the ready bursts (row hits, and
      // bursts to a closed bank whose ACT can issue now) the one whose column
      // command can issue soonest, ties to the oldest; the scan stops at one
      // meeting the column-bus lower bound. FCFS: the oldest, once ready.
      const int64_t bound = std::max(now, p.last_cas + m_t.tCCD_S);
      const size_t n = m_fr_fcfs ? p.queue.size() : 1;
      size_t pick = n;
      int64_t best = std::numeric_limits<int64_t>::max();
      plan best_plan{};
      // Cheap filter before the full plan: ACT limits of the pseudo-channel
      // (tRRD_S, tFAW) and of the bank (tRP, refresh).
      const int64_t pc_act = std::max(p.last_act + m_t.tRRD_S, p.faw[p.faw_next] + m_t.tFAW);
      if ((full || p.hits == 0) && pc_act > now) {  // no hit may go and no ACT can issue
        wake = std::min(wake, pc_act);
        break;
      }
      if ((full || p.hits == 0) && p.closed == 0) break;  // no hit may go and no bank to open
      ++m_scan;
      // Banks that can hold a candidate: closed ones (misses) and, unless the
      // lookahead is full, those with queued row hits. Bursts to the other
      // banks are skipped without reading their bank state (a filter only:
      // the checks below decide; up to 64 banks, else every bank passes).
      const uint64_t may_go = p.banks.size() <= 64 ? p.closed_banks | (full ? 0 : p.hit_banks) : ~uint64_t{0};
      const burst* queued = &p.queue[0];  // contiguous (fifo_buffer)
      for (size_t i = 0; i < n; ++i) {
        const burst& b = queued[i];
        if (!((may_go >> (b.bank & 63)) & 1)) continue;
        const bank_state& k = p.banks[static_cast<size_t>(b.bank)];
        const bool hit = k.open_row == b.row;
        if (hit ? full : k.open_row >= 0) continue;  // a conflict waits for its PRE (above)
        if (!hit && std::max(pc_act, k.earliest_act) > now) {
          wake = std::min(wake, std::max(pc_act, k.earliest_act));
          continue;
        }
        const bool read = b.read;
        if (!hit) {
          // The plan of a miss whose bank may activate now depends only on its
          // bank group and direction: a younger one with the same pair cannot
          // win, nor add a new wake-up.
          uint64_t& seen = m_miss_seen[static_cast<size_t>(b.bg * 2 + read)];
          if (seen == m_scan) continue;
          seen = m_scan;
        }
        const plan pl = plan_burst(p, b, read, now);
        if (!hit && pl.act > now) {  // tRRD_L
          wake = std::min(wake, pl.act);
          continue;
        }
        if (pl.cas < best) {
          best = pl.cas;
          pick = i;
          best_plan = pl;
          if (best <= bound) break;  // none can do better
        }
      }
      if (pick == n) break;
      const int bank = queued[pick].bank;
      const int64_t acts = p.last_act;
      commit(p, pick, best_plan, now);
      const bank_state& k = p.banks[static_cast<size_t>(bank)];
      pre_pass = !m_fr_fcfs || p.last_act != acts || (k.open_row >= 0 && k.hits == 0 && k.queued > 0);
    }
  }
  if (wake != std::numeric_limits<int64_t>::max()) m_wake.notify(at_cycle(wake) - sc_core::sc_time_stamp());
}

// Queued row hits per bank and per pseudo-channel (FR-FCFS keeps a row open
// while hits for it are queued; no hits and no ready ACT: nothing to scan).
void hbm_channel::set_hits(pc_state& p, int bank, int hits) {
  bank_state& k = p.banks[static_cast<size_t>(bank)];
  p.hits += hits - k.hits;
  k.hits = hits;
  update_pre_wanted(p, bank);
}

inline void hbm_channel::update_pre_wanted(pc_state& p, int bank) {
  const bank_state& k = p.banks[static_cast<size_t>(bank)];
  const uint64_t bit = uint64_t{1} << (bank % 64);
  uint64_t& w = p.pre_wanted[static_cast<size_t>(bank / 64)];
  w = (k.open_row >= 0 && k.queued > k.hits) ? w | bit : w & ~bit;
  const uint64_t low = bank < 64 ? bit : 0;  // the masks hold the first 64 banks
  p.closed_banks = k.open_row < 0 ? p.closed_banks | low : p.closed_banks & ~low;
  p.hit_banks = k.hits > 0 ? p.hit_banks | low : p.hit_banks & ~low;
}

// PRE of a bank holding another row than queued bursts want; their ACT
// follows tRP later and counts as a row conflict.
void hbm_channel::precharge(pc_state& p, int bank, int64_t t) {
  bank_state& k = p.banks[static_cast<size_t>(bank)];
  k.open_row = -1;
  p.closed += k.queued;
  set_hits(p, bank, 0);
  k.earliest_act = std::max(k.earliest_act, t + m_t.tRP);
  k.conflict = true;
}

// Earliest legal command times for burst b decided at cycle t, given the
// bank and pseudo-channel state (all in tCK; JESD235/JESD238 constraints).
// The bank holds b's row (hit) or is closed (miss: ACT first); a bank holding
// another row is precharged by schedule() before b is planned.
hbm_channel::plan hbm_channel::plan_burst(const pc_state& p, const burst& b, bool read, int64_t t) const {
  const bank_state& k = p.banks[static_cast<size_t>(b.bank)];
  const size_t bg = static_cast<size_t>(b.bg);
  plan r{true, -1, 0};
  int64_t cas_min;
  if (k.open_row == b.row) {
    cas_min = std::max(t, k.earliest_cas);  // tRCD of the ACT that opened the row
  } else {
    // tRP after PRE or refresh; ACTs in order: tRRD_S any bank, tRRD_L same
    // bank group, at most four per tFAW.
    r.hit = false;
    r.act = std::max(
        {t, k.earliest_act, p.last_act + m_t.tRRD_S, p.last_act_bg[bg] + m_t.tRRD_L, p.faw[p.faw_next] + m_t.tFAW});
    cas_min = r.act + m_t.tRCD;
  }
  // Column commands in order: tCCD_S any bank group, tCCD_L same group.
  int64_t cas = std::max({cas_min, p.last_cas + m_t.tCCD_S, p.last_cas_bg[bg] + m_t.tCCD_L});
  if (read) {
    // Write-to-read turnaround from the end of write data; data bus free.
    cas = std::max({cas, p.last_wr_end + m_t.tWTR_S, p.last_wr_end_bg[bg] + m_t.tWTR_L, p.data_free - m_t.tCL});
  } else {
    // Read-to-write turnaround (tRTW) from the last READ; data bus free.
    cas = std::max({cas, p.last_rd + m_t.tRTW, p.data_free - m_t.tWL});
  }
  r.cas = cas;
  return r;
}

void hbm_channel::commit(pc_state& p, size_t index, plan pl, int64_t t) {
  const burst b = p.queue[index];
  const bool read = b.read;
  // A refresh falls due before the burst's first command: refresh first.
  while ((pl.hit ? pl.cas : pl.act) >= m_next_refresh) {
    refresh(m_next_refresh);
    pl = plan_burst(p, b, read, t);
  }
  bank_state& k = p.banks[static_cast<size_t>(b.bank)];
  const size_t bg = static_cast<size_t>(b.bg);
  if (pl.act >= 0) {
    p.closed -= k.queued;
    k.open_row = b.row;
    k.earliest_cas = pl.act + m_t.tRCD;
    k.earliest_pre = pl.act + m_t.tRAS;
    p.last_act = pl.act;
    p.last_act_bg[bg] = pl.act;
    p.faw[p.faw_next] = pl.act;
    p.faw_next = (p.faw_next + 1) % 4;
  }
  p.last_cas = pl.cas;
  p.last_cas_bg[bg] = pl.cas;
  int64_t data_end;
  if (read) {
    data_end = pl.cas + m_t.tCL + m_t.tBURST;
    p.last_rd = pl.cas;
    k.earliest_pre = std::max(k.earliest_pre, pl.cas + m_t.tRTP);
  } else {
    data_end = pl.cas + m_t.tWL + m_t.tBURST;
    p.last_wr_end = data_end;
    p.last_wr_end_bg[bg] = data_end;
    k.earliest_pre = std::max(k.earliest_pre, data_end + m_t.tWR);
  }
  p.data_free = data_end;
  p.pending_cas.push_back(pl.cas);
  (pl.hit ? m_hits : k.conflict ? m_conflicts : m_misses)++;
  k.conflict = false;
  --k.queued;
  p.queue.erase(index);
  if (pl.act >= 0) {  // a new open row: count the queued bursts it serves
    int hits = 0;
    for (size_t i = 0; i < p.queue.size(); ++i) hits += p.queue[i].bank == b.bank && p.queue[i].row == b.row;
    set_hits(p, b.bank, hits);
  } else {
    set_hits(p, b.bank, k.hits - 1);
  }
  request& q = m_reqs[static_cast<size_t>(b.req)];
  q.done = std::max(q.done, data_end);
  if (--q.bursts_unscheduled == 0) finish_request(b.req, true);
}

// All-bank refresh due at `due`: precharge the open banks (after their tRAS,
// tRTP, tWR), then the channel is blocked for tRFC.
void hbm_channel::refresh(int64_t due) {
  int64_t start = due;
  bool any_open = false;
  for (const auto& p : m_pcs)
    for (const auto& k : p.banks)
      if (k.open_row >= 0) {
        any_open = true;
        start = std::max(start, k.earliest_pre);
      }
  const int64_t end = start + (any_open ? m_t.tRP : 0) + m_t.tRFC;
  for (auto& p : m_pcs) {
    p.closed = 0;
    for (auto& k : p.banks) {
      k.open_row = -1;
      k.hits = 0;
      k.earliest_act = std::max(k.earliest_act, end);
      p.closed += k.queued;
    }
    p.hits = 0;
    std::fill(p.pre_wanted.begin(), p.pre_wanted.end(), 0);
    p.closed_banks = ~uint64_t{0};
    p.hit_banks = 0;
  }
  m_next_refresh = due + m_t.tREFI;
  ++m_refreshes;
  if (m_trace) m_trace->complete(m_track, m_ev_refresh, cycles_ns(start), cycles_ns(end - start));
}

void hbm_channel::finish_request(int r, bool queued) {
  const int64_t done = m_reqs[static_cast<size_t>(r)].done;
  if (m_responses.empty() || done < m_responses.top().done)
    m_resp_event.notify(at_cycle(done) - sc_core::sc_time_stamp());
  m_responses.push({done, m_seq++, r});
  if (!queued) return;
  --m_queued;
  if (m_slot_waiters > 0) m_slot_freed.notify(SC_ZERO_TIME);
  if (m_blocked) {
    tlm::tlm_generic_payload* trans = m_blocked;
    m_blocked = nullptr;
    accept(*trans, nullptr);
    tlm::tlm_phase ph = tlm::END_REQ;
    sc_time d = SC_ZERO_TIME;
    port_in->nb_transport_bw(*trans, ph, d);
  }
}

void hbm_channel::send_responses() {
  const int64_t now = now_cycle();
  while (!m_responses.empty() && m_responses.top().done <= now) {
    m_resp_ready.push_back(m_responses.top().req);
    m_responses.pop();
  }
  if (!m_responses.empty()) m_resp_event.notify(at_cycle(m_responses.top().done) - sc_core::sc_time_stamp());
  drain_responses();
}

void hbm_channel::drain_responses() {
  while (!m_resp_busy && !m_resp_ready.empty()) {
    const int r = m_resp_ready.front();
    m_resp_ready.pop_front();
    request& q = m_reqs[static_cast<size_t>(r)];
    const double now_ns = to_ns(sc_core::sc_time_stamp());
    if (q.trans->get_response_status() == tlm::TLM_OK_RESPONSE) {
      if (q.read) m_read_latency.add(now_ns - q.arrival_ns);
      m_last_done_ns = std::max(m_last_done_ns, now_ns);
      if (m_trace) m_trace->complete(m_track, q.read ? m_ev_read : m_ev_write, q.arrival_ns, now_ns - q.arrival_ns);
    }
    if (q.blocking_done) {
      q.blocking_done->notify(SC_ZERO_TIME);
      response_done(r);
      continue;
    }
    tlm::tlm_generic_payload& trans = *q.trans;
    tlm::tlm_phase ph = tlm::BEGIN_RESP;
    sc_time d = SC_ZERO_TIME;
    m_resp_inflight = r;
    m_resp_busy = true;
    const tlm::tlm_sync_enum s = port_in->nb_transport_bw(trans, ph, d);
    if (s == tlm::TLM_COMPLETED || (s == tlm::TLM_UPDATED && ph == tlm::END_RESP)) {
      m_resp_busy = false;
      response_done(r);
    }
  }
}

void hbm_channel::response_done(int r) {
  request& q = m_reqs[static_cast<size_t>(r)];
  if (q.trans->has_mm()) q.trans->release();
  q.trans = nullptr;
  q.blocking_done = nullptr;
  m_free_reqs.push_back(r);
}

// ------------------------------------------------------------------ statistics

void hbm_channel::describe_pending(std::string& out) const {
  if (m_queued == 0 && m_responses.empty() && !m_resp_busy && !m_blocked) return;
  std::string bursts;
  for (size_t i = 0; i < m_pcs.size(); ++i) bursts += (i ? "/" : "") + std::to_string(m_pcs[i].queue.size());
  out += "\n  " + std::string(name()) + ": " + std::to_string(m_queued) + " requests with bursts unscheduled (" +
         bursts + " bursts queued per pseudo-channel), " + std::to_string(m_responses.size()) +
         " responses to send" + (m_resp_busy ? ", END_RESP pending" : "") +
         (m_blocked ? ", a BEGIN_REQ waiting for a queue slot" : "");
}

void hbm_channel::report_stats(stats_writer& out) const {
  const std::string g = name();
  out.text(g, "mode", m_lt ? "lt" : "at", "timing model of this channel");
  if (m_lt)
    out.text(g, "approximation",
             "LT: calibrated latency plus bandwidth occupancy at peak * efficiency; ignores bank conflicts, "
             "row-buffer state, read/write turnaround and refresh",
             "what this mode leaves out");
  out.scalar(g, "reads", static_cast<double>(m_reads), "requests", "read requests served");
  out.scalar(g, "writes", static_cast<double>(m_writes), "requests", "write requests served");
  out.scalar(g, "bytes", static_cast<double>(m_bytes), "B", "bytes read and written");
  out.scalar(g, "errors", static_cast<double>(m_errors), "requests", "requests answered with an error status");
  if (!m_lt) {
    const double bursts = static_cast<double>(m_hits + m_misses + m_conflicts);
    out.scalar(g, "row_hits", static_cast<double>(m_hits), "bursts", "column accesses to the open row");
    out.scalar(g, "row_misses", static_cast<double>(m_misses), "bursts", "column accesses to a closed bank (ACT)");
    out.scalar(g, "row_conflicts", static_cast<double>(m_conflicts), "bursts",
               "column accesses while another row was open (PRE + ACT)");
    out.scalar(g, "row_hit_rate", bursts > 0 ? static_cast<double>(m_hits) / bursts : 0.0, "",
               "row_hits / all column accesses");
    uint64_t refreshes = m_refreshes;
    const int64_t now = now_cycle();
    if (m_cfg.refresh && m_next_refresh <= now)
      refreshes += static_cast<uint64_t>((now - m_next_refresh) / m_t.tREFI + 1);
    out.scalar(g, "refreshes", static_cast<double>(refreshes), "", "all-bank refreshes (tRFC each) up to now");
  }
  out.distribution(g, "read_latency", m_read_latency, "ns", "read request arrival to response");
  const double span = m_last_done_ns - std::max(0.0, m_first_arrival_ns);
  out.scalar(g, "achieved_gbps", span > 0 ? static_cast<double>(m_bytes) / span : 0.0, "GB/s",
             "bytes / (last response - first arrival)");
  out.scalar(g, "peak_gbps", m_cfg.peak_gbps(), "GB/s", "peak bandwidth of the channel");
}

}  // namespace npuvp
