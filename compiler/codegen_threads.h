// How many threads the code generators (LLVM for cpu, NVRTC for cuda) use to
// compile an executable's modules side by side. The generated code does not
// depend on it: each module is compiled alone and they are joined in order.
#pragma once

namespace dlc {

/// DLC_CODEGEN_THREADS when set (read strictly, 1..1024; a bad value is a
/// dlc::Error naming it), else the core count capped at 16.
unsigned codegen_threads();

}  // namespace dlc
