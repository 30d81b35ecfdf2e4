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
  CLI11_PARSE(app, argc, argv);

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
  if (echo == 0) Echo(listener, bytes);
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
  const auto total = static_cast<int64_t>(static_cast<double>(rate) * seconds);
  std::vector<int64_t> latencies_us;
  latencies_us.reserve(static_cast<size_t>(total));
  rusage before{};
  ::getrusage(RUSAGE_SELF, &before);
  const auto start = Clock::now();
  for (int64_t i = 0; i < total; ++i) {
    std::this_thread::sleep_until(start + std::chrono::microseconds(i * 1'000'000 / rate));
    const auto sent = Clock::now();
    if (!WriteFully(fd, buffer.data(), bytes) || !ReadFully(fd, buffer.data(), bytes)) {
      return fail("the echo process hung up");
    }
    latencies_us.push_back(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent).count());
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
