// NamesrvRouteClient: asks the NameServers for a topic's route on behalf of v2 QueryRoute and
// QueryAssignment (any broker's v2 port answers for the whole cluster). Tries the NameServers
// one after the other, starting with the one that answered last, so a NameServer that is down
// costs at most one timeout per failover, not one per call. NOT_FOUND from a NameServer that
// answered is final (another NameServer holds the same registrations).
// Asynchronous (gRPC callback API): `done` runs on a gRPC thread, never inline in QueryRoute.
// Thread-safe; the stubs are created once and never change. Must outlive its pending calls:
// the owner shuts the v2 server down (which waits for the handlers) before destroying it.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "mq/v1/namesrv.grpc.pb.h"

namespace mq::broker::v2 {

class NamesrvRouteClient {
 public:
  using Done = std::function<void(Result<mq::v1::TopicRouteData>)>;

  NamesrvRouteClient(const std::vector<std::string>& namesrv_addrs, std::chrono::milliseconds timeout);
  NamesrvRouteClient(const NamesrvRouteClient&) = delete;
  NamesrvRouteClient& operator=(const NamesrvRouteClient&) = delete;

  bool empty() const { return stubs_.empty(); }
  void QueryRoute(const std::string& topic, Done done);

 private:
  struct Call;
  void Attempt(std::shared_ptr<Call> call);

  std::vector<std::unique_ptr<mq::v1::NameServer::Stub>> stubs_;
  const std::chrono::milliseconds timeout_;
  std::atomic<size_t> preferred_{0};  // index of the NameServer that answered last
};

}  // namespace mq::broker::v2
