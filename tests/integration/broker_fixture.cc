#include "broker_fixture.h"

#include <grpcpp/grpcpp.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>

#include "common/rpc/grpc_defaults.h"
#include "grpc_test_util.h"
#include "testutil/wait.h"

namespace mq::testing {

BrokerProcess::BrokerProcess(BrokerOptions options) : options_(std::move(options)) {}

bool BrokerProcess::Start() {
  std::filesystem::create_directories(options_.store_dir);
  std::string ready = options_.store_dir + "/ready." + std::to_string(++starts_);
  const std::string store_path =
      options_.store_path.empty() ? options_.store_dir + "/store" : options_.store_path;
  std::vector<std::string> args = {"--listen-port", "0",
                                   "--store-dir",   store_path,
                                   "--ready-file",  ready,
                                   "--set",         "brokerName=" + options_.broker_name,
                                   "--set",         "brokerIP1=127.0.0.1",
                                   "--set",         "bindAddress=127.0.0.1",
                                   "--set",         "mappedFileSizeCommitLog=4194304",
                                   "--set",         "maxMessageSize=1048576",
                                   "--set",         "registerNameServerPeriod=1000",
                                   "--set",         "flushConsumerOffsetInterval=500"};
  if (!options_.config_file.empty()) {
    args.push_back("-c");
    args.push_back(options_.config_file);
  }
  if (!options_.namesrv_addr.empty()) {
    args.push_back("-n");
    args.push_back(options_.namesrv_addr);
  }
  for (const auto& s : options_.sets) {
    args.push_back("--set");
    args.push_back(s);
  }
  address_.clear();
  v2_address_.clear();
  fast_address_.clear();
  if (!process_.Start(BinaryPath("mqbroker"), args, options_.store_dir + "/broker.out")) return false;
  // A broker that refuses to start (bad config, damaged store) exits: stop waiting then.
  std::optional<std::string> addr;
  std::string line;
  WaitUntil(
      [&] {
        // Written atomically (rename): both lines are there once the first is.
        std::ifstream in(ready);
        std::string content;
        if (in && std::getline(in, content) && !content.empty()) {
          addr = content;
          while (std::getline(in, line)) {
            if (line.rfind("v2=", 0) == 0) v2_address_ = line.substr(3);
            if (line.rfind("fast=", 0) == 0) fast_address_ = line.substr(5);
          }
        }
        return addr.has_value() || !process_.running();
      },
      std::chrono::seconds(20));
  if (!addr) return false;
  address_ = *addr;
  // The ready file holds the advertised address (brokerIP1); the broker binds 127.0.0.1.
  auto channel = rpc::CreateChannel("127.0.0.1" + address_.substr(address_.rfind(':')));
  messaging_ = mq::v1::Messaging::NewStub(channel);
  admin_ = mq::v1::BrokerAdmin::NewStub(channel);
  return true;
}

int BrokerProcess::Stop() {
  process_.Signal(SIGTERM);
  auto status = process_.Wait(std::chrono::seconds(20));
  if (!status) return -1;
  return WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
}

std::string RuntimeValue(mq::v1::BrokerAdmin::Stub* admin, const std::string& key) {
  using Admin = mq::v1::BrokerAdmin::Stub;
  mq::v1::GetBrokerRuntimeInfoResponse info;
  if (!Call(admin, &Admin::GetBrokerRuntimeInfo, mq::v1::GetBrokerRuntimeInfoRequest(), &info).ok())
    return "";
  auto it = info.table().find(key);
  return it == info.table().end() ? "" : it->second;
}

void CreateTopic(BrokerProcess& b, const std::string& topic, int queues) {
  mq::v1::CreateTopicRequest req;
  req.mutable_config()->set_topic_name(topic);
  req.mutable_config()->set_read_queue_nums(queues);
  req.mutable_config()->set_write_queue_nums(queues);
  req.mutable_config()->set_perm(6);
  mq::v1::CreateTopicResponse resp;
  ASSERT_GRPC_OK(Call(b.admin(), &mq::v1::BrokerAdmin::Stub::CreateTopic, req, &resp));
}

bool HasTopic(BrokerProcess& b, const std::string& topic) {
  mq::v1::GetTopicConfigRequest req;
  req.set_topic(topic);
  mq::v1::GetTopicConfigResponse resp;
  return Call(b.admin(), &mq::v1::BrokerAdmin::Stub::GetTopicConfig, req, &resp).ok() &&
         resp.configs_size() == 1;
}

bool WaitForMaxOffset(mq::v1::Messaging::Stub* stub, const std::string& topic, int32_t queue_id,
                      int64_t at_least) {
  return WaitUntil(
      [&] {
        mq::v1::GetQueueOffsetsRequest req;
        req.mutable_queue()->set_topic(topic);
        req.mutable_queue()->set_queue_id(queue_id);
        mq::v1::GetQueueOffsetsResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        return stub->GetQueueOffsets(&ctx, req, &resp).ok() && resp.max_offset() >= at_least;
      },
      std::chrono::seconds(10));
}

mq::v1::Message TextMessage(const std::string& body, const std::string& tags, const std::string& keys) {
  mq::v1::Message m;
  m.set_body(body);
  m.set_tags(tags);
  if (!keys.empty()) m.add_keys(keys);
  m.set_born_timestamp(1);
  m.set_born_host("127.0.0.1:5555");
  return m;
}

grpc::Status Send(mq::v1::Messaging::Stub* stub, const std::string& topic, int32_t queue_id,
                  const std::vector<mq::v1::Message>& messages, mq::v1::SendMessageResponse* response) {
  mq::v1::SendMessageRequest req;
  req.set_producer_group("test_producer");
  req.set_topic(topic);
  req.set_queue_id(queue_id);
  for (const auto& m : messages) *req.add_messages() = m;
  mq::v1::SendMessageResponse ignored;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return stub->SendMessage(&ctx, req, response ? response : &ignored);
}

grpc::Status SendPrepared(mq::v1::Messaging::Stub* stub, const std::string& producer_group,
                          const std::string& topic, const mq::v1::Message& message,
                          mq::v1::SendMessageResponse* response) {
  mq::v1::SendMessageRequest req;
  req.set_producer_group(producer_group);
  req.set_topic(topic);
  req.set_queue_id(0);
  req.set_transaction_prepared(true);
  *req.add_messages() = message;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return stub->SendMessage(&ctx, req, response);
}

grpc::Status Pull(mq::v1::Messaging::Stub* stub, const std::string& group, const std::string& topic,
                  int32_t queue_id, int64_t offset, mq::v1::PullMessageResponse* response, int64_t hold_ms,
                  const std::string& subscription) {
  mq::v1::PullMessageRequest req;
  req.set_consumer_group(group);
  req.set_topic(topic);
  req.set_queue_id(queue_id);
  req.set_queue_offset(offset);
  req.set_max_msg_nums(32);
  req.set_subscription(subscription);
  req.set_suspend_timeout_millis(hold_ms);
  req.set_client_id("test-client");
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(hold_ms + 10000));
  return stub->PullMessage(&ctx, req, response);
}

std::vector<std::string> PullAllBodies(mq::v1::Messaging::Stub* stub, const std::string& topic,
                                       int32_t queue_id) {
  std::vector<std::string> bodies;
  int64_t offset = 0;
  for (int round = 0; round < 1000; ++round) {
    mq::v1::PullMessageResponse r;
    if (!Pull(stub, "reader", topic, queue_id, offset, &r).ok() || r.status() != mq::v1::FOUND) break;
    for (const auto& m : r.messages()) bodies.push_back(m.message().body());
    offset = r.next_begin_offset();
  }
  return bodies;
}

}  // namespace mq::testing
