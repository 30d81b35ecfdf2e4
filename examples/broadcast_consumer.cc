// A broadcasting consumer: every instance gets every message; progress is kept in
// <offset_dir>/<instance_name>/<group>/offsets.json, so a restart resumes locally.
#include <chrono>
#include <cstdio>
#include <thread>

#include "mq/client/push_consumer.h"

int main(int argc, char** argv) {
  mq::client::PushConsumerOptions options;
  options.client.namesrv_addrs = {argc > 1 ? argv[1] : "127.0.0.1:9876"};
  options.client.instance_name = argc > 2 ? argv[2] : "example-instance";
  options.group = "example_broadcast";
  options.model = mq::client::MessageModel::kBroadcasting;
  options.offset_dir = "/tmp/mq_example_offsets";
  mq::client::PushConsumer consumer(options);
  if (auto s = consumer.Subscribe("ExampleTopic", "*"); !s.ok()) return 1;
  consumer.RegisterListener([](const std::vector<mq::client::ReceivedMessage>& msgs) {
    for (const auto& m : msgs) std::printf("%s: %s\n", m.msg_id.c_str(), m.message.body.c_str());
    return mq::client::ConsumeResult::kSuccess;
  });
  if (auto s = consumer.Start(); !s.ok()) {
    std::fprintf(stderr, "start: %s\n", s.ToString().c_str());
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(30));
  consumer.Shutdown();
  return 0;
}
