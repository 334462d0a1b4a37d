#include "ir/proto_bytes.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace dlc {

bool serialize_deterministic(const google::protobuf::MessageLite& m, std::string* bytes) {
  bytes->clear();
  google::protobuf::io::StringOutputStream out(bytes);
  google::protobuf::io::CodedOutputStream coded(&out);
  coded.SetSerializationDeterministic(true);
  bool ok = m.SerializeToCodedStream(&coded);
  coded.Trim();
  return ok && !coded.HadError();
}

}  // namespace dlc
