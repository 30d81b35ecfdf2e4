// AdminClient: mqadmin's connections to the NameServers and brokers.
//
// Owns one gRPC channel per address (created lazily, reused by later calls) and the NameServer
// list from -n "host:port;host:port" or $NAMESRV_ADDR. Every call has a short deadline
// (kRpcTimeoutMs) so an unreachable peer fails the verb instead of hanging it. NameServer calls
// go to a random NameServer first and fail over to the others when one is unreachable.
// Not thread-safe: one verb per process uses it from the main thread.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/rpc/status_convert.h"
#include "common/status.h"
#include "mq/v1/admin.grpc.pb.h"
#include "mq/v1/broker.grpc.pb.h"
#include "mq/v1/namesrv.grpc.pb.h"

namespace mq::admin {

inline constexpr int64_t kRpcTimeoutMs = 3'000;

template <typename Stub, typename Req, typename Resp>
using SyncMethod = grpc::Status (Stub::*)(grpc::ClientContext*, const Req&, Resp*);

// One broker address with the identity the NameServer knows it by.
struct BrokerTarget {
  std::string addr;
  std::string cluster;
  std::string broker_name;
  int64_t broker_id = 0;
};

// One broker set as the NameServer knows it.
struct BrokerSet {
  std::string cluster;
  std::string broker_name;
  std::vector<std::string> addrs;  // the master first (when registered), then the slaves by id
};

class AdminClient {
 public:
  // Parses the NameServer list (empty: $NAMESRV_ADDR). Fails when none is given or one is malformed.
  static Result<std::unique_ptr<AdminClient>> Create(const std::string& namesrv_arg);
  // For verbs that only need brokers given by address (-b) and may run without a NameServer.
  static std::unique_ptr<AdminClient> CreateWithoutNamesrv();

  const std::vector<std::string>& namesrv_addrs() const { return namesrv_addrs_; }

  // Calls a NameServer method on a random NameServer, then the others while they are unreachable.
  template <typename Req, typename Resp>
  Status CallNamesrv(SyncMethod<mq::v1::NameServer::Stub, Req, Resp> method, const Req& req, Resp* resp);
  // Calls one given NameServer.
  template <typename Req, typename Resp>
  Status CallNamesrvAt(const std::string& addr, SyncMethod<mq::v1::NameServer::Stub, Req, Resp> method,
                       const Req& req, Resp* resp, int64_t timeout_ms = kRpcTimeoutMs);
  template <typename Req, typename Resp>
  Status CallAdmin(const std::string& addr, SyncMethod<mq::v1::BrokerAdmin::Stub, Req, Resp> method,
                   const Req& req, Resp* resp, int64_t timeout_ms = kRpcTimeoutMs);
  template <typename Req, typename Resp>
  Status CallMessaging(const std::string& addr, SyncMethod<mq::v1::Messaging::Stub, Req, Resp> method,
                       const Req& req, Resp* resp, int64_t timeout_ms = kRpcTimeoutMs);

  Result<mq::v1::GetClusterInfoResponse> ClusterInfo();
  // The route of topic; NotFound when no broker serves it.
  Result<mq::v1::TopicRouteData> Route(const std::string& topic);
  // -b brokerAddr or -c cluster (exactly one): the addressed broker, or every master of the cluster.
  Result<std::vector<BrokerTarget>> ResolveMasters(const std::string& broker_addr,
                                                   const std::string& cluster);
  // Every registered master (all clusters), sorted by broker name.
  Result<std::vector<BrokerTarget>> AllMasters();
  // Every registered broker set (all clusters), sorted by broker name; also a set whose master
  // the NameServer has dropped and whose slaves still serve reads.
  Result<std::vector<BrokerSet>> AllBrokerSets();
  // The master address of a broker set, from a topic route.
  static Result<std::string> MasterAddr(const mq::v1::BrokerData& data);
  // A broker set's addresses: the master first, then the slaves by id.
  static std::vector<std::string> AddrsMasterFirst(const mq::v1::BrokerData& data);
  // Calls method on addrs in order while they are unreachable, so a read reaches a broker set
  // through a slave while its master is down (RocketMQ's selectBrokerAddr picks a slave once the
  // master is gone from the route); returns the first answer, or the last failure.
  template <typename Req, typename Resp>
  Status CallAdminFirstReachable(const std::vector<std::string>& addrs,
                                 SyncMethod<mq::v1::BrokerAdmin::Stub, Req, Resp> method, const Req& req,
                                 Resp* resp);

