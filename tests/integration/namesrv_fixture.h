// Starts a real mqnamesrv process on 127.0.0.1 with an ephemeral port and a temp dir, and
// gives tests a gRPC stub to it. Helpers build broker identities and topic sets.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mq/v1/namesrv.grpc.pb.h"
#include "testutil/process.h"
#include "testutil/temp_dir.h"

namespace mq::testing {

class NamesrvProcess {
 public:
  // extra_args are appended to the command line (e.g. {"--set", "brokerExpiredMillis=1000"}).
  explicit NamesrvProcess(std::vector<std::string> extra_args = {});
  bool started() const { return !address_.empty(); }
  const std::string& address() const { return address_; }
  mq::v1::NameServer::Stub* stub() { return stub_.get(); }
  ChildProcess& process() { return process_; }

 private:
  TempDir dir_;
  ChildProcess process_;
  std::string address_;
  std::unique_ptr<mq::v1::NameServer::Stub> stub_;
};

mq::v1::BrokerIdentity Identity(const std::string& cluster, const std::string& name, int64_t id,
                                const std::string& addr, const std::string& ha_addr = "");
mq::v1::DataVersion Version(int64_t counter);
std::vector<mq::v1::TopicConfig> Topics(const std::vector<std::string>& names, int32_t queues = 4);
std::vector<mq::v1::TopicConfig> ManyTopics(int count);

grpc::Status Register(mq::v1::NameServer::Stub* stub, const mq::v1::BrokerIdentity& broker,
                      const std::vector<mq::v1::TopicConfig>& topics, int64_t version = 1,
                      mq::v1::RegisterBrokerResponse* response = nullptr);
grpc::Status QueryRoute(mq::v1::NameServer::Stub* stub, const std::string& topic,
                        mq::v1::TopicRouteData* route = nullptr);
// A broker registers with the NameServer on its own thread after its ready file: until then
// the NameServer knows no cluster and no route of the auto-create template. Waits (15 s at
// most) until some broker has registered.
bool WaitRegistered(NamesrvProcess& ns);

}  // namespace mq::testing
