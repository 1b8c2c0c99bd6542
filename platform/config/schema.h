// One table per config struct serves parsing, validation, `config describe` and
// the effective-config dump: each struct has
//
//   template <class V> void visit(V& v) {
//     v.field("key", m_member, "unit", "meaning", lo, hi);  // number, bool, string
//     v.choice("key", m_member, {"a", "b"}, "meaning");     // string from a fixed set
//     v.coords("key", m_list, "meaning");                   // list of [x, y]
//     v.section("key", m_sub, "meaning");                   // nested struct
//     v.list("key", m_items, "meaning");                    // list of nested structs
//     v.node("key", m_yaml, "type", "meaning");             // raw YAML, resolved by the owner
//     v.derive([&] { ... });                                // fill dependent defaults
//   }
//
// and the visitors below walk it: yaml_reader (YAML -> struct, with file:line and
// path in every error), describer (rows of key/type/unit/default/meaning) and
// json_dumper (struct -> JSON). A `derive` step runs when reading and describing,
// not when dumping, so dumped values are the effective ones.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iomanip>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "platform/base/error.h"

namespace npuvp::config {

using coord_list = std::vector<std::array<int, 2>>;
constexpr double no_limit = std::numeric_limits<double>::infinity();

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_integral_v<T>) return "int";
  else if constexpr (std::is_floating_point_v<T>) return "float";
  else return "string";
}

template <class T>
std::string to_text(const T& v) {
  if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
  else if constexpr (std::is_same_v<T, std::string>) return v.empty() ? "\"\"" : v;
  else {
    std::ostringstream s;
    s << v;
    return s.str();
  }
}

// ---------------------------------------------------------------- reader
class yaml_reader {
 public:
  yaml_reader(const YAML::Node& node, std::string file, std::string path)
      : m_node(node), m_file(std::move(file)), m_path(std::move(path)) {
    if (m_node && !m_node.IsNull() && !m_node.IsMap())
      fail(m_node, m_path.empty() ? "<top>" : m_path, "expected a mapping of keys");
  }

  template <class T>
  void field(const char* key, T& value, const char* /*unit*/, const char* /*doc*/,
             double lo = -no_limit, double hi = no_limit) {
    const YAML::Node n = child(key);
    if (!n) return;
    const std::string path = join(key);
    if (!n.IsScalar()) fail(n, path, std::string("expected ") + article(type_name<T>()));
    if constexpr (std::is_same_v<T, std::string>) {
      value = n.Scalar();
    } else if constexpr (std::is_same_v<T, bool>) {
      bool b = false;
      if (!YAML::convert<bool>::decode(n, b)) fail(n, path, "expected true or false, got '" + n.Scalar() + "'");
      value = b;
    } else {
      double d = 0;
      if constexpr (std::is_integral_v<T>) {
        long long i = 0;
        if (!YAML::convert<long long>::decode(n, i))
          fail(n, path, "expected an integer, got '" + n.Scalar() + "'");
        d = static_cast<double>(i);
        check_range(n, path, d, lo, hi);
        if (d < static_cast<double>(std::numeric_limits<T>::lowest()) ||
            d > static_cast<double>(std::numeric_limits<T>::max()))
          fail(n, path, "value " + n.Scalar() + " does not fit");
        value = static_cast<T>(i);
      } else {
        if (!YAML::convert<double>::decode(n, d) || d != d)
          fail(n, path, "expected a number, got '" + n.Scalar() + "'");
        check_range(n, path, d, lo, hi);
        value = static_cast<T>(d);
      }
    }
  }

  void choice(const char* key, std::string& value, std::initializer_list<const char*> options,
              const char* /*doc*/) {
    const YAML::Node n = child(key);
    if (!n) return;
    const std::string path = join(key);
    if (!n.IsScalar()) fail(n, path, "expected one of " + list(options));
    for (const char* o : options)
      if (n.Scalar() == o) {
        value = o;
        return;
      }
    fail(n, path, "'" + n.Scalar() + "' is not one of " + list(options));
  }

