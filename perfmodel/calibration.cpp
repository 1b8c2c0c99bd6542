#include "perfmodel/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <type_traits>

#include "perfmodel/perfmodel.h"
#include "platform/base/error.h"
#include "platform/base/file_io.h"

namespace npuvp::perf {

perf_params parse_perf_params(const hw_config& hw, const std::string& yaml_text, const std::string& origin,
                              std::string& warning) {
  calibration_file f;
  f.params = first_principles_params(hw);
  config::yaml_reader r(config::parse_yaml(yaml_text, origin), origin, "");
  f.visit(r);
  r.finish();
  warning.clear();
  if (f.hw != hw.name)
    warning = "perfmodel: calibration " + origin + " was fitted on '" + f.hw + "', not on '" + hw.name +
              "'; its parameters may not fit this chip";
  return f.params;
}

perf_params load_perf_params(const hw_config& hw, const std::string& path, std::string& warning) {
  if (path.empty()) {
    warning = "perfmodel: no calibration file given; using first-principles parameters derived from the hardware "
              "config (uncalibrated)";
    return first_principles_params(hw);
  }
  return parse_perf_params(hw, read_file(path), path, warning);
}

namespace {

// Lists every double parameter with its range (visit() table).
struct param_ref {
  std::string key;
  double* value;
  double lo, hi;
};
class param_collector {
 public:
  explicit param_collector(std::vector<param_ref>& out) : m_out(out) {}
  template <class T>
  void field(const char* key, T& value, const char*, const char*, double lo = -config::no_limit,
             double hi = config::no_limit) {
    if constexpr (std::is_same_v<T, double>) m_out.push_back({key, &value, lo, hi});
  }
  template <class F>
  void derive(F&&) {}
  void check(bool, const char*, const std::string&) const {}

 private:
  std::vector<param_ref>& m_out;
};

// YAML lines "key: value  # unit, meaning" from the visit() table.
class yaml_writer {
 public:
  explicit yaml_writer(std::ostringstream& out) : m_out(out) {}
  template <class T>
  void field(const char* key, T& value, const char* unit, const char* doc, double = 0, double = 0) {
    m_out << "  " << key << ": " << config::to_text(value) << "  # " << (*unit ? std::string(unit) + ", " : "")
          << doc << "\n";
  }
  template <class F>
  void derive(F&&) {}
  void check(bool, const char*, const std::string&) const {}

 private:
  std::ostringstream& m_out;
};

}  // namespace

std::string calibration_yaml(const hw_config& hw, const perf_params& params, const fit_quality& fit) {
  std::ostringstream s;
  s.precision(10);
  s << "# npuvp perfmodel calibration (docs/perfmodel.md)\n";
  s << "hw: " << hw.name << "\n";
  s << "params:\n";
  yaml_writer w(s);
  const_cast<perf_params&>(params).visit(w);
  s << "fit:\n";
  const_cast<fit_quality&>(fit).visit(w);
  return s.str();
}

void write_calibration(const std::string& path, const hw_config& hw, const perf_params& params,
                       const fit_quality& fit) {
  write_file_atomically(path, calibration_yaml(hw, params, fit));
}

fit_report fit(const hw_config& hw, const std::vector<calibration_sample>& samples, const perf_params& start,
               const std::vector<std::string>& free_params) {
  if (samples.empty()) throw error("perfmodel fit: no samples");
  for (const auto& s : samples)
    if (!(s.measured_ns > 0)) throw error("perfmodel fit: sample '" + s.name + "' has no positive measured time");
  fit_report rep;
  rep.params = start;
  std::vector<param_ref> all;
  param_collector collect(all);
  rep.params.visit(collect);
  std::vector<param_ref> free;
  for (const auto& p : all)
    if (free_params.empty() || std::find(free_params.begin(), free_params.end(), p.key) != free_params.end())
      free.push_back(p);
  for (const auto& name : free_params)
    if (std::none_of(all.begin(), all.end(), [&](const param_ref& p) { return p.key == name; }))
      throw error("perfmodel fit: no parameter '" + name + "'");

  auto objective = [&] {
    ++rep.evaluations;
    double sum = 0;
    for (const auto& s : samples) {
      const double e = (evaluate(hw, s.programs, rep.params).time_ns - s.measured_ns) / s.measured_ns;
      sum += e * e;
    }
    return sum;
  };
  double best = objective();
  for (int sweep = 0; sweep < 30; ++sweep) {
    const double before = best;
    for (const auto& p : free) {
      double& x = *p.value;
      const double x0 = x;
      // Search range: the table's bounds, narrowed for open-ended ones around the current value.
      const double lo = std::max(p.lo, 0.0);
      const double hi = std::min(p.hi, x0 > 0 ? 4 * x0 : 100.0);
      const double g = (std::sqrt(5.0) - 1) / 2;
      double a = lo, b = hi;
      double c = b - g * (b - a), d = a + g * (b - a);
      x = c;
      double fc = objective();
      x = d;
      double fd = objective();
      for (int it = 0; it < 40; ++it) {
        if (fc < fd) {
          b = d;
          d = c;
          fd = fc;
          c = b - g * (b - a);
          x = c;
          fc = objective();
        } else {
          a = c;
          c = d;
          fc = fd;
          d = a + g * (b - a);
          x = d;
          fd = objective();
        }
      }
      const double xb = fc < fd ? c : d, fb = std::min(fc, fd);
      if (fb < best) {
        x = xb;
        best = fb;
      } else {
        x = x0;
      }
    }
    if (before - best < 1e-10) break;
  }
  rep.quality.samples = static_cast<int>(samples.size());
  double sum = 0;
  for (const auto& s : samples) {
    const double t = evaluate(hw, s.programs, rep.params).time_ns;
    rep.model_ns.push_back(t);
    const double e = 100.0 * std::fabs(t - s.measured_ns) / s.measured_ns;
    sum += e;
    rep.quality.max_error_percent = std::max(rep.quality.max_error_percent, e);
  }
  rep.quality.mape_percent = sum / samples.size();
  return rep;
}

}  // namespace npuvp::perf
