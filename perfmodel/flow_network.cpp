#include "perfmodel/flow_network.h"

#include <algorithm>

#include "platform/base/error.h"

namespace npuvp::perf {

const char* bound_name(bound b) {
  switch (b) {
    case bound::compute:
      return "compute";
    case bound::hbm:
      return "hbm";
    case bound::noc:
      return "noc";
    case bound::sram:
      return "sram";
    case bound::dma_issue:
      return "dma_issue";
    case bound::latency:
      return "latency";
    case bound::sync:
      return "sync";
  }
  return "?";
}

int flow_network::add_resource(double capacity, bound kind, double penalty, double flow_penalty) {
  if (!(capacity > 0)) throw error("flow network: resource capacity must be positive");
  resource r;
  r.capacity = capacity;
  r.kind = kind;
  r.penalty = penalty;
  r.flow_penalty = flow_penalty;
  m_res.push_back(r);
  return static_cast<int>(m_res.size()) - 1;
}

int flow_network::start(std::vector<usage> path, double bytes, double cap, double now, uint64_t stream, double window,
                        double rtt0) {
  if (!(cap > 0) || cap == std::numeric_limits<double>::infinity())
    throw error("flow network: a flow needs a finite positive rate cap");
  advance(now);
  flow f;
  f.path = std::move(path);
  f.remaining = f.total = bytes;
  f.cap = f.issue_cap = cap;
  f.window = window;
  f.rtt0 = rtt0;
  f.stream = stream;
  f.active = true;
  m_flows.push_back(std::move(f));
  const int id = static_cast<int>(m_flows.size()) - 1;
  m_active.push_back(id);
  recompute();
  return id;
}

double flow_network::next_finish() const {
  double t = std::numeric_limits<double>::infinity();
  for (int id : m_active) {
    const flow& f = m_flows[id];
    t = std::min(t, m_now + f.remaining / f.rate);
  }
  return t;
}

void flow_network::advance(double now) {
  const double dt = now - m_now;
  if (dt <= 0) return;
  for (int id : m_active) {
    flow& f = m_flows[id];
    const double moved = std::min(f.remaining, f.rate * dt);
    f.remaining -= moved;
    f.times[static_cast<int>(f.limit)] += dt;
    for (const usage& u : f.path) m_res[u.resource].bytes += moved * u.share;
  }
  m_now = now;
}

std::vector<int> flow_network::finish_drained(double now) {
  advance(now);
  std::vector<int> done;
  for (int id : m_active) {
    const flow& f = m_flows[id];
    // Drained up to rounding: less than a millionth of a byte or of a picosecond at its rate.
    if (f.remaining <= 1e-6 + 1e-12 * f.total || f.remaining <= f.rate * 1e-6) done.push_back(id);
  }
  if (done.empty()) return done;
  for (int id : done) {
    m_flows[id].active = false;
    std::vector<usage>().swap(m_flows[id].path);  // only the bound times are kept
  }
  m_active.erase(std::remove_if(m_active.begin(), m_active.end(), [&](int id) { return !m_flows[id].active; }),
                 m_active.end());
  recompute();
  return done;
}

// Weighted progressive filling: raise every unfrozen flow's rate in
// proportion to its cap (rate = level x cap) until a resource saturates or the
// flows reach their caps (level 1); freeze the flows that cross a saturated
// resource and repeat with the rest.
void flow_network::recompute() {
  ++m_recomputations;
  std::vector<int>& touched = m_touched;  // scratch, kept between calls (no allocation per event)
  touched.clear();
  for (int id : m_active) {
    flow& f = m_flows[id];
    f.frozen = false;
    f.rate = 0;
    for (const usage& u : f.path) {
      resource& r = m_res[u.resource];
      if (r.users++ == 0) {
        touched.push_back(u.resource);
        r.load = 0;
        r.streams.clear();
      }
      if ((r.penalty > 0 || r.stream_latency > 0) &&
          std::find(r.streams.begin(), r.streams.end(), f.stream) == r.streams.end())
        r.streams.push_back(f.stream);
    }
  }
  // Caps of window-limited flows from their loaded round trip, then the loads.
  for (int id : m_active) {
    flow& f = m_flows[id];
    if (f.window > 0) {
      double rtt = f.rtt0;
      for (const usage& u : f.path) {
        const resource& r = m_res[u.resource];
        if (r.stream_latency > 0) rtt += u.share * r.stream_latency * double(r.streams.size() - 1);
      }
      f.cap = std::min(f.issue_cap, f.window / rtt);
    }
    for (const usage& u : f.path) m_res[u.resource].load += u.coef * f.cap;
  }
  for (int ri : touched) {
    resource& r = m_res[ri];
    const double streams = r.streams.empty() ? 1.0 : double(r.streams.size());
    r.rem = r.capacity / (1.0 + r.penalty * (streams - 1) + r.flow_penalty * (r.users - 1));
  }
  double level = 0;
  size_t unfrozen = m_active.size();
  while (unfrozen > 0) {
    double step = std::numeric_limits<double>::infinity();
    for (int ri : touched) {
      const resource& r = m_res[ri];
      if (r.load > 1e-9 * r.capacity) step = std::min(step, r.rem / r.load);  // above rounding residue
    }
    for (int id : m_active)
      if (!m_flows[id].frozen) step = std::min(step, 1.0 - level);
    step = std::max(step, 0.0);
    level += step;
    for (int ri : touched) m_res[ri].rem -= step * m_res[ri].load;
    const size_t before = unfrozen;
    for (int id : m_active) {
      flow& f = m_flows[id];
      if (f.frozen) continue;
      bool freeze = false;
      if (level >= 1 - 1e-12) {
        freeze = true;
        f.limit = bound::dma_issue;
      } else {
        for (const usage& u : f.path) {
          const resource& r = m_res[u.resource];
          if (u.coef > 0 && r.rem <= 1e-12 * r.capacity) {
            freeze = true;
            f.limit = r.kind;
            break;
          }
        }
      }
      if (!freeze) continue;
      f.frozen = true;
      f.rate = level * f.cap;
      --unfrozen;
      for (const usage& u : f.path) m_res[u.resource].load -= u.coef * f.cap;
    }
    if (unfrozen == before && step <= 0)  // only rounding left: keep the current level
      for (int id : m_active)
        if (!m_flows[id].frozen) {
          m_flows[id].frozen = true;
          m_flows[id].rate = level * m_flows[id].cap;
          --unfrozen;
        }
  }
  for (int ri : touched) m_res[ri].users = 0;
}

}  // namespace npuvp::perf
