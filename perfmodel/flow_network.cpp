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

int flow_network::add_resource(double capacity, bound kind, double penalty, double flow_penalty, bool link) {
  if (!(capacity > 0)) throw error("flow network: resource capacity must be positive");
  resource r;
  r.capacity = capacity;
  r.kind = kind;
  r.penalty = penalty;
  r.flow_penalty = flow_penalty;
  r.link = link;
  m_res.push_back(r);
  m_bytes.push_back(0);
  return static_cast<int>(m_res.size()) - 1;
}

void flow_network::set_stream_latency(int r, double ns_per_stream) {
  if (!m_paths.empty()) throw error("flow network: stream latencies are set before any path is added");
  m_res[r].stream_latency = ns_per_stream;
}

int flow_network::add_path(std::vector<usage> path, int owner, double max_rate) {
  if (m_sealed) throw error("flow network: a path added after seal()");
  path_info p;
  for (const usage& u : path)
    if (u.resource < 0 || u.resource >= resources())
      throw error("flow network: a path names resource " + std::to_string(u.resource) + " of " +
                  std::to_string(resources()));
  p.hbm = std::any_of(path.begin(), path.end(), [&](const usage& u) { return m_res[u.resource].kind == bound::hbm; });
  p.uses = std::move(path);
  p.live = p.uses.size();
  p.owner = owner;
  p.max_rate = max_rate;
  note_queueing(p);
  m_paths.push_back(std::move(p));
  return static_cast<int>(m_paths.size()) - 1;
}

void flow_network::seal() {
  if (m_sealed) return;
  if (!m_flows.empty()) throw error("flow network: seal() after a flow started");
  m_sealed = true;
  // Per resource: the sum over owners of the largest coef x max_rate of the
  // owner's paths through it (a usage's coef only falls as its row group
  // grows), and how many owners reach it (at most that many flows, so
  // streams, cross it at once).
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> load(m_res.size(), 0.0), best(m_res.size(), -1.0);  // best < 0: not crossed yet
  std::vector<int> owners(m_res.size(), 0), touched;
  std::vector<int> order(m_paths.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return m_paths[size_t(a)].owner < m_paths[size_t(b)].owner; });
  int max_owner = -1;
  for (size_t i = 0; i < order.size();) {
    const int owner = m_paths[size_t(order[i])].owner;
    max_owner = std::max(max_owner, owner);
    size_t j = i;
    for (; j < order.size() && m_paths[size_t(order[j])].owner == owner; ++j)
      for (const usage& u : m_paths[size_t(order[j])].uses) {
        const double l = owner < 0 ? inf : u.coef * m_paths[size_t(order[j])].max_rate;
        if (best[u.resource] < 0) touched.push_back(u.resource);
        best[u.resource] = std::max(best[u.resource], l);
      }
    for (int r : touched) {
      load[r] += best[r];
      ++owners[r];
      best[r] = -1;
    }
    touched.clear();
    i = j;
  }
  m_owner_flow.assign(size_t(max_owner + 1), -1);
  // Never tight: with n flows at most, its free capacity at the worst
  // penalties exceeds that load by far more than the tight test's margin.
  std::vector<char> out(m_res.size(), 0);
  for (size_t ri = 0; ri < m_res.size(); ++ri) {
    const resource& r = m_res[ri];
    const double n = double(std::max(owners[ri], 1));
    const double divisor = 1.0 + (r.penalty + r.flow_penalty) * (n - 1);
    out[ri] = r.stream_latency == 0 && std::isfinite(load[ri]) &&
              r.capacity >= divisor * ((1 + 1e-3) * load[ri] + 2e-6 * r.capacity);
  }
  // Lazy: no stream penalty, no queueing and no usage with shared rows.
  for (resource& r : m_res) r.lazy = r.penalty == 0 && r.stream_latency == 0, r.listing = !r.lazy;
  for (const path_info& p : m_paths)
    for (const usage& u : p.uses)
      if (u.locality < 1) m_res[u.resource].lazy = false, m_res[u.resource].listing = true;
  std::vector<usage> left_out;
  for (path_info& p : m_paths) {
    // The resources that stay first, each part in resource-id order as before.
    left_out.clear();
    p.live = 0;
    for (const usage& u : p.uses)
      if (out[u.resource])
        left_out.push_back(u);
      else
        p.uses[p.live++] = u;
    std::copy(left_out.begin(), left_out.end(), p.uses.begin() + std::ptrdiff_t(p.live));
    p.sorted = std::is_sorted(p.uses.begin(), p.uses.begin() + std::ptrdiff_t(p.live),
                              [](const usage& a, const usage& b) { return a.resource < b.resource; });
    // p.queueing stays as add_path() noted it: a queueing resource is never
    // left out, and the usages that stay keep their order.
  }
}

