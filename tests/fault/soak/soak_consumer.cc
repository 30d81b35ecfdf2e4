// soak_consumer: an orderly push consumer run as its own process by soak_test, so the test
// can kill -9 it. Every delivered message becomes one line appended to <out_file>:
//   <queue_id> <queue_offset> <wall clock µs at delivery> <body>\n
// written with one write(2) before the listener returns success, so a line on disk means the
// message was delivered (it survives kill -9 of this process: the page cache keeps it).
// Usage: soak_consumer <namesrv> <group> <topic> <out_file>; SIGTERM/SIGINT shut down cleanly.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "mq/client/push_consumer.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s <namesrv> <group> <topic> <out_file>\n", argv[0]);
    return 2;
  }
  // Blocked before any client thread starts, so only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const int fd = open(argv[4], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::perror(argv[4]);
    return 1;
  }
  mq::client::PushConsumerOptions o;
  o.client.namesrv_addrs = {argv[1]};
  o.client.instance_name = "soak-" + std::to_string(getpid());
  o.client.route_refresh_ms = 500;
  o.client.heartbeat_ms = 1000;
  o.group = argv[2];
  o.orderly = true;
  o.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
  o.rebalance_interval_ms = 1000;
  o.commit_interval_ms = 500;
  o.pull_suspend_ms = 2000;
  o.retry_delay_ms = 100;
  o.consume_threads = 4;
  mq::client::PushConsumer consumer(o);
  if (auto s = consumer.Subscribe(argv[3]); !s.ok()) {
    std::fprintf(stderr, "subscribe: %s\n", s.ToString().c_str());
    return 1;
  }
  consumer.RegisterListener([fd](const std::vector<mq::client::ReceivedMessage>& msgs) {
    for (const auto& m : msgs) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
      const std::string line = std::to_string(m.queue.queue_id) + " " + std::to_string(m.queue_offset) + " " +
                               std::to_string(us) + " " + m.message.body + "\n";
      if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        return mq::client::ConsumeResult::kRetryLater;  // not recorded: not consumed
      }
    }
    return mq::client::ConsumeResult::kSuccess;
  });
  if (auto s = consumer.Start(); !s.ok()) {
    std::fprintf(stderr, "start: %s\n", s.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "soak_consumer %d started\n", getpid());
  int sig = 0;
  sigwait(&stop_signals, &sig);
  consumer.Shutdown();
  close(fd);
  return 0;
}
