// FrameClient: a blocking test client of the broker's fast send port (common/frame.h), and
// the request frames the fast port tests send. Every read waits at most 10 s.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "broker_fixture.h"
#include "common/frame.h"
#include "mq/v1/broker.pb.h"

namespace mq::testing {

class FrameClient {
 public:
  // receive_buffer > 0: SO_RCVBUF, set before connecting (a client that reads slowly).
  explicit FrameClient(const std::string& host_port, int receive_buffer = 0) {
    const int port = std::stoi(host_port.substr(host_port.rfind(':') + 1));
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~FrameClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  void NoDelay() {
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }

  bool Write(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // Writes what the socket takes within `budget` without blocking on a peer that stopped
  // reading; the bytes written.
  size_t WriteWithin(const std::string& bytes, std::chrono::milliseconds budget) {
    const auto deadline = std::chrono::steady_clock::now() + budget;
    size_t done = 0;
    while (done < bytes.size() && std::chrono::steady_clock::now() < deadline) {
      ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, 50);
    }
    return done;
  }
  // Closes with a reset (SO_LINGER 0), as a process that dies with unread data does.
  void Reset() {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd_);
    fd_ = -1;
  }

  // The next frame, or nullopt at end of stream / after 10 s.
  std::optional<std::pair<frame::Header, std::string>> ReadFrame() {
    std::string header;
    if (!ReadExactly(frame::kHeaderBytes, &header)) return std::nullopt;
    auto h = frame::ReadHeader(header.data(), frame::kDefaultMaxFrameBytes);
    if (!h.ok()) return std::nullopt;
    std::string payload;
    if (!ReadExactly(h->payload_bytes, &payload)) return std::nullopt;
    return std::make_pair(*h, payload);
  }

  // A byte (or the end of the stream) is waiting to be read.
  bool Readable() {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }

  // True when the peer closed the connection (within 10 s).
  bool ClosedByPeer() {
    std::string ignored;
    return !ReadExactly(1, &ignored) && eof_;
  }

 private:
  bool ReadExactly(size_t n, std::string* out) {
    out->resize(n);
    size_t got = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (got < n) {
      pollfd p{fd_, POLLIN, 0};
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      ssize_t r = ::recv(fd_, out->data() + got, n - got, 0);
      if (r <= 0) {
        eof_ = true;
        return false;
      }
      got += static_cast<size_t>(r);
    }
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
};

// What a broker does with a frame it cannot take: one reply under request id 0, INVALID_ARGUMENT
// with a message starting with `field` ("frame.magic", ...), then the hang-up.
inline ::testing::AssertionResult RefusedThenHungUp(FrameClient& c, const std::string& field) {
  auto f = c.ReadFrame();
  if (!f.has_value()) return ::testing::AssertionFailure() << "no reason given";
  if (f->first.request_id != 0 || f->first.code != StatusCode::kInvalidArgument ||
      f->second.rfind(field, 0) != 0) {
    return ::testing::AssertionFailure() << "request id " << f->first.request_id << ", code "
                                         << static_cast<int>(f->first.code) << ": " << f->second;
  }
  if (!c.ClosedByPeer()) return ::testing::AssertionFailure() << "the connection stayed open";
  return ::testing::AssertionSuccess();
}

inline std::string SendFrame(uint64_t id, const std::string& payload,
                             frame::Method method = frame::Method::kSendMessage) {
  frame::Header h;
  h.kind = frame::Kind::kRequest;
  h.method = method;
  h.request_id = id;
  std::string out;
  frame::AppendFrame(h, payload, &out);
  return out;
}

inline std::string SendRequest(const std::string& topic, const std::string& body, int32_t queue_id = 0) {
  mq::v1::SendMessageRequest req;
  req.set_producer_group("fast_producer");
  req.set_topic(topic);
  req.set_queue_id(queue_id);
  *req.add_messages() = TextMessage(body, "TagA", "key-" + body.substr(0, 64));
  return req.SerializeAsString();
}

}  // namespace mq::testing
