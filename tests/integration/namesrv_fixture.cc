#include "namesrv_fixture.h"

#include <grpcpp/grpcpp.h>

#include "common/rpc/grpc_defaults.h"
#include "common/rpc/namesrv_registration.h"
#include "testutil/wait.h"

namespace mq::testing {

NamesrvProcess::NamesrvProcess(std::vector<std::string> extra_args) {
  std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--ready-file", dir_.Sub("ready")};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  if (!process_.Start(BinaryPath("mqnamesrv"), args, dir_.Sub("namesrv.out"))) return;
  auto ready = WaitForReadyFile(dir_.Sub("ready"), std::chrono::seconds(10));
  if (!ready) return;
  address_ = *ready;
  stub_ = mq::v1::NameServer::NewStub(rpc::CreateChannel(address_));
}

mq::v1::BrokerIdentity Identity(const std::string& cluster, const std::string& name, int64_t id,
                                const std::string& addr, const std::string& ha_addr) {
  mq::v1::BrokerIdentity b;
  b.set_cluster_name(cluster);
  b.set_broker_name(name);
  b.set_broker_id(id);
  b.set_broker_addr(addr);
  b.set_ha_server_addr(ha_addr);
  return b;
}

mq::v1::DataVersion Version(int64_t counter) {
  mq::v1::DataVersion v;
  v.set_timestamp(1700000000000);
  v.set_counter(counter);
  v.set_state_version("test");
  return v;
}

std::vector<mq::v1::TopicConfig> Topics(const std::vector<std::string>& names, int32_t queues) {
  std::vector<mq::v1::TopicConfig> out;
  for (const auto& n : names) {
    mq::v1::TopicConfig t;
    t.set_topic_name(n);
    t.set_read_queue_nums(queues);
    t.set_write_queue_nums(queues);
    t.set_perm(6);
    out.push_back(t);
  }
  return out;
}

std::vector<mq::v1::TopicConfig> ManyTopics(int count) {
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) names.push_back("BenchTopic_" + std::to_string(i));
  return Topics(names, 8);
}

grpc::Status Register(mq::v1::NameServer::Stub* stub, const mq::v1::BrokerIdentity& broker,
                      const std::vector<mq::v1::TopicConfig>& topics, int64_t version,
                      mq::v1::RegisterBrokerResponse* response) {
  mq::v1::RegisterBrokerResponse ignored;
  return rpc::RegisterBrokerChunked(stub, broker, Version(version), topics, std::chrono::seconds(10),
                                    response ? response : &ignored);
}

grpc::Status QueryRoute(mq::v1::NameServer::Stub* stub, const std::string& topic,
                        mq::v1::TopicRouteData* route) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  mq::v1::QueryRouteRequest req;
  req.set_topic(topic);
  mq::v1::QueryRouteResponse resp;
  auto s = stub->QueryRoute(&ctx, req, &resp);
  if (route) *route = resp.route();
  return s;
}

bool WaitRegistered(NamesrvProcess& ns) {
  return WaitUntil([&] { return QueryRoute(ns.stub(), "TBW102").ok(); }, std::chrono::seconds(15));
}

}  // namespace mq::testing
