// Milliseconds of a protobuf Timestamp or Duration a client sent. Its seconds are the client's
// choice, and seconds * 1000 past the int64 range is undefined behaviour that in practice wraps
// (a delivery time centuries ahead became one in the past, delivered at once): the result
// saturates at the range's ends instead, so the caller's range check refuses it. Pure functions.
#pragma once

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include <cstdint>
#include <limits>

namespace mq::broker::v2 {

inline int64_t SaturatedMillis(int64_t seconds, int32_t nanos) {
  int64_t ms = 0;
  if (__builtin_mul_overflow(seconds, int64_t{1000}, &ms) ||
      __builtin_add_overflow(ms, nanos / 1000000, &ms)) {
    return seconds < 0 ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
  }
  return ms;
}

inline int64_t SaturatedMillis(const google::protobuf::Timestamp& t) {
  return SaturatedMillis(t.seconds(), t.nanos());
}

inline int64_t SaturatedMillis(const google::protobuf::Duration& d) {
  return SaturatedMillis(d.seconds(), d.nanos());
}

}  // namespace mq::broker::v2