void flow_network::note_queueing(path_info& p) const {
  p.queueing.clear();
  p.queueing.reserve(p.live);
  for (size_t k = 0; k < p.live; ++k)
    if (const double ns = m_res[p.uses[k].resource].stream_latency; ns > 0)
      p.queueing.push_back({p.uses[k].resource, p.uses[k].share * ns});
}

int flow_network::start(int path, double bytes, double cap, double now, uint64_t stream, double window, double rtt0,
                        uint64_t row_group) {
  if (!(cap > 0) || cap == std::numeric_limits<double>::infinity())
    throw error("flow network: a flow needs a finite positive rate cap");
  if (path < 0 || path >= static_cast<int>(m_paths.size()))
    throw error("flow network: no path " + std::to_string(path));
  if (m_sealed) {
    const path_info& p = m_paths[size_t(path)];
    if (cap > p.max_rate * (1 + 1e-9)) throw error("flow network: a flow's cap is above its path's max_rate");
    if (p.owner >= 0 && m_owner_flow[size_t(p.owner)] >= 0)
      throw error("flow network: two flows of owner " + std::to_string(p.owner) + " at once");
  }
  advance(now);
  flow f;
  f.path = path;
  f.remaining = f.total = bytes;
  f.cap = f.issue_cap = f.weight = cap;
  f.window = window;
  f.rtt0 = rtt0;
  f.stream = stream;
  f.row_group = row_group;
  f.active = true;
  m_flows.push_back(std::move(f));
  const int id = static_cast<int>(m_flows.size()) - 1;
  m_active.push_back(id);
  if (m_sealed && m_paths[size_t(path)].owner >= 0) m_owner_flow[size_t(m_paths[size_t(path)].owner)] = id;
  attach(id);
  recompute();
  return id;
}

void flow_network::add_bytes(const std::vector<double>& bytes, double times) {
  for (size_t r = 0; r < m_bytes.size(); ++r) m_bytes[r] += times * bytes[r];
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
  }
  m_now = now;
}

const std::vector<int>& flow_network::finish_drained(double now) {
  advance(now);
  std::vector<int>& done = m_done;
  done.clear();
  for (int id : m_active) {
    const flow& f = m_flows[id];
    // Drained up to rounding: less than a millionth of a byte or of a picosecond at its rate.
    if (f.remaining <= 1e-6 + 1e-12 * f.total || f.remaining <= f.rate * 1e-6) done.push_back(id);
  }
  if (done.empty()) return done;
  for (int id : done) {
    flow& f = m_flows[id];
    detach(id);
    f.active = false;
    const path_info& p = m_paths[size_t(f.path)];
    if (m_sealed && p.owner >= 0) m_owner_flow[size_t(p.owner)] = -1;
    for (const usage& u : p.uses)  // every resource crossed, taking part or not
      if (u.share != 0) m_bytes[size_t(u.resource)] += (f.total - f.remaining) * u.share;
  }
  m_active.erase(std::remove_if(m_active.begin(), m_active.end(), [&](int id) { return !m_flows[id].active; }),
                 m_active.end());
  recompute();
  return done;
}

void flow_network::mark_stale(int ri) {
  resource& r = m_res[ri];
  if (r.stale) return;
  r.stale = true;
  m_stale.push_back(ri);
}

