#include "common/frame_io.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>

namespace mq::frame {
namespace {

bool WouldBlock() { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

}  // namespace

WriteOutcome WriteOrQueue(int fd, std::span<const std::string_view> pieces, std::string* unsent) {
  size_t written = 0;
  if (fd >= 0 && unsent->empty()) {
    iovec iov[8];
    size_t count = 0;
    for (auto piece : pieces) {
      if (!piece.empty() && count < 8) iov[count++] = {const_cast<char*>(piece.data()), piece.size()};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    const ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && !WouldBlock()) return WriteOutcome::kFailed;
    if (n > 0) written = static_cast<size_t>(n);
  }
  size_t skip = written;  // the bytes the socket took, from the front
  for (auto piece : pieces) {
    if (skip >= piece.size()) {
      skip -= piece.size();
      continue;
    }
    unsent->append(piece.substr(skip));
    skip = 0;
  }
  return unsent->empty() ? WriteOutcome::kWritten : WriteOutcome::kQueued;
}

WriteOutcome Drain(int fd, std::string* unsent) {
  while (!unsent->empty()) {
    const ssize_t n = ::send(fd, unsent->data(), unsent->size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      unsent->erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && WouldBlock()) return WriteOutcome::kQueued;
    return WriteOutcome::kFailed;
  }
  return WriteOutcome::kWritten;
}

}  // namespace mq::frame
