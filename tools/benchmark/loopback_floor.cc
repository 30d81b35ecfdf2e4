// loopback_floor: what this machine charges for one request/reply hop between two processes,
// with no broker in between: the floor under mqbench's end-to-end figures.
//
// A paced client sends --bytes every 1/--rate seconds over TCP on 127.0.0.1 to a forked echo
// process and waits for the echo (one request in flight, TCP_NODELAY, blocking sockets). It
// prints the round trips achieved per second, their latency (p50/p99/max) and the CPU (user +
// sys) each process used per round trip. A message that travels alone through the broker
// costs at least two such round trips (send and its reply; pull reply and the next pull).
//
//   loopback_floor --rate 10000 --seconds 3 [--bytes 1024]
//
// Single-threaded in each process; loopback only.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"

namespace {

using Clock = std::chrono::steady_clock;

bool ReadFully(int fd, char* data, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd, data + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

bool WriteFully(int fd, const char* data, size_t n) {
  size_t put = 0;
  while (put < n) {
    const ssize_t r = ::send(fd, data + put, n - put, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    put += static_cast<size_t>(r);
  }
  return true;
}

void NoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

double CpuSeconds(const rusage& u) {
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The echo process: answers every request until the client hangs up.
[[noreturn]] void Echo(int listener, size_t bytes) {
  const int fd = ::accept(listener, nullptr, nullptr);
  if (fd < 0) ::_exit(1);
  NoDelay(fd);
  std::vector<char> buffer(bytes);
  while (ReadFully(fd, buffer.data(), bytes) && WriteFully(fd, buffer.data(), bytes)) {
  }
  ::_exit(0);
}

// The --stream echo: writes back what each read returned, as the messages came.
[[noreturn]] void StreamEcho(int listener) {
  const int fd = ::accept(listener, nullptr, nullptr);
  if (fd < 0) ::_exit(1);
  NoDelay(fd);
  std::vector<char> buffer(256 * 1024);
  for (;;) {
    const ssize_t r = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || !WriteFully(fd, buffer.data(), static_cast<size_t>(r))) ::_exit(0);
  }
}

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// --stream: paces `total` messages of `bytes` (at least 8: the stamp) at `rate` over fd and
// returns each one's latency in microseconds, or an empty vector when the echo hung up.
std::vector<int64_t> Stream(int fd, int64_t rate, int64_t total, size_t bytes) {
  std::vector<int64_t> latencies_us;
  latencies_us.reserve(static_cast<size_t>(total));
  std::thread reader([&] {  // one recv takes whatever arrived, as a consumer's IO thread would
    std::vector<char> in(256 * 1024 + bytes);
    size_t have = 0;
    while (static_cast<int64_t>(latencies_us.size()) < total) {
      const ssize_t r = ::recv(fd, in.data() + have, in.size() - have, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return;
      have += static_cast<size_t>(r);
      const int64_t now = NowNanos();
      size_t at = 0;
      for (; have - at >= bytes; at += bytes) {
        int64_t stamp = 0;
        std::memcpy(&stamp, in.data() + at, sizeof stamp);
        latencies_us.push_back((now - stamp) / 1000);
      }
      std::memmove(in.data(), in.data() + at, have - at);
      have -= at;
    }
  });
  constexpr int64_t kMostPerWrite = 256;
  std::vector<char> batch(bytes * kMostPerWrite, 'x');
  const auto start = Clock::now();
  bool ok = true;
  for (int64_t i = 0; i < total && ok;) {
    std::this_thread::sleep_until(start + std::chrono::microseconds(i * 1'000'000 / rate));
    const int64_t due_by_now =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count() * rate /
            1'000'000 +
        1;
    const int64_t n = std::clamp<int64_t>(due_by_now - i, 1, std::min(kMostPerWrite, total - i));
    const int64_t stamp = NowNanos();
    for (int64_t k = 0; k < n; ++k) std::memcpy(batch.data() + k * bytes, &stamp, sizeof stamp);
    ok = WriteFully(fd, batch.data(), static_cast<size_t>(n) * bytes);
    i += n;
  }
  if (!ok) ::shutdown(fd, SHUT_RDWR);
  reader.join();
  if (static_cast<int64_t>(latencies_us.size()) != total) latencies_us.clear();
  return latencies_us;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rate = 10000;
  double seconds = 3;
  size_t bytes = 1024;
  CLI::App app{"CPU and latency of one loopback TCP round trip between two processes, paced"};
  app.add_option("--rate", rate, "round trips per second asked for")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  app.add_option("--seconds", seconds, "run length")->check(CLI::Range(0.1, 600.0));
  app.add_option("--bytes", bytes, "request and reply size")->check(CLI::Range(size_t{1}, size_t{1} << 20));
  bool stream = false;
  app.add_flag("--stream", stream, "pace a one-way stream through the echo (see the file's comment)");
  CLI11_PARSE(app, argc, argv);
  if (stream && bytes < sizeof(int64_t)) {
    std::fprintf(stderr, "loopback_floor: --bytes must be at least 8 with --stream\n");
    return 2;
  }
  const auto total = static_cast<int64_t>(static_cast<double>(rate) * seconds);
  if (total < 1) {
    std::fprintf(stderr, "loopback_floor: --rate times --seconds must be at least 1 message\n");
    return 2;
  }

  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::fprintf(stderr, "loopback_floor: cannot listen on 127.0.0.1: %s\n", std::strerror(errno));
    return 1;
  }
  const pid_t echo = ::fork();
  if (echo < 0) {
    std::fprintf(stderr, "loopback_floor: fork: %s\n", std::strerror(errno));
    return 1;
  }
  if (echo == 0) stream ? StreamEcho(listener) : Echo(listener, bytes);
  ::close(listener);
  // Every early exit takes the echo process with it (it would wait in accept or recv forever).
  auto fail = [echo](const char* what) {
    std::fprintf(stderr, "loopback_floor: %s\n", what);
    ::kill(echo, SIGKILL);
    ::waitpid(echo, nullptr, 0);
    return 1;
  };
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return fail(std::strerror(errno));
  }
  NoDelay(fd);

  std::vector<char> buffer(bytes, 'x');
  std::vector<int64_t> latencies_us;
  latencies_us.reserve(static_cast<size_t>(total));
  rusage before{};
  ::getrusage(RUSAGE_SELF, &before);
  const auto start = Clock::now();
  if (stream) {
    latencies_us = Stream(fd, rate, total, bytes);
    if (latencies_us.empty()) return fail("the echo process hung up");
  } else {
    for (int64_t i = 0; i < total; ++i) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(i * 1'000'000 / rate));
      const auto sent = Clock::now();
      if (!WriteFully(fd, buffer.data(), bytes) || !ReadFully(fd, buffer.data(), bytes)) {
        return fail("the echo process hung up");
      }
      latencies_us.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent).count());
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  rusage after{};
  ::getrusage(RUSAGE_SELF, &after);
  ::close(fd);
  int status = 0;
  ::waitpid(echo, &status, 0);
  rusage echo_usage{};
  ::getrusage(RUSAGE_CHILDREN, &echo_usage);

  const double n = static_cast<double>(total);
  const double client_us = (CpuSeconds(after) - CpuSeconds(before)) * 1e6 / n;
  const double echo_us = CpuSeconds(echo_usage) * 1e6 / n;
  const double p50 = mq::bench::PercentileMs(latencies_us, 0.5);
  const double p99 = mq::bench::PercentileMs(latencies_us, 0.99);
  const double max = mq::bench::PercentileMs(latencies_us, 1.0);
  std::printf(
      "rate %lld/s asked, %.0f/s achieved, %zu B: round trip p50 %.3f ms, p99 %.3f ms, max %.3f ms; "
      "CPU per round trip: client %.1f us, echo %.1f us (%.2f cores)\n",
      static_cast<long long>(rate), n / elapsed, bytes, p50, p99, max, client_us, echo_us,
      (client_us + echo_us) * n / 1e6 / elapsed);
  return 0;
}