// The flows of resource ri changed: unless their issue caps leave it
// clearly slack it waits for recompute()'s exact sums (and joins the
// resources any cap change sends there). Called for every resource a flow
// crosses as it starts and ends: the test is a multiplication, and the
// free capacity is only divided out for those summed.
inline void flow_network::changed(int ri) {
  resource& r = m_res[ri];
  // A flow's cap never exceeds its issue cap, so with their load below the
  // free capacity (with margins far above the running sum's rounding: two
  // millionths of it and of the capacity) it is slack whatever the caps.
  const bool slack = r.flows == 0 || r.capacity >= penalty_divisor(r) * ((1 + 2e-6) * r.upper_load + 2e-6 * r.capacity);
  if (r.flows == 0) r.upper_load = 0;
  if (slack) r.tight = false;
  if (slack != (r.unsafe_at < 0)) set_unsafe(ri, !slack);
  if (!slack) mark_stale(ri);
}

void flow_network::set_unsafe(int ri, bool unsafe) {
  resource& r = m_res[ri];
  if (unsafe) {
    r.unsafe_at = static_cast<int>(m_unsafe.size());
    m_unsafe.push_back(ri);
    if (!r.listing) {  // its users, from the active flows (all attached, in id order)
      r.listing = true;
      for (int id : m_active) {
        const int k = position(m_flows[id], ri);
        if (k >= 0) r.users.push_back({id, k, uses_of(m_flows[id])[size_t(k)].coef});
      }
    }
    return;
  }
  m_res[m_unsafe.back()].unsafe_at = r.unsafe_at;  // swap with the last
  m_unsafe[size_t(r.unsafe_at)] = m_unsafe.back();
  m_unsafe.pop_back();
  r.unsafe_at = -1;
}

int flow_network::position(const flow& f, int ri) const {
  const uses_view path = uses_of(f);
  if (m_paths[size_t(f.path)].sorted) {
    const usage* u =
        std::lower_bound(path.begin(), path.end(), ri, [](const usage& x, int r) { return x.resource < r; });
    return u != path.end() && u->resource == ri ? static_cast<int>(u - path.begin()) : -1;
  }
  for (size_t k = 0; k < path.size(); ++k)
    if (path[k].resource == ri) return static_cast<int>(k);
  return -1;
}

// Flow `id` joins the users (and streams, row groups) of the resources on its path.
void flow_network::attach(int id) {
  const flow& f = m_flows[id];
  const uses_view path = uses_of(f);
  for (const usage& u : path) {
    resource& r = m_res[u.resource];
    ++r.flows;
    r.upper_load += u.coef * f.issue_cap;
    // The largest id so far: the list stays in id order.
    if (r.listing) r.users.push_back({id, static_cast<int>(&u - path.begin()), u.coef});
    if (r.lazy) {  // no streams, no row groups
      changed(u.resource);
      continue;
    }
    if (r.penalty > 0 || r.stream_latency > 0) {
      auto it = std::find_if(r.streams.begin(), r.streams.end(), [&](const auto& s) { return s.first == f.stream; });
      if (it == r.streams.end())
        r.streams.push_back({f.stream, 1});
      else
        ++it->second;
    }
    if (grouped(f, u)) {
      auto it = std::find_if(r.groups.begin(), r.groups.end(), [&](const auto& g) { return g.first == f.row_group; });
      if (it == r.groups.end()) {
        r.groups.push_back({f.row_group, 1});
      } else {
        const int n = ++it->second;
        regroup(u.resource, f.row_group, n);
      }
    }
    changed(u.resource);
  }
}

void flow_network::detach(int id) {
  const flow& f = m_flows[id];
  for (const usage& u : uses_of(f)) {
    resource& r = m_res[u.resource];
    --r.flows;
    if (r.listing) {  // (a lazy resource's coef is the usage's: no shared rows)
      const auto me = std::find_if(r.users.begin(), r.users.end(), [&](const user& x) { return x.flow == id; });
      r.upper_load -= me->coef * f.issue_cap;
      r.users.erase(me);
    } else {
      r.upper_load -= u.coef * f.issue_cap;
    }
    if (r.lazy) {  // no streams, no row groups
      r.listing = r.listing && r.flows > 0;
      changed(u.resource);
      continue;
    }
    if (r.penalty > 0 || r.stream_latency > 0) {
      auto it = std::find_if(r.streams.begin(), r.streams.end(), [&](const auto& s) { return s.first == f.stream; });
      if (--it->second == 0) r.streams.erase(it);
    }
    if (grouped(f, u)) {
      auto it = std::find_if(r.groups.begin(), r.groups.end(), [&](const auto& g) { return g.first == f.row_group; });
      const int n = --it->second;
      if (n == 0)
        r.groups.erase(it);
      else
        regroup(u.resource, f.row_group, n);
    }
    changed(u.resource);
  }
}

