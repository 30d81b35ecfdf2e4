// Non-blocking writes of frames (common/frame.h) shared by both ends of the fast send port: a
// frame goes straight into the socket when nothing is queued before it, and what the socket
// does not take is kept in the caller's `unsent` buffer for its IO thread to drain later. The
// caller serialises calls on one socket (its own mutex) and never writes after closing it.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace mq::frame {

enum class WriteOutcome {
  kWritten,  // all of it is in the socket
  kQueued,   // some or all of it waits in `unsent`
  kFailed,   // the socket failed; nothing queued (the reading side sees the error too)
};

// Writes `pieces` (one frame, in order; at most 8) to `fd` now if `unsent` is empty and `fd` is
// open (>= 0), else appends them to `unsent`; bytes the socket did not take are appended too.
WriteOutcome WriteOrQueue(int fd, std::span<const std::string_view> pieces, std::string* unsent);

// Writes as much of `unsent` as the socket takes now and erases it: kWritten when all went,
// kQueued when the socket is full, kFailed on a socket error.
WriteOutcome Drain(int fd, std::string* unsent);

}  // namespace mq::frame
