#include "common/rpc/grpc_defaults.h"

#include <absl/synchronization/mutex.h>
#include <fmt/format.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <mutex>

#include "common/naming.h"

namespace mq::rpc {
namespace {

// Debian builds abseil without NDEBUG, which leaves absl::Mutex's deadlock-cycle detection on:
// every lock gRPC takes updates a global lock graph (7 % of a broker's CPU under load,
// docs/benchmarks.md). It is a debugging aid, so every process that uses this layer turns it
// off once, before its first channel or server.
void ApplyProcessDefaults() {
  static std::once_flag once;
  std::call_once(once, [] { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); });
}

}  // namespace

void ApplyServerDefaults(grpc::ServerBuilder& builder, const ServerLimits& limits) {
  ApplyProcessDefaults();
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(limits.max_receive_bytes);
  if (limits.memory_quota_bytes > 0) {
    grpc::ResourceQuota quota("mq-server");
    quota.Resize(static_cast<size_t>(limits.memory_quota_bytes));
    builder.SetResourceQuota(quota);
  }
  builder.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  if (limits.keepalive_time_ms > 0) {
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, limits.keepalive_time_ms);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, limits.keepalive_timeout_ms);
  }
}

Result<StartedServer> StartServer(const std::string& host, int port,
                                  const std::vector<grpc::Service*>& services, std::string_view port_key,
                                  const ServerLimits& limits) {
  const std::string bind = HostPort{host, static_cast<uint16_t>(port)}.ToString();
  StartedServer started;
  grpc::ServerBuilder builder;
  ApplyServerDefaults(builder, limits);
  builder.AddListeningPort(bind, grpc::InsecureServerCredentials(), &started.port);
  for (auto* service : services) builder.RegisterService(service);
  started.server = builder.BuildAndStart();
  if (!started.server || started.port == 0) {
    return Status::Unavailable(fmt::format("{}: cannot listen on {} (address in use?)", port_key, bind));
  }
  return started;
}

std::shared_ptr<grpc::Channel> CreateChannel(const std::string& target) {
  ApplyProcessDefaults();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  args.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

}  // namespace mq::rpc
