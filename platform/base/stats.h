// Named, described, unit-tagged statistics collected per module and written as
// one JSON file at the end of a run. Modules count in plain members on the hot
// path and report them once through a stats_writer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace npuvp {

// Distribution of non-negative samples: exact count/sum/min/max and a log-linear
// histogram (64 sub-buckets per power of two, <1.6% relative error) for
// percentiles. Constant memory, no allocation per sample.
class sample_stats {
 public:
  void add(double v);
  uint64_t count() const { return m_count; }
  double mean() const { return m_count ? m_sum / static_cast<double>(m_count) : 0.0; }
  double min() const { return m_count ? m_min : 0.0; }
  double max() const { return m_count ? m_max : 0.0; }
  double sum() const { return m_sum; }
  // p in [0, 100]; returns the midpoint of the bucket holding that rank,
  // clamped to [min, max].
  double percentile(double p) const;
  void merge(const sample_stats& other);
  nlohmann::json to_json(const char* unit) const;

 private:
  static constexpr int sub_buckets = 64;
  static constexpr int exponents = 64;
  static int bucket_of(double v);
  static double bucket_mid(int b);
  std::vector<uint64_t> m_buckets = std::vector<uint64_t>(sub_buckets * exponents, 0);
  uint64_t m_count = 0;
  double m_sum = 0, m_min = 0, m_max = 0;
};

class stats_writer {
 public:
  void scalar(const std::string& group, const std::string& name, double value, const char* unit,
              const char* desc);
  void text(const std::string& group, const std::string& name, const std::string& value,
            const char* desc);
  void distribution(const std::string& group, const std::string& name, const sample_stats& s,
                    const char* unit, const char* desc);
  // Free-form metadata at top level (seed, config, tool version).
  void meta(const std::string& key, nlohmann::json value);

  const nlohmann::json& json() const { return m_root; }
  // Looks a scalar up by group and name; throws npuvp::error when absent.
  double value(const std::string& group, const std::string& name) const;
  void write(const std::string& path) const;

 private:
  nlohmann::json m_root = {{"meta", nlohmann::json::object()}, {"groups", nlohmann::json::object()}};
};

// Implemented by every module that has statistics.
class stats_source {
 public:
  virtual ~stats_source() = default;
  virtual void report_stats(stats_writer& out) const = 0;
};

}  // namespace npuvp
