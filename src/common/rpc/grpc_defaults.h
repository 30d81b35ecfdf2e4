// Transport settings every server and channel of the suite shares, in one place:
// no SO_REUSEPORT (a second daemon on a taken port must fail, not share it), message size
// limits above gRPC's 4 MiB default (a 4 MiB message body plus its envelope must fit), and
// keepalive so dead peers are noticed; absl::Mutex deadlock detection off in the process (see
// grpc_defaults.cc). Thread-safe free functions.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace mq::rpc {

inline constexpr int kMaxGrpcMessageBytes = 64 * 1024 * 1024;

// What one server lets its clients make it hold. The defaults suit internal ports (HA,
// NameServer); a broker's client port derives tighter ones from its config.
struct ServerLimits {
  // Largest request gRPC accepts; bigger ones are refused with RESOURCE_EXHAUSTED before
  // being buffered whole.
  int max_receive_bytes = kMaxGrpcMessageBytes;
  // grpc::ResourceQuota over the server's connections and in-flight request data (bytes;
  // 0 = none). Under pressure gRPC shrinks reads and sheds streams instead of growing.
  int64_t memory_quota_bytes = 0;
  // Server-side keepalive: every connection is pinged this often and closed (ending its
  // calls) when a ping goes unanswered for keepalive_timeout_ms. 0 = gRPC's default (2 h), so
  // a peer that vanished without a FIN or RST holds its streams until TCP gives up.
  int keepalive_time_ms = 0;
  int keepalive_timeout_ms = 0;
};

void ApplyServerDefaults(grpc::ServerBuilder& builder, const ServerLimits& limits = {});
struct StartedServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;  // the bound port (the real one when `port` 0 was asked for)
};
// Builds and starts a server with the defaults above on host:port serving `services`.
// Unavailable, naming `port_key` (the config key, e.g. "listenPort"), when it cannot bind.
Result<StartedServer> StartServer(const std::string& host, int port,
                                  const std::vector<grpc::Service*>& services, std::string_view port_key,
                                  const ServerLimits& limits = {});

// An insecure channel to host:port with the suite's defaults. Each call creates its own
// subchannel pool, so channels to one address do not share a connection by accident.
std::shared_ptr<grpc::Channel> CreateChannel(const std::string& target);

}  // namespace mq::rpc
