// BlackHoleListener: a TCP listener on 127.0.0.1 (ephemeral port) that accepts connections
// and never reads or answers, like a host whose process hangs or whose network drops replies.
// gRPC calls to it wait for their deadline. A background thread accepts (poll with a 50 ms
// timeout so the destructor stops it promptly); the accepted sockets stay open until the
// destructor. With accept = false it only listens, and the test accepts on fd() itself (a fake
// server). Not copyable; one per test.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace mq::testing {

class BlackHoleListener {
 public:
  explicit BlackHoleListener(bool accept = true) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd_, 64) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    if (!accept) return;
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int c = ::accept(fd_, nullptr, nullptr);
        if (c >= 0) accepted_.push_back(c);
      }
    });
  }
  ~BlackHoleListener() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (int c : accepted_) ::close(c);
    if (fd_ >= 0) ::close(fd_);
  }
  BlackHoleListener(const BlackHoleListener&) = delete;
  BlackHoleListener& operator=(const BlackHoleListener&) = delete;

  bool ok() const { return port_ > 0; }
  int fd() const { return fd_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<int> accepted_;  // touched by thread_ only until it is joined
};

}  // namespace mq::testing
