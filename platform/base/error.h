// Typed errors thrown by library code. Only main() turns them into exit codes.
#pragma once

#include <stdexcept>
#include <string>

namespace npuvp {

// Any error the user can fix (bad input, impossible hardware, missing file).
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A configuration error: names the file, the line and the YAML path.
class config_error : public error {
 public:
  config_error(const std::string& file, int line, const std::string& path, const std::string& what)
      : error(format(file, line, path, what)), m_file(file), m_line(line), m_path(path), m_reason(what) {}
  const std::string& file() const { return m_file; }
  int line() const { return m_line; }
  const std::string& path() const { return m_path; }
  // What is wrong, without the location.
  const std::string& reason() const { return m_reason; }

 private:
  static std::string format(const std::string& file, int line, const std::string& path,
                            const std::string& what) {
    std::string s = file;
    if (line > 0) s += ":" + std::to_string(line);
    s += ": ";
    if (!path.empty()) s += path + ": ";
    return s + what;
  }
  std::string m_file;
  int m_line;
  std::string m_path;
  std::string m_reason;
};

// A simulation that cannot go on (deadlock, watchdog, protocol violation).
class simulation_error : public error {
 public:
  using error::error;
};

}  // namespace npuvp
