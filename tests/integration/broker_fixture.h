// Starts a real mqbroker process on 127.0.0.1 (ephemeral port, store in a temp dir that can
// be reused across restarts) and gives tests stubs for its Messaging and BrokerAdmin services.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mq/v1/admin.grpc.pb.h"
#include "mq/v1/broker.grpc.pb.h"
#include "testutil/process.h"

namespace mq::testing {

struct BrokerOptions {
  std::string namesrv_addr;  // empty: no registration
  std::string store_dir;     // required
  std::string broker_name = "broker-a";
  std::vector<std::string> sets;  // extra key=value settings
  std::string store_path = "";    // storePathRootDir; empty: store_dir + "/store"
  std::string config_file = "";   // -c FILE; empty: none
};

class BrokerProcess {
 public:
  explicit BrokerProcess(BrokerOptions options);
  bool Start();  // (re)starts with the same store dir; false if it did not become ready
  bool started() const { return !address_.empty(); }
  const std::string& address() const { return address_; }
  // brokerIP1:port of the apache.rocketmq.v2 service ("" unless started with grpcServerPort
  // set; grpcServerPort=-1 picks a free port).
  const std::string& v2_address() const { return v2_address_; }
  // brokerIP1:port of the fast send port ("" when not served, e.g. fastSendEnable=false).
  const std::string& fast_address() const { return fast_address_; }
  mq::v1::Messaging::Stub* messaging() { return messaging_.get(); }
  mq::v1::BrokerAdmin::Stub* admin() { return admin_.get(); }
  ChildProcess& process() { return process_; }
  // SIGTERM and wait; returns the exit code (-1 on timeout).
  int Stop();

 private:
  BrokerOptions options_;
  ChildProcess process_;
  std::string address_;
  std::string v2_address_;
  std::string fast_address_;
  int starts_ = 0;
  std::unique_ptr<mq::v1::Messaging::Stub> messaging_;
  std::unique_ptr<mq::v1::BrokerAdmin::Stub> admin_;
};

// Consume queues are built asynchronously from the commit log (as in RocketMQ): a message is
// acknowledged before it is pullable. Tests that pull right after sending wait for this.
bool WaitForMaxOffset(mq::v1::Messaging::Stub* stub, const std::string& topic, int32_t queue_id,
                      int64_t at_least);

// One value of GetBrokerRuntimeInfo's table (e.g. "storeStatus"); "" when the call fails or
// the key is absent.
std::string RuntimeValue(mq::v1::BrokerAdmin::Stub* admin, const std::string& key);

// Creates `topic` with `queues` read/write queues through the admin API (asserts success).
void CreateTopic(BrokerProcess& b, const std::string& topic, int queues);
bool HasTopic(BrokerProcess& b, const std::string& topic);

mq::v1::Message TextMessage(const std::string& body, const std::string& tags = "",
                            const std::string& keys = "");
grpc::Status Send(mq::v1::Messaging::Stub* stub, const std::string& topic, int32_t queue_id,
                  const std::vector<mq::v1::Message>& messages,
                  mq::v1::SendMessageResponse* response = nullptr);
// Sends `message` as a prepared (transactional half) message to queue 0 of `topic`.
grpc::Status SendPrepared(mq::v1::Messaging::Stub* stub, const std::string& producer_group,
                          const std::string& topic, const mq::v1::Message& message,
                          mq::v1::SendMessageResponse* response);
grpc::Status Pull(mq::v1::Messaging::Stub* stub, const std::string& group, const std::string& topic,
                  int32_t queue_id, int64_t offset, mq::v1::PullMessageResponse* response,
                  int64_t hold_ms = 0, const std::string& subscription = "*");
// The bodies of a queue from offset 0 to its end, pulled as group "reader".
std::vector<std::string> PullAllBodies(mq::v1::Messaging::Stub* stub, const std::string& topic,
                                       int32_t queue_id);

}  // namespace mq::testing
