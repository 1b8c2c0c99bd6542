#include <iostream>

#include "kernels/encoding.h"
#include "platform/base/file_io.h"
#include "platform/cli/command.h"

namespace npuvp::cli {

int disasm(const std::vector<std::string>& args) {
  po::options_description desc("disasm options");
  std::string file;
  desc.add_options()("file", po::value(&file)->required(), "binary command stream (docs/command_stream.md)");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse("npuvp disasm FILE", desc, args, vm, &pos)) return 0;
  const std::string bytes = read_file(file);
  const auto stream = kernels::decode_stream(std::vector<uint8_t>(bytes.begin(), bytes.end()), file);
  std::cout << "# " << file << ": core " << stream.core_id << ", " << stream.commands.size()
            << " commands, stream version " << kernels::stream_version << "\n"
            << kernels::to_text(stream.commands);
  return 0;
}

}  // namespace npuvp::cli
