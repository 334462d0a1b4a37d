// Executables (.dlc) along the runtime's loading path up to running code:
// parse and validate, the session's description of the graph (what
// dlrt_model_inspect does), and the kernel programs as an executor reads
// them. Native code is never loaded.
//
// Each input goes through twice: as given, and with its end marker and code
// checksum made right, since a mutation nearly always breaks the checksum
// and would otherwise never reach validation.
#include <google/protobuf/stubs/logging.h>

#include "ir/error.h"
#include "kernel/executable.h"
#include "kernel/kernel_ir.h"
#include "runtime/session.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

void load_up_to_code(const std::string& bytes) {
  try {
    dlc::proto::Executable exe = dlc::parse_executable(bytes, "fuzz.dlc");
    dlc::Session inspected(exe, "fuzz.dlc", dlc::Session::Purpose::inspect);
    std::vector<dlc::Program> programs;
    for (const auto& p : exe.programs()) programs.push_back(dlc::program_from_proto(p));
    dlc::program_fingerprint(programs);
  } catch (const dlc::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes = dlc::fuzz::as_string(data, size);
  load_up_to_code(bytes);

  dlc::proto::Executable exe;
  {
    google::protobuf::LogSilencer quiet;
    if (!exe.ParseFromString(bytes)) return 0;
  }
  exe.set_end_marker(dlc::kEndMarker);
  exe.set_code_checksum(dlc::code_checksum(exe));
  std::string fixed;
  if (exe.SerializeToString(&fixed)) load_up_to_code(fixed);
  return 0;
}
