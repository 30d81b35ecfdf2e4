// Transport settings every server and channel of the suite shares, in one place:
// no SO_REUSEPORT (a second daemon on a taken port must fail, not share it), message size
// limits above gRPC's 4 MiB default (a 4 MiB message body plus its envelope must fit), and
// keepalive so dead peers are noticed. Thread-safe free functions.
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

void ApplyServerDefaults(grpc::ServerBuilder& builder);
struct StartedServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;  // the bound port (the real one when `port` 0 was asked for)
};
// Builds and starts a server with the defaults above on host:port serving `services`.
// Unavailable, naming `port_key` (the config key, e.g. "listenPort"), when it cannot bind.
Result<StartedServer> StartServer(const std::string& host, int port,
                                  const std::vector<grpc::Service*>& services, std::string_view port_key);

// An insecure channel to host:port with the suite's defaults. Each call creates its own
// subchannel pool, so channels to one address do not share a connection by accident.
std::shared_ptr<grpc::Channel> CreateChannel(const std::string& target);

}  // namespace mq::rpc