int flow_network::group_count(const resource& r, uint64_t group) const {
  for (const auto& g : r.groups)
    if (g.first == group) return g.second;
  return 1;
}

void flow_network::regroup(int ri, uint64_t group, int n) {
  resource& r = m_res[ri];
  double locality = -1, factor = 1;  // the factor of the last locality met (a group's usages have one, as a rule)
  for (user& x : r.users) {
    const flow& g = m_flows[x.flow];
    const usage& u = uses_of(g)[size_t(x.pos)];
    if (g.row_group != group || !grouped(g, u)) continue;
    if (n > 1 && u.locality != locality) locality = u.locality, factor = row_factor(locality, n);
    const double coef = n <= 1 ? u.coef : u.coef * factor;  // shared_coef(u, n), one pow per locality
    r.upper_load += (coef - x.coef) * g.issue_cap;
    x.coef = coef;
  }
}

// Weighted progressive filling: raise every unfrozen flow's rate in
// proportion to its weight (rate = level x weight) until a resource saturates
// or flows reach their caps (level cap / weight); freeze those flows and repeat
// with the rest. All flows share one level, so the filling stays global (per
// connected component, the levels would round differently); what is kept
// between calls is only what a full pass would recompute to the same bits. A
// resource with more capacity than its flows can take at their caps (slack,
// by a millionth) can neither saturate nor bound a step before they reach
// them: one of its flows reaches its cap first, or its rates would exceed
// their caps when it saturates. Only the others (tight) take part, which
// leaves every rate and limit as they were.
void flow_network::recompute() {
  // Caps and weights of window-limited flows from their loaded round trip; a
  // change changes the loads on its path (of those not clearly slack).
  std::vector<int>& capped = m_capped;
  capped.clear();
  size_t capped_uses = 0;
  for (int id : m_active) {
    flow& f = m_flows[id];
    f.frozen = false;
    if (!(f.window > 0) && !f.refresh_capped) continue;
    f.refresh_capped = false;
    double cap = f.issue_cap, weight = f.issue_cap;
    const path_info& p = m_paths[size_t(f.path)];
    if (f.window > 0) {
      double rtt = f.rtt0;
      for (const auto& [ri, ns] : p.queueing) rtt += ns * double(m_res[size_t(ri)].streams.size() - 1);
      cap = std::min(f.issue_cap, f.window / rtt);
      weight = std::min(f.issue_cap, f.window / (rtt + m_share_queue_ns));
    }
    if (cap == f.cap && weight == f.weight) continue;
    capped.push_back(id);
    capped_uses += p.live;
    f.cap = cap;
    f.weight = weight;
    f.cap_level = cap / weight;
  }
  // Those resources are summed again: found on the changed flows' paths, or
  // all the resources not clearly slack, whichever is likely shorter (a few
  // flows on long paths; many flows changing at once). The extra sums repeat
  // the same additions.
  if (capped_uses > 0 && capped_uses < m_unsafe.size() * std::max<size_t>(1, m_active.size() / 2)) {
    for (int id : capped)
      for (const usage& u : uses_of(m_flows[id]))
        if (m_res[u.resource].unsafe_at >= 0) mark_stale(u.resource);
  } else if (capped_uses > 0) {
    for (int ri : m_unsafe) mark_stale(ri);
  }
  fill();
  if (m_refresh_interval > 0 && stall_refreshed()) {
    for (int id : m_active) m_flows[id].frozen = false;
    fill();
    for (const auto& stalled : m_stalled) {  // a flow at its refresh cap keeps the bound it had
      flow& f = m_flows[stalled.first];
      if (f.limit == bound::dma_issue) f.limit = f.refresh_limit;
    }
  }
}

