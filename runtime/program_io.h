// What every executor of kernel programs (cpu, cuda) checks and converts
// the same way, whatever memory its buffers live in: inputs against the
// program, persistent tensors against the parameters, constants, the step
// number. One place, so the error
// texts and the semantics cannot drift apart between backends.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernel/kernel_ir.h"
#include "runtime/executor.h"

namespace dlc {

/// Throws dlc::Error unless `inputs` holds every input of the program of
/// entry point `entry` with its declared dtype, shape and byte count.
void check_program_inputs(const Program& p, const proto::EntryPoint& entry,
                          const std::map<std::string, HostTensor>& inputs);

/// The step number carried by input `step_input` (0 for a non-finite or
/// non-positive value), or `current` when the call has no such input.
uint64_t step_from_inputs(const std::map<std::string, HostTensor>& inputs, const std::string& step_input,
                          uint64_t current);

/// The step number a STEP-role input of one element and dtype `dtype` at
/// `data` carries (0 for a non-finite or non-positive value).
uint64_t step_number(DType dtype, const void* data);

/// Throws unless state buffer `b` of the program of `entry` names a
/// parameter in `state_types` with the same type.
void check_state_buffer(const std::string& entry, const Buffer& b, const std::map<std::string, TensorType>& state_types);

/// Throws unless `value` may replace persistent tensor `name` of type `type`.
void check_state_value(const std::string& name, const TensorType& type, const HostTensor& value);

/// The contents of constant buffer `b`, as elements of its dtype.
HostTensor constant_contents(const Buffer& b);

}  // namespace dlc
