// A clustering push consumer: the group's consumers share the topic's queues. Runs for 30 s.
#include "mq/client/push_consumer.h"

#include <chrono>
#include <cstdio>
#include <thread>

int main(int argc, char** argv) {
  mq::client::PushConsumerOptions options;
  options.client.namesrv_addrs = {argc > 1 ? argv[1] : "127.0.0.1:9876"};
  options.group = "example_consumer";
  options.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
  mq::client::PushConsumer consumer(options);
  if (auto s = consumer.Subscribe("ExampleTopic", "TagA || TagB"); !s.ok()) {
    std::fprintf(stderr, "subscribe: %s\n", s.ToString().c_str());
    return 1;
  }
  consumer.RegisterListener([](const std::vector<mq::client::ReceivedMessage>& msgs) {
    for (const auto& m : msgs) {
      std::printf("%s offset %lld: %s\n", m.queue.ToString().c_str(), static_cast<long long>(m.queue_offset),
                  m.message.body.c_str());
    }
    // kRetryLater sends the message back: it returns through %RETRY%<group> after 10 s, 30 s,
    // 1 m, ... and lands in %DLQ%<group> after max_reconsume_times (default 16).
    return mq::client::ConsumeResult::kSuccess;
  });
  if (auto s = consumer.Start(); !s.ok()) {
    std::fprintf(stderr, "start: %s\n", s.ToString().c_str());
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(30));
  consumer.Shutdown();  // commits offsets: a restart continues where this one stopped
  return 0;
}