// The flows an HBM refresh stalls (set_refresh) keep their share of the time
// between refreshes. Where one of them shares a tight resource with a flow
// it does not stall, that flow may take what it leaves: the stalled flows
// then get their share as a cap, and a second filling follows (returns
// true); otherwise their rates just fall.
bool flow_network::stall_refreshed() {
  std::vector<std::pair<int, double>>& stalled = m_stalled;
  stalled.clear();
  for (int id : m_active) {
    flow& f = m_flows[id];
    if (f.limit == bound::hbm || !m_paths[size_t(f.path)].hbm) continue;
    const double stall = m_refresh_blocked - f.window / f.rate;
    if (!(stall > 0)) continue;
    stalled.push_back({id, f.rate * (1.0 - stall / m_refresh_interval)});
    f.marked = true;
  }
  bool shared = false;
  if (!stalled.empty())
    for (int ri : m_tight) {
      const std::vector<user>& users = m_res[ri].users;
      const auto stalls = [&](const user& x) { return m_flows[x.flow].marked; };
      shared = std::any_of(users.begin(), users.end(), stalls) && !std::all_of(users.begin(), users.end(), stalls);
      if (shared) break;
    }
  for (const auto& [id, rate] : stalled) {
    flow& f = m_flows[id];
    f.marked = false;
    if (!shared) {
      f.rate = rate;
      continue;
    }
    f.cap = rate;
    f.cap_level = f.cap / f.weight;
    f.refresh_capped = true;
    f.refresh_limit = f.limit;
    for (const usage& u : uses_of(f))
      if (m_res[u.resource].unsafe_at >= 0) mark_stale(u.resource);
  }
  return shared;
}

