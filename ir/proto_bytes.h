// Protobuf bytes that depend on the message alone.
//
// Plain SerializeToString writes map fields (Node.attrs) in hash order, which
// may differ between two processes: the same model would compile to
// different .dlc bytes. Everything dlc writes to a file goes through here.
#pragma once

#include <string>

#include <google/protobuf/message_lite.h>

namespace dlc {

/// The bytes of `m` with map entries in key order (protobuf's deterministic
/// serialization). False when protobuf cannot serialize it (over 2 GiB).
bool serialize_deterministic(const google::protobuf::MessageLite& m, std::string* bytes);

}  // namespace dlc
