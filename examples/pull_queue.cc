// Lite pull: subscribe to every queue of a topic, poll, and commit by hand.
#include <cstdio>

#include "mq/client/pull_consumer.h"

int main(int argc, char** argv) {
  mq::client::PullConsumerOptions options;
  options.client.namesrv_addrs = {argc > 1 ? argv[1] : "127.0.0.1:9876"};
  options.group = "example_pull";
  options.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
  options.auto_commit = false;
  mq::client::PullConsumer consumer(options);
  if (auto s = consumer.Start(); !s.ok()) return 1;
  if (auto s = consumer.Subscribe("ExampleTopic", "*"); !s.ok()) {
    std::fprintf(stderr, "subscribe: %s\n", s.ToString().c_str());
    return 1;
  }
  int empty_polls = 0;
  while (empty_polls < 3) {
    auto msgs = consumer.Poll(1000);
    if (!msgs.ok()) {
      std::fprintf(stderr, "poll: %s\n", msgs.status().ToString().c_str());
      return 1;
    }
    if (msgs->empty()) {
      ++empty_polls;
      continue;
    }
    for (const auto& m : *msgs) {
      std::printf("%s offset %lld: %s\n", m.queue.ToString().c_str(), static_cast<long long>(m.queue_offset),
                  m.message.body.c_str());
    }
    if (auto s = consumer.Commit(); !s.ok()) std::fprintf(stderr, "commit: %s\n", s.ToString().c_str());
  }
  // Seek rewinds a queue, e.g. to replay it from the beginning.
  for (const auto& q : consumer.Assignment()) (void)consumer.Seek(q, 0);
  consumer.Shutdown();
  return 0;
}
