// The fast send port's framing (docs/protocol.md, "Fast send port"): requests and responses
// as length-prefixed frames on one TCP connection, matched by request id, as RocketMQ's
// remoting protocol frames its commands. Big-endian (network order), 20-byte header:
//
//   +--------+-------+------+--------+----------+------+------------+---------+
//   | length | magic | kind | method |  flags   | code | request id | payload |
//   |   4    |   1   |  1   |   1    |    1     |  4   |     8      | length-16 |
//   +--------+-------+------+--------+----------+------+------------+---------+
//
// `length` counts the bytes after itself. A request's payload is the method's protobuf request;
// a response's is the protobuf response when `code` is 0 (StatusCode::kOk), else the error's
// UTF-8 message. `flags` is 0 on requests; on a response, kMoreReplies says that the request
// stays open and more responses with its id may follow (a standing pull); a peer that does not
// know a flag ignores it. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/status.h"

namespace mq::frame {

inline constexpr size_t kHeaderBytes = 20;
inline constexpr uint8_t kMagic = 0xA7;  // and the version: a new layout takes a new magic
// The largest frame a peer reads unless told otherwise (the gRPC port's receive limit).
inline constexpr uint32_t kDefaultMaxFrameBytes = 64u * 1024 * 1024;

enum class Kind : uint8_t { kRequest = 1, kResponse = 2 };
// Payloads: mq.v1.SendMessageRequest / Response, mq.v1.PullMessageRequest / Response,
// mq.v1.UpdateConsumerOffsetRequest / Response. kCancel has no payload and no response of its
// own: its request id names a pull in progress on the same connection, which the broker ends at
// once with its last reply (unknown or finished ids are ignored).
enum class Method : uint8_t { kSendMessage = 1, kPullMessage = 2, kUpdateConsumerOffset = 3, kCancel = 4 };

// Header::flags bits.
inline constexpr uint8_t kMoreReplies = 0x01;

struct Header {
  uint32_t payload_bytes = 0;
  Kind kind = Kind::kRequest;
  Method method = Method::kSendMessage;
  uint8_t flags = 0;
  StatusCode code = StatusCode::kOk;
  uint64_t request_id = 0;
};

// Writes the header of a frame with `payload_bytes` of payload into out[0..kHeaderBytes).
void WriteHeader(const Header& h, char* out);
// Appends a whole frame (header and payload) to `out`.
void AppendFrame(const Header& h, std::string_view payload, std::string* out);
// Reads and checks the header in in[0..kHeaderBytes): InvalidArgument naming the field when
// the magic, kind or length is wrong or the frame is longer than `max_frame_bytes`. The method
// and code are not checked here (an unknown method gets an error response, not a closed link).
Result<Header> ReadHeader(const char* in, uint32_t max_frame_bytes);

// A response's status: OK, or the code and the payload as its message.
Status ResponseStatus(const Header& h, std::string_view payload);

}  // namespace mq::frame