 private:
  explicit AdminClient(std::vector<std::string> addrs) : namesrv_addrs_(std::move(addrs)) {}
  std::shared_ptr<grpc::Channel> Channel(const std::string& addr);
  static void SetDeadline(grpc::ClientContext* ctx, int64_t timeout_ms) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  }
  static Status Convert(const grpc::Status& s, const std::string& who);
  // One unary call on a fresh stub over `channel`, with a deadline; errors name `peer_name`.
  template <typename Stub, typename Req, typename Resp>
  static Status CallStub(std::shared_ptr<grpc::Channel> channel, const std::string& peer_name,
                         SyncMethod<Stub, Req, Resp> method, const Req& req, Resp* resp, int64_t timeout_ms);

  std::vector<std::string> namesrv_addrs_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
};

// True for failures that mean "peer unreachable" (worth trying another NameServer or a slave).
bool IsUnreachable(const Status& s);

template <typename Stub, typename Req, typename Resp>
Status AdminClient::CallStub(std::shared_ptr<grpc::Channel> channel, const std::string& peer_name,
                             SyncMethod<Stub, Req, Resp> method, const Req& req, Resp* resp,
                             int64_t timeout_ms) {
  Stub stub(std::move(channel));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, timeout_ms);
  return Convert((stub.*method)(&ctx, req, resp), peer_name);
}

template <typename Req, typename Resp>
Status AdminClient::CallNamesrvAt(const std::string& addr,
                                  SyncMethod<mq::v1::NameServer::Stub, Req, Resp> method, const Req& req,
                                  Resp* resp, int64_t timeout_ms) {
  return CallStub(Channel(addr), "NameServer " + addr, method, req, resp, timeout_ms);
}

template <typename Req, typename Resp>
Status AdminClient::CallAdmin(const std::string& addr,
                              SyncMethod<mq::v1::BrokerAdmin::Stub, Req, Resp> method, const Req& req,
                              Resp* resp, int64_t timeout_ms) {
  return CallStub(Channel(addr), "broker " + addr, method, req, resp, timeout_ms);
}

template <typename Req, typename Resp>
Status AdminClient::CallMessaging(const std::string& addr,
                                  SyncMethod<mq::v1::Messaging::Stub, Req, Resp> method, const Req& req,
                                  Resp* resp, int64_t timeout_ms) {
  return CallStub(Channel(addr), "broker " + addr, method, req, resp, timeout_ms);
}

std::vector<std::string> ShuffledCopy(const std::vector<std::string>& v);

template <typename Req, typename Resp>
Status AdminClient::CallNamesrv(SyncMethod<mq::v1::NameServer::Stub, Req, Resp> method, const Req& req,
                                Resp* resp) {
  Status last;
  for (const auto& addr : ShuffledCopy(namesrv_addrs_)) {
    last = CallNamesrvAt(addr, method, req, resp);
    if (!IsUnreachable(last)) return last;
  }
  return last;
}

template <typename Req, typename Resp>
Status AdminClient::CallAdminFirstReachable(const std::vector<std::string>& addrs,
                                            SyncMethod<mq::v1::BrokerAdmin::Stub, Req, Resp> method,
                                            const Req& req, Resp* resp) {
  Status last = Status::Unavailable("broker: the broker set has no registered address");
  for (const auto& addr : addrs) {
    resp->Clear();
    last = CallAdmin(addr, method, req, resp);
    if (!IsUnreachable(last)) return last;
  }
  return last;
}

}  // namespace mq::admin
