#include "fault/network/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>

namespace mq::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kTickMs = 20;
constexpr size_t kMaxQueuedBytes = 4 << 20;  // per direction; beyond it the proxy stops reading

// SO_LINGER 0 makes close() send RST instead of FIN: the peer sees ECONNRESET mid-stream.
void ResetClose(int fd) {
  if (fd < 0) return;
  linger l{1, 0};
  (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(fd);
}

void SetNonBlocking(int fd) {
  (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

struct Chunk {
  Clock::time_point due;
  std::string data;
  size_t written = 0;
};

// One direction of a connection: bytes read from `from` wait in `queue` until due.
struct Direction {
  int from;
  int to;
  std::deque<Chunk> queue;
  size_t queued = 0;
  bool eof = false;        // `from` closed its sending side
  bool shut_down = false;  // passed on to `to`
};

}  // namespace

TcpProxy::TcpProxy(std::string upstream)
    : upstream_host_(upstream.substr(0, upstream.rfind(':'))),
      upstream_port_(std::atoi(upstream.substr(upstream.rfind(':') + 1).c_str())) {}

TcpProxy::~TcpProxy() { Stop(); }

bool TcpProxy::Start() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd_ < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 64) != 0 || getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::fprintf(stderr, "tcp proxy: cannot listen: %s\n", std::strerror(errno));
    close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return true;
}

void TcpProxy::Stop() {
  stop_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : conns_) {
    if (c->thread.joinable()) c->thread.join();
  }
  conns_.clear();
}

std::string TcpProxy::address() const { return "127.0.0.1:" + std::to_string(port_); }

void TcpProxy::SetMode(Mode mode) {
  mode_ = mode;
  const uint64_t epoch = ++mode_epoch_;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline) {
    bool all_seen = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& c : conns_) all_seen &= c->done || c->seen_mode >= epoch;
    }
    if (all_seen) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::fprintf(stderr, "tcp proxy: a connection did not see the mode change within 5 s\n");
}

void TcpProxy::ResetAll() { ++reset_epoch_; }

void TcpProxy::FreezeLive() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& c : conns_) c->frozen = true;
  }
  SetMode(mode_);  // returns once every pump saw the flag
}

void TcpProxy::ReapFinished() {
  for (auto it = conns_.begin(); it != conns_.end();) {
    if ((*it)->done) {
      (*it)->thread.join();
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
}

void TcpProxy::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, kTickMs) <= 0) continue;
    int client = accept(listen_fd_, nullptr, nullptr);
    if (client < 0) continue;
    ++accepted_;
    if (mode_ == Mode::kRefuse) {
      ResetClose(client);
      ++resets_;
      continue;
    }
    int upstream = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(upstream_port_));
    inet_pton(AF_INET, upstream_host_.c_str(), &addr.sin_addr);
    if (upstream < 0 || connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ResetClose(upstream);
      ResetClose(client);
      ++resets_;
      continue;
    }
    SetNonBlocking(client);
    SetNonBlocking(upstream);
    std::lock_guard<std::mutex> lock(mu_);
    ReapFinished();
    auto conn = std::make_unique<Conn>();
    conn->client_fd = client;
    conn->upstream_fd = upstream;
    conn->reset_epoch = reset_epoch_;
    seed_ = seed_ * 6364136223846793005ULL + 1442695040888963407ULL;
    const double reset_factor = 0.5 + static_cast<double>((seed_ >> 33) % 1000) / 1000.0;
    Conn* raw = conn.get();
    conn->thread = std::thread([this, raw, reset_factor] { Pump(raw, reset_factor); });
    conns_.push_back(std::move(conn));
  }
}

void TcpProxy::Pump(Conn* c, double reset_factor) {
  Direction dirs[2] = {{c->client_fd, c->upstream_fd, {}, 0, false, false},
                       {c->upstream_fd, c->client_fd, {}, 0, false, false}};
  int64_t forwarded = 0;
  bool reset = false;
  static thread_local char buf[64 * 1024];
  while (!stop_ && !reset) {
    // The epoch is read before the mode: once a pump stores an epoch it acts on that mode
    // or a newer one, and it does no I/O between here and the next check.
    c->seen_mode = mode_epoch_.load();
    const Mode mode = mode_.load();
    const auto reset_after = static_cast<int64_t>(reset_factor * static_cast<double>(reset_after_.load()));
    if (mode == Mode::kRefuse || reset_epoch_ > c->reset_epoch ||
        (reset_after > 0 && forwarded >= reset_after)) {
      reset = true;
      break;
    }
    // A held direction neither reads nor writes: its bytes wait in the kernel buffers.
    const bool frozen = c->frozen;
    const bool held[2] = {frozen || mode == Mode::kStall || mode == Mode::kStallToUpstream,
                          frozen || mode == Mode::kStall || mode == Mode::kStallToClient};
    if (held[0] && held[1]) {
      (void)poll(nullptr, 0, kTickMs);
      continue;
    }
    if (dirs[0].shut_down && dirs[1].shut_down) break;
    const auto now = Clock::now();
    int timeout = kTickMs;
    pollfd fds[2] = {{c->client_fd, 0, 0}, {c->upstream_fd, 0, 0}};
    for (int d = 0; d < 2; ++d) {
      Direction& dir = dirs[d];
      if (held[d]) continue;
      if (!dir.eof && dir.queued < kMaxQueuedBytes) fds[d].events |= POLLIN;
      if (!dir.queue.empty()) {
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(dir.queue.front().due - now);
        if (wait.count() <= 0) {
          fds[1 - d].events |= POLLOUT;
        } else {
          timeout = std::min<int>(timeout, static_cast<int>(wait.count()) + 1);
        }
      }
    }
    if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
      reset = true;
      break;
    }
    for (int d = 0; d < 2 && !reset; ++d) {
      Direction& dir = dirs[d];
      if (held[d]) continue;
      if ((fds[d].events & POLLIN) && (fds[d].revents & (POLLIN | POLLHUP | POLLERR))) {
        const ssize_t n = read(dir.from, buf, sizeof(buf));
        if (n > 0) {
          dir.queue.push_back(Chunk{Clock::now() + std::chrono::milliseconds(delay_ms_.load()),
                                    std::string(buf, static_cast<size_t>(n)), 0});
          dir.queued += static_cast<size_t>(n);
        } else if (n == 0) {
          dir.eof = true;
        } else if (errno != EAGAIN && errno != EINTR) {
          reset = true;  // the peer reset: pass the reset on
        }
      }
      while (!reset && !dir.queue.empty() && dir.queue.front().due <= Clock::now()) {
        Chunk& chunk = dir.queue.front();
        // MSG_NOSIGNAL: a peer that reset must not SIGPIPE the test process.
        const ssize_t w =
            send(dir.to, chunk.data.data() + chunk.written, chunk.data.size() - chunk.written, MSG_NOSIGNAL);
        if (w < 0) {
          if (errno != EAGAIN && errno != EINTR) reset = true;
          break;
        }
        chunk.written += static_cast<size_t>(w);
        dir.queued -= static_cast<size_t>(w);
        forwarded += w;
        forwarded_ += w;
        if (chunk.written == chunk.data.size()) dir.queue.pop_front();
      }
      if (dir.eof && dir.queue.empty() && !dir.shut_down) {
        (void)shutdown(dir.to, SHUT_WR);
        dir.shut_down = true;
      }
    }
  }
  if (reset) {
    ResetClose(c->client_fd);
    ResetClose(c->upstream_fd);
    ++resets_;
  } else {
    close(c->client_fd);
    close(c->upstream_fd);
  }
  c->done = true;
}

}  // namespace mq::testing
