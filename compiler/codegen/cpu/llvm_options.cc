#include "compiler/codegen/cpu/llvm_options.h"

#include <llvm/Support/CommandLine.h>

#include <mutex>

#include "ir/error.h"

namespace dlc::cpu {
namespace {

std::shared_mutex& options_mutex() {
  static std::shared_mutex m;
  return m;
}

// Under the exclusive lock.
void set_options_locked() {
  auto& options = llvm::cl::getRegisteredOptions();
  for (const char* name : {"enable-masked-interleaved-mem-accesses"}) {
    auto it = options.find(name);
    if (it == options.end()) throw Error(std::string("internal error: this LLVM has no option '") + name + "'");
    // An option counts only once it has occurred: the value alone is ignored.
    if (it->second->getNumOccurrences() == 0) it->second->addOccurrence(0, it->first(), "true");
  }
}

}  // namespace

std::shared_lock<std::shared_mutex> lock_llvm_options() { return std::shared_lock<std::shared_mutex>(options_mutex()); }

void set_llvm_options() {
  std::unique_lock<std::shared_mutex> lock(options_mutex());
  set_options_locked();
}

void run_resetting_llvm_options(const std::function<void()>& link) {
  std::unique_lock<std::shared_mutex> lock(options_mutex());
  struct SetAgain {
    ~SetAgain() { set_options_locked(); }
  } set_again;
  link();
}

}  // namespace dlc::cpu
