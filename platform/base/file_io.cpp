#include "platform/base/file_io.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "platform/base/error.h"

namespace npuvp {

void write_file_atomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw error("cannot write '" + path + "': " + std::strerror(errno));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw error("cannot write '" + path + "': " + std::strerror(errno));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw error("cannot write '" + path + "': " + why);
  }
}

void check_writable(const std::string& path) {
  if (path.empty()) return;
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw error("cannot write '" + path + "': it is a folder");
  const fs::path parent = fs::path(path).parent_path();
  const std::string folder = parent.empty() ? "." : parent.string();
  if (!fs::is_directory(folder, ec)) throw error("cannot write '" + path + "': no folder '" + folder + "'");
  if (access(folder.c_str(), W_OK) != 0)
    throw error("cannot write '" + path + "': folder '" + folder + "' is not writable: " + std::strerror(errno));
}

void make_folder(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw error("cannot create folder '" + dir + "': " + ec.message());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw error(path + ": cannot open file: " + std::strerror(errno));
  // A folder opens on Linux and reads as empty or fails midway: say what it is.
  if (std::filesystem::is_directory(path)) throw error(path + ": is a folder, not a file");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace npuvp
