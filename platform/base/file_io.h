// File helpers shared by every output writer.
#pragma once

#include <string>

namespace npuvp {

// Writes `content` to `path` through a temporary file in the same folder and a
// rename, so a reader never sees a half-written file. Throws npuvp::error.
void write_file_atomically(const std::string& path, const std::string& content);

// Throws npuvp::error naming `path` when a file cannot be written there (no
// such folder, not writable, a folder of that name): called before a long run
// whose output it is, so the error comes before the run, not after it. An
// empty path (an output not asked for) passes.
void check_writable(const std::string& path);

// Creates folder `dir` and its missing parents (an output folder);
// throws npuvp::error naming it when it cannot.
void make_folder(const std::string& dir);

// Reads a whole file; throws npuvp::error naming the path when it cannot.
std::string read_file(const std::string& path);

}  // namespace npuvp
