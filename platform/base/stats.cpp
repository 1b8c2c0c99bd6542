#include "platform/base/stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "platform/base/error.h"
#include "platform/base/file_io.h"

namespace npuvp {

int sample_stats::bucket_of(double v) {
  if (!(v >= 1.0)) return 0;  // [0, 1) and NaN share the first bucket
  // v = 1.f * 2^(e-1) = m * 2^e with m = 0.5 + f/2 in [0.5, 1): read e and the
  // top bits of f straight from the IEEE-754 encoding (same buckets as frexp,
  // without its cost on the hot path).
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  const int e = static_cast<int>((bits >> 52) & 0x7FF) - 1022;
  static_assert(sub_buckets == 64, "six mantissa bits select the sub-bucket");
  const int sub = static_cast<int>((bits >> (52 - 6)) & (sub_buckets - 1));
  return std::min(e, exponents - 1) * sub_buckets + sub;
}

double sample_stats::bucket_mid(int b) {
  const int exp = b / sub_buckets;
  const int sub = b % sub_buckets;
  if (exp == 0) return 0.5;
  const double lo = std::ldexp(0.5 + 0.5 * sub / sub_buckets, exp);
  const double hi = std::ldexp(0.5 + 0.5 * (sub + 1) / sub_buckets, exp);
  return 0.5 * (lo + hi);
}

void sample_stats::add(double v) {
  if (m_count == 0) {
    m_min = m_max = v;
  } else {
    m_min = std::min(m_min, v);
    m_max = std::max(m_max, v);
  }
  ++m_count;
  m_sum += v;
  ++m_buckets[bucket_of(v)];
}

double sample_stats::percentile(double p) const {
  if (m_count == 0) return 0.0;
  const auto rank = static_cast<uint64_t>(std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(m_count)));
  uint64_t seen = 0;
  for (size_t b = 0; b < m_buckets.size(); ++b) {
    seen += m_buckets[b];
    if (seen >= std::max<uint64_t>(rank, 1)) return std::clamp(bucket_mid(static_cast<int>(b)), m_min, m_max);
  }
  return m_max;
}

void sample_stats::merge(const sample_stats& o) {
  if (o.m_count == 0) return;
  if (m_count == 0) {
    m_min = o.m_min;
    m_max = o.m_max;
  } else {
    m_min = std::min(m_min, o.m_min);
    m_max = std::max(m_max, o.m_max);
  }
  m_count += o.m_count;
  m_sum += o.m_sum;
  for (size_t i = 0; i < m_buckets.size(); ++i) m_buckets[i] += o.m_buckets[i];
}

nlohmann::json sample_stats::to_json(const char* unit) const {
  return {{"count", m_count}, {"mean", mean()},         {"min", min()},
          {"p50", percentile(50)}, {"p99", percentile(99)}, {"max", max()},
          {"unit", unit}};
}

void stats_writer::scalar(const std::string& group, const std::string& name, double value,
                          const char* unit, const char* desc) {
  m_root["groups"][group][name] = {{"value", value}, {"unit", unit}, {"desc", desc}};
}

void stats_writer::text(const std::string& group, const std::string& name, const std::string& value,
                        const char* desc) {
  m_root["groups"][group][name] = {{"value", value}, {"unit", ""}, {"desc", desc}};
}

void stats_writer::distribution(const std::string& group, const std::string& name,
                                const sample_stats& s, const char* unit, const char* desc) {
  auto j = s.to_json(unit);
  j["desc"] = desc;
  m_root["groups"][group][name] = std::move(j);
}

void stats_writer::meta(const std::string& key, nlohmann::json value) {
  m_root["meta"][key] = std::move(value);
}

double stats_writer::value(const std::string& group, const std::string& name) const {
  const auto& groups = m_root.at("groups");
  auto g = groups.find(group);
  if (g == groups.end() || !g->contains(name) || !(*g)[name]["value"].is_number())
    throw error("no statistic '" + group + "." + name + "'");
  return (*g)[name]["value"].get<double>();
}

void stats_writer::write(const std::string& path) const {
  write_file_atomically(path, m_root.dump(2) + "\n");
}

}  // namespace npuvp