  void coords(const char* key, coord_list& value, const char* /*doc*/) {
    const YAML::Node n = child(key);
    if (!n) return;
    const std::string path = join(key);
    if (!n.IsSequence()) fail(n, path, "expected a list of [x, y] pairs");
    value.clear();
    for (size_t i = 0; i < n.size(); ++i) {
      const YAML::Node e = n[i];
      const std::string ep = path + "[" + std::to_string(i) + "]";
      int x = 0, y = 0;
      if (!e.IsSequence() || e.size() != 2 || !YAML::convert<int>::decode(e[0], x) ||
          !YAML::convert<int>::decode(e[1], y))
        fail(e, ep, "expected a pair of integers [x, y]");
      value.push_back({x, y});
    }
  }

  // A list of mappings, each read as S (path key[i]).
  template <class S>
  void list(const char* key, std::vector<S>& items, const char* /*doc*/) {
    const YAML::Node n = child(key);
    if (!n) return;
    const std::string path = join(key);
    if (!n.IsSequence()) fail(n, path, "expected a list of mappings");
    items.clear();
    for (size_t i = 0; i < n.size(); ++i) {
      const std::string ip = path + "[" + std::to_string(i) + "]";
      if (!n[i].IsMap()) fail(n[i], ip, "expected a mapping of keys");
      yaml_reader r(n[i], m_file, ip);
      items.emplace_back();
      items.back().visit(r);
      r.finish();
    }
  }

  // The YAML node as written (resolved by the owner, e.g. a path or an inline mapping).
  void node(const char* key, YAML::Node& value, const char* /*type*/, const char* /*doc*/) {
    const YAML::Node n = child(key);
    if (n) value = n;
  }

  template <class S>
  void section(const char* key, S& sub, const char* /*doc*/) {
    const YAML::Node n = child(key);
    yaml_reader r(n ? n : YAML::Node(), m_file, join(key));
    if (n && !n.IsNull() && !n.IsMap()) fail(n, join(key), "expected a mapping of keys");
    sub.visit(r);
    r.finish();
  }

  template <class F>
  void derive(F&& f) { f(); }

  // A cross-field rule: when `ok` is false, fails at `key` (or at this mapping
  // when the key is absent).
  void check(bool ok, const char* key, const std::string& what) const {
    if (ok) return;
    const YAML::Node& map = m_node;
    if (map && map.IsMap() && map[key].IsDefined()) fail(map[key], join(key), what);
    if (map && !map.IsNull()) fail(map, join(key), what);
    throw config_error(m_file, 0, join(key), what);
  }

  // Rejects every key of this mapping that the table did not name.
  void finish() const {
    if (!m_node || !m_node.IsMap()) return;
    for (const auto& kv : m_node) {
      const std::string k = kv.first.Scalar();
      if (!m_seen.count(k)) fail(kv.first, join(k.c_str()), "unknown key");
    }
  }

  // Throws a config_error located at node `n`.
  [[noreturn]] void fail(const YAML::Node& n, const std::string& path, const std::string& what) const {
    throw config_error(m_file, n.Mark().is_null() ? 0 : n.Mark().line + 1, path, what);
  }

