// Sends 10 messages synchronously, 10 asynchronously and one batch.
#include "mq/client/producer.h"

#include <atomic>
#include <cstdio>
#include <thread>

int main(int argc, char** argv) {
  mq::client::ProducerOptions options;
  options.client.namesrv_addrs = {argc > 1 ? argv[1] : "127.0.0.1:9876"};
  options.group = "example_producer";
  mq::client::Producer producer(options);
  if (auto s = producer.Start(); !s.ok()) {
    std::fprintf(stderr, "start: %s\n", s.ToString().c_str());
    return 1;
  }
  for (int i = 0; i < 10; ++i) {
    auto msg = mq::client::MakeMessage("ExampleTopic", "hello " + std::to_string(i), "TagA");
    auto result = producer.Send(msg);
    if (!result.ok()) {
      std::fprintf(stderr, "send: %s\n", result.status().ToString().c_str());
      return 1;
    }
    std::printf("sent %s to %s offset %lld\n", result->msg_id.c_str(), result->queue.ToString().c_str(),
                static_cast<long long>(result->queue_offset));
  }
  std::atomic<int> pending{10};
  for (int i = 0; i < 10; ++i) {
    producer.SendAsync(mq::client::MakeMessage("ExampleTopic", "async " + std::to_string(i)),
                       [&](const mq::Result<mq::client::SendResult>& r) {
                         std::printf("async: %s\n",
                                     r.ok() ? r->msg_id.c_str() : r.status().ToString().c_str());
                         --pending;
                       });
  }
  while (pending.load() > 0) std::this_thread::yield();
  std::vector<mq::client::Message> batch;
  for (int i = 0; i < 5; ++i)
    batch.push_back(mq::client::MakeMessage("ExampleTopic", "batch " + std::to_string(i)));
  auto r = producer.SendBatch(batch);
  std::printf("batch: %s\n", r.ok() ? "ok" : r.status().ToString().c_str());
  producer.Shutdown();
  return 0;
}
