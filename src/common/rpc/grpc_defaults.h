// Transport settings every server and channel of the suite shares, in one place:
// no SO_REUSEPORT (a second daemon on a taken port must fail, not share it), message size
// limits above gRPC's 4 MiB default (a 4 MiB message body plus its envelope must fit), and
// keepalive so dead peers are noticed. Thread-safe free functions.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <string>

namespace mq::rpc {

inline constexpr int kMaxGrpcMessageBytes = 64 * 1024 * 1024;

void ApplyServerDefaults(grpc::ServerBuilder& builder);
// An insecure channel to host:port with the suite's defaults. Each call creates its own
// subchannel pool, so channels to one address do not share a connection by accident.
std::shared_ptr<grpc::Channel> CreateChannel(const std::string& target);

}  // namespace mq::rpc