 private:
  YAML::Node child(const char* key) {
    m_seen.insert(key);
    if (!m_node || !m_node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& map = m_node;  // const: lookup must not insert
    const YAML::Node n = map[key];
    if (!n.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    return n;
  }
  std::string join(const char* key) const { return m_path.empty() ? key : m_path + "." + key; }
  void check_range(const YAML::Node& n, const std::string& path, double d, double lo, double hi) const {
    if (d < lo || d > hi) {
      std::ostringstream s;
      s << std::setprecision(15) << "value " << n.Scalar() << " is out of range [" << lo << ", " << hi << "]";
      fail(n, path, s.str());
    }
  }
  static std::string article(const char* t) {
    const std::string s = t;
    return (s == "int" ? "an " : "a ") + s;
  }
  static std::string list(std::initializer_list<const char*> o) {
    std::string s;
    for (const char* x : o) s += (s.empty() ? "" : "|") + std::string(x);
    return s;
  }

  YAML::Node m_node;
  std::string m_file, m_path;
  std::set<std::string> m_seen;
};

// ---------------------------------------------------------------- describer
struct key_row {
  std::string key, type, unit, default_value, doc;
};

class describer {
 public:
  explicit describer(std::vector<key_row>& rows, std::string path = "")
      : m_rows(rows), m_path(std::move(path)) {}

  template <class T>
  void field(const char* key, T& value, const char* unit, const char* doc, double lo = -no_limit,
             double hi = no_limit) {
    std::string type = type_name<T>();
    if (lo != -no_limit || hi != no_limit) type += " [" + bound(lo) + ", " + bound(hi) + "]";
    m_rows.push_back({join(key), type, unit, to_text(value), doc});
  }
  void choice(const char* key, std::string& value, std::initializer_list<const char*> options,
              const char* doc) {
    std::string type;
    for (const char* o : options) type += (type.empty() ? "" : "|") + std::string(o);
    m_rows.push_back({join(key), type, "", value, doc});
  }
  void coords(const char* key, coord_list& value, const char* doc) {
    std::string d = "[";
    for (auto& c : value) d += (d.size() > 1 ? ", [" : "[") + std::to_string(c[0]) + ", " + std::to_string(c[1]) + "]";
    m_rows.push_back({join(key), "list of [x, y]", "", d + "]", doc});
  }
  static std::string bound(double b) {
    if (b == no_limit) return "inf";
    if (b == -no_limit) return "-inf";
    if (b == static_cast<double>(static_cast<long long>(b)) && b < 1e12 && b > -1e12)
      return std::to_string(static_cast<long long>(b));
    return to_text(b);
  }
  template <class S>
  void list(const char* key, std::vector<S>&, const char* doc) {
    m_rows.push_back({join(key), "list", "", "[]", doc});
    S item{};
    describer d(m_rows, join(key) + "[]");
    item.visit(d);
  }
  void node(const char* key, YAML::Node&, const char* type, const char* doc) {
    m_rows.push_back({join(key), type, "", "", doc});
  }
  template <class S>
  void section(const char* key, S& sub, const char* doc) {
    m_rows.push_back({join(key), "section", "", "", doc});
    describer d(m_rows, join(key));
    sub.visit(d);
  }
  template <class F>
  void derive(F&& f) { f(); }
  void check(bool, const char*, const std::string&) const {}

 private:
  std::string join(const char* key) const { return m_path.empty() ? key : m_path + "." + key; }
  std::vector<key_row>& m_rows;
  std::string m_path;
};

// ---------------------------------------------------------------- json dumper
class json_dumper {
 public:
  explicit json_dumper(nlohmann::json& out) : m_out(out) { m_out = nlohmann::json::object(); }
  template <class T>
  void field(const char* key, T& value, const char*, const char*, double = 0, double = 0) {
    m_out[key] = value;
  }
  void choice(const char* key, std::string& value, std::initializer_list<const char*>, const char*) {
    m_out[key] = value;
  }
  void coords(const char* key, coord_list& value, const char*) { m_out[key] = value; }
  template <class S>
  void list(const char* key, std::vector<S>& items, const char*) {
    m_out[key] = nlohmann::json::array();
    for (auto& item : items) {
      nlohmann::json j;
      json_dumper d(j);
      item.visit(d);
      m_out[key].push_back(j);
    }
  }
  void node(const char* key, YAML::Node& value, const char*, const char*) {
    m_out[key] = value ? YAML::Dump(value) : std::string();
  }
  template <class S>
  void section(const char* key, S& sub, const char*) {
    json_dumper d(m_out[key]);
    sub.visit(d);
  }
  template <class F>
  void derive(F&&) {}
  void check(bool, const char*, const std::string&) const {}

 private:
  nlohmann::json& m_out;
};

// Rows for every key of struct S with its defaults.
template <class S>
std::vector<key_row> describe(const std::string& prefix = "") {
  S s{};
  std::vector<key_row> rows;
  describer d(rows, prefix);
  s.visit(d);
  return rows;
}

template <class S>
nlohmann::json to_json(const S& s) {
  nlohmann::json j;
  json_dumper d(j);
  const_cast<S&>(s).visit(d);
  return j;
}

// Parses YAML text / loads a YAML file; a syntax error throws config_error with
// the origin and line.
YAML::Node parse_yaml(const std::string& text, const std::string& origin);
YAML::Node load_yaml_file(const std::string& path);

// Parses struct S from a YAML node (whole document or a sub-node).
template <class S>
S read(const YAML::Node& node, const std::string& file, const std::string& path = "") {
  S s{};
  yaml_reader r(node, file, path);
  s.visit(r);
  r.finish();
  return s;
}

}  // namespace npuvp::config