// Weighted progressive filling over the active flows at their current caps
// and weights (recompute()).
void flow_network::fill() {
  // Free capacities and loads of the resources whose flows changed, the loads
  // summed in id order as a pass over the active flows adds them.
  for (int ri : m_stale) {
    resource& r = m_res[ri];
    r.stale = false;
    if (r.unsafe_at < 0) {  // (it may have become slack after it was marked)
      r.tight = false;
      continue;
    }
    r.free_capacity = r.capacity / penalty_divisor(r);
    double load = 0, wload = 0;
    for (const user& x : r.users) load += x.coef * m_flows[x.flow].cap, wload += x.coef * m_flows[x.flow].weight;
    r.wload = wload;
    r.tight = !(r.free_capacity >= (1 + 1e-6) * load && r.free_capacity > 1e-6 * r.capacity);
    if (r.tight && !r.listed) {
      r.listed = true;
      m_tight.push_back(ri);
    }
  }
  m_stale.clear();
  // The resources still taking part in the filling. A resource whose flows
  // are all frozen, with only a rounding residue of load, can neither bound a
  // step nor freeze a flow any more: it leaves the list while the next step is sought.
  std::vector<int>& work = m_work;
  work.clear();
  double step = std::numeric_limits<double>::infinity();
  for (int ri : m_tight) {
    resource& r = m_res[ri];
    if (!r.tight) {
      r.listed = false;
      continue;
    }
    r.rem = r.free_capacity;
    r.level_load = r.wload;
    r.unfrozen = static_cast<int>(r.users.size());
    work.push_back(ri);
    if (r.level_load > 1e-9 * r.capacity) step = std::min(step, r.rem / r.level_load);  // above rounding residue
  }
  m_tight = work;
  double level = 0;
  size_t unfrozen = m_active.size();
  std::vector<int>& freezing = m_freezing;
  for (bool first = true; unfrozen > 0; first = false) {
    if (!first) {
      step = std::numeric_limits<double>::infinity();
      size_t keep = 0;
      for (int ri : work) {
        const resource& r = m_res[ri];
        const bool loaded = r.level_load > 1e-9 * r.capacity;
        if (r.unfrozen == 0 && !loaded) continue;
        work[keep++] = ri;
        if (loaded) step = std::min(step, r.rem / r.level_load);
      }
      work.resize(keep);
    }
    double next_cap = std::numeric_limits<double>::infinity();
    for (int id : m_active)
      if (!m_flows[id].frozen) next_cap = std::min(next_cap, m_flows[id].cap_level);
    step = std::min(step, next_cap - level);
    step = std::max(step, 0.0);
    level += step;
    // The flows that freeze at this level: those crossing a saturated
    // resource, each bound by the first one on its path (or all, at their caps).
    freezing.clear();
    for (int ri : work) {
      resource& r = m_res[ri];
      r.rem -= step * r.level_load;
      if (r.unfrozen == 0 || r.rem > 1e-12 * r.capacity) continue;
      for (const user& x : r.users) {
        if (!(x.coef > 0)) continue;
        flow& f = m_flows[x.flow];
        if (f.frozen) continue;
        if (!f.marked) {
          f.marked = true;
          f.first_saturated = x.pos;
          freezing.push_back(x.flow);
        } else {
          f.first_saturated = std::min(f.first_saturated, x.pos);
        }
      }
    }
    if (level >= next_cap * (1 - 1e-12))  // flows at their caps
      for (int id : m_active) {
        flow& f = m_flows[id];
        if (!f.frozen && !f.marked && f.cap_level <= level * (1 + 1e-12)) {
          f.marked = true;
          f.first_saturated = -1;
          freezing.push_back(id);
        }
      }
    std::sort(freezing.begin(), freezing.end());  // id order: their loads leave the resources in that order
    for (int id : freezing) {
      flow& f = m_flows[id];
      f.limit = f.first_saturated < 0 ? bound::dma_issue : m_res[uses_of(f)[size_t(f.first_saturated)].resource].kind;
      f.frozen = true;
      f.rate = std::min(level * f.weight, f.cap);
      --unfrozen;
    }
    // Their loads leave the tight resources in id order, if a next level
    // follows: through the frozen flows' paths, or through the users of the
    // tight resources (all in `work` but those without unfrozen flows, users
    // in id order too), whichever visits fewer entries (few flows freezing on
    // long paths, or many flows on each resource).
    if (unfrozen > 0) {
      size_t by_paths = 0, by_users = 0;
      for (int id : freezing) by_paths += uses_of(m_flows[id]).size();
      for (size_t k = 0; k < work.size() && by_users < by_paths; ++k) by_users += m_res[work[k]].users.size();
      if (by_paths <= by_users) {
        for (int id : freezing) {
          const flow& f = m_flows[id];
          for (const usage& u : uses_of(f)) {
            resource& r = m_res[u.resource];
            if (!r.tight) continue;
            r.level_load -= (grouped(f, u) ? shared_coef(u, group_count(r, f.row_group)) : u.coef) * f.weight;
            --r.unfrozen;
          }
        }
      } else {
        for (int ri : work) {
          resource& r = m_res[ri];
          if (r.unfrozen == 0) continue;
          for (const user& x : r.users) {
            const flow& f = m_flows[x.flow];
            if (!f.marked) continue;
            r.level_load -= x.coef * f.weight;
            --r.unfrozen;
          }
        }
      }
    }
    for (int id : freezing) m_flows[id].marked = false;
    if (freezing.empty() && step <= 0)  // only rounding left: keep the current level
      for (int id : m_active)
        if (!m_flows[id].frozen) {
          m_flows[id].frozen = true;
          m_flows[id].rate = std::min(level * m_flows[id].weight, m_flows[id].cap);
          --unfrozen;
        }
  }
  if (m_series_loss > 0) apply_series_loss();
}

void flow_network::apply_series_loss() {
  // Saturated links on the flow's data path (share > 0; header-only usages
  // have none), counted once per distinct set of users: consecutive links
  // carrying the same flows are one bottleneck. Only links between routers
  // count: a send whose data meets other traffic only at its injection and
  // ejection ports keeps its fluid rate on the TLM chip.
  for (int id : m_active) {
    flow& f = m_flows[id];
    if (f.limit != bound::noc) continue;
    std::vector<int>& sat = m_series;
    sat.clear();
    for (const usage& u : uses_of(f)) {
      const resource& r = m_res[u.resource];
      if (!(u.share > 0) || !r.link || !r.tight || r.rem > 1e-9 * r.capacity) continue;
      const bool seen = std::any_of(sat.begin(), sat.end(), [&](int other) {
        const std::vector<user>& a = m_res[other].users;
        return std::equal(a.begin(), a.end(), r.users.begin(), r.users.end(),
                          [](const user& x, const user& y) { return x.flow == y.flow; });
      });
      if (!seen) sat.push_back(u.resource);
    }
    const double k = double(sat.size());
    if (k >= 2) f.rate /= 1.0 + m_series_loss * (1.0 - 1.0 / k);
  }
}

}  // namespace npuvp::perf
