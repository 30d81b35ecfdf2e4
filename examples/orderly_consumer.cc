// Sends orders with a selector key, then consumes them orderly: per key in send order.
#include <chrono>
#include <cstdio>
#include <thread>

#include "mq/client/producer.h"
#include "mq/client/push_consumer.h"

int main(int argc, char** argv) {
  const std::string namesrv = argc > 1 ? argv[1] : "127.0.0.1:9876";
  mq::client::ProducerOptions popts;
  popts.client.namesrv_addrs = {namesrv};
  mq::client::Producer producer(popts);
  if (auto s = producer.Start(); !s.ok()) return 1;
  auto selector = mq::client::HashSelector();
  for (int step = 0; step < 3; ++step) {
    for (const std::string order : {"order-1", "order-2"}) {
      auto msg = mq::client::MakeMessage("OrderTopic", order + " step " + std::to_string(step));
      auto r = producer.Send(msg, selector, order);  // same order id -> same queue
      if (!r.ok()) std::fprintf(stderr, "send: %s\n", r.status().ToString().c_str());
    }
  }
  producer.Shutdown();

  mq::client::PushConsumerOptions copts;
  copts.client.namesrv_addrs = {namesrv};
  copts.group = "example_orderly";
  copts.orderly = true;  // locks queues on the broker; one thread per queue at a time
  copts.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
  mq::client::PushConsumer consumer(copts);
  (void)consumer.Subscribe("OrderTopic");
  consumer.RegisterListener([](const std::vector<mq::client::ReceivedMessage>& msgs) {
    for (const auto& m : msgs) std::printf("%s: %s\n", m.queue.ToString().c_str(), m.message.body.c_str());
    return mq::client::ConsumeResult::kSuccess;
  });
  if (auto s = consumer.Start(); !s.ok()) return 1;
  std::this_thread::sleep_for(std::chrono::seconds(10));
  consumer.Shutdown();
  return 0;
}
