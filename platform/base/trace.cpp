#include "platform/base/trace.h"

#include <nlohmann/json.hpp>

#include "platform/base/file_io.h"

namespace npuvp {

static uint32_t intern(const std::string& s, std::vector<std::string>& list,
                       std::unordered_map<std::string, uint32_t>& ids) {
  auto it = ids.find(s);
  if (it != ids.end()) return it->second;
  const auto id = static_cast<uint32_t>(list.size());
  list.push_back(s);
  ids.emplace(s, id);
  return id;
}

uint32_t trace_writer::track(const std::string& n) { return intern(n, m_tracks, m_track_ids); }
uint32_t trace_writer::name(const std::string& n) { return intern(n, m_names, m_name_ids); }

void trace_writer::write(const std::string& path) const {
  using nlohmann::json;
  json events = json::array();
  events.push_back({{"ph", "M"}, {"pid", 1}, {"name", "process_name"}, {"args", {{"name", "npuvp"}}}});
  for (size_t t = 0; t < m_tracks.size(); ++t) {
    events.push_back({{"ph", "M"}, {"pid", 1}, {"tid", t + 1}, {"name", "thread_name"},
                      {"args", {{"name", m_tracks[t]}}}});
    events.push_back({{"ph", "M"}, {"pid", 1}, {"tid", t + 1}, {"name", "thread_sort_index"},
                      {"args", {{"sort_index", t}}}});
  }
  for (const auto& e : m_events) {
    events.push_back({{"ph", "X"}, {"pid", 1}, {"tid", e.track + 1}, {"name", m_names[e.name]},
                      {"ts", e.start_ns / 1000.0}, {"dur", e.dur_ns / 1000.0}});
  }
  json root = {{"traceEvents", std::move(events)}, {"displayTimeUnit", "ns"}};
  write_file_atomically(path, root.dump() + "\n");
}

}  // namespace npuvp
