// Relocatable object → shared object, linked in-process by LLD.
#pragma once

#include <string>
#include <vector>

namespace dlc::cpu {

/// Links one x86-64 ELF relocatable object into a shared object and returns
/// its bytes. Undefined symbols (libm's tanhf, ...) stay undefined and bind
/// when the runtime dlopens the result. LLD reads and writes files, so this
/// uses a private temporary folder that it removes before returning.
/// Throws dlc::Error with LLD's diagnostics when the link fails.
std::string link_shared_object(const std::string& object);

/// Links several objects, in the order given (the output's layout follows
/// it, so a fixed order gives the same bytes), into one shared object.
std::string link_shared_object(const std::vector<std::string>& objects);

}  // namespace dlc::cpu
