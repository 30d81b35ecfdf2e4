#include "common/frame.h"

#include <fmt/format.h>

#include "common/coding.h"

namespace mq::frame {

void WriteHeader(const Header& h, char* out) {
  EncodeFixed32BE(out, static_cast<uint32_t>(kHeaderBytes - 4 + h.payload_bytes));
  out[4] = static_cast<char>(kMagic);
  out[5] = static_cast<char>(h.kind);
  out[6] = static_cast<char>(h.method);
  out[7] = static_cast<char>(h.flags);
  EncodeFixed32BE(out + 8, static_cast<uint32_t>(h.code));
  EncodeFixed64BE(out + 12, h.request_id);
}

void AppendFrame(const Header& h, std::string_view payload, std::string* out) {
  Header with_length = h;
  with_length.payload_bytes = static_cast<uint32_t>(payload.size());
  const size_t at = out->size();
  out->resize(at + kHeaderBytes);
  WriteHeader(with_length, out->data() + at);
  out->append(payload);
}

Result<Header> ReadHeader(const char* in, uint32_t max_frame_bytes) {
  const uint32_t length = DecodeFixed32BE(in);
  if (static_cast<uint8_t>(in[4]) != kMagic) {
    return Status::InvalidArgument(
        fmt::format("frame.magic: {:#04x}, expected {:#04x} (not a fast send port peer?)",
                    static_cast<uint8_t>(in[4]), kMagic));
  }
  if (length < kHeaderBytes - 4) {
    return Status::InvalidArgument(fmt::format("frame.length: {} is shorter than the header", length));
  }
  if (length > max_frame_bytes - 4) {
    return Status::InvalidArgument(
        fmt::format("frame.length: {} bytes exceed the limit of {}", length + 4, max_frame_bytes));
  }
  const auto kind = static_cast<uint8_t>(in[5]);
  if (kind != static_cast<uint8_t>(Kind::kRequest) && kind != static_cast<uint8_t>(Kind::kResponse)) {
    return Status::InvalidArgument(
        fmt::format("frame.kind: {} is neither request (1) nor response (2)", kind));
  }
  Header h;
  h.payload_bytes = length - static_cast<uint32_t>(kHeaderBytes - 4);
  h.kind = static_cast<Kind>(kind);
  h.method = static_cast<Method>(static_cast<uint8_t>(in[6]));
  h.flags = static_cast<uint8_t>(in[7]);
  h.code = static_cast<StatusCode>(DecodeFixed32BE(in + 8));
  h.request_id = DecodeFixed64BE(in + 12);
  return h;
}

Status ResponseStatus(const Header& h, std::string_view payload) {
  if (h.code == StatusCode::kOk) return Status::OK();
  return Status(h.code, std::string(payload));
}

}  // namespace mq::frame
