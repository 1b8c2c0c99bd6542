// Chrome/Perfetto trace-event JSON writer. Modules hold a `trace_writer*` that is
// null when tracing is off, so a disabled trace costs one pointer test.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace npuvp {

class trace_writer {
 public:
  // A named track (one row in Perfetto), e.g. "npu.hbm_3" or "npu.core_0_1.dma".
  uint32_t track(const std::string& name);
  // An interned event name; intern once at elaboration, not per event.
  uint32_t name(const std::string& name);
  // A complete ("X") event: [start_ns, start_ns + dur_ns) on a track.
  void complete(uint32_t track, uint32_t name, double start_ns, double dur_ns) {
    m_events.push_back({track, name, start_ns, dur_ns});
  }
  size_t event_count() const { return m_events.size(); }
  // Writes the trace-event JSON (timestamps in microseconds) atomically.
  void write(const std::string& path) const;

 private:
  struct event {
    uint32_t track, name;
    double start_ns, dur_ns;
  };
  std::vector<std::string> m_tracks, m_names;
  std::unordered_map<std::string, uint32_t> m_track_ids, m_name_ids;
  std::vector<event> m_events;
};

}  // namespace npuvp
