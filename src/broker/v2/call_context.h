// Reading a v2 call's metadata (the x-mq-* headers every RocketMQ 5 SDK sends) and applying
// its namespace. RocketMQ 5 stores a namespaced resource as "<namespace>%<name>"; the SDKs only
// ever see bare names, so the front wraps names on the way in and unwraps them on the way out.
// Pure functions; thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>
#include <string_view>

#include "apache/rocketmq/v2/definition.pb.h"
#include "broker/v2/consumer_rpcs.h"

namespace mq::broker::v2 {

inline constexpr char kClientIdHeader[] = "x-mq-client-id";
inline constexpr char kNamespaceHeader[] = "x-mq-namespace";
inline constexpr char kRequestIdHeader[] = "x-mq-request-id";
inline constexpr char kLanguageHeader[] = "x-mq-language";
inline constexpr char kClientVersionHeader[] = "x-mq-client-version";
inline constexpr char kDateTimeHeader[] = "x-mq-date-time";
inline constexpr char kAuthorizationHeader[] = "authorization";

// One header's first value ("" when absent).
std::string HeaderValue(const grpc::ServerContextBase& ctx, std::string_view key);
CallContext ReadCallContext(const grpc::ServerContextBase& ctx);

// The namespace of a resource: the x-mq-namespace header when present (the Node SDK sets only
// that), else the resource's own resource_namespace (the Java SDK sets both).
std::string NamespaceOf(const CallContext& call, const apache::rocketmq::v2::Resource& resource);
// "<ns>%<name>", or `name` when `ns` is empty.
std::string WrapNamespace(std::string_view ns, std::string_view name);
// The name a client of namespace `ns` knows: strips "<ns>%" when present.
std::string BareName(std::string_view ns, std::string_view stored);
// The broker-side name of a resource in a call.
inline std::string StoredName(const CallContext& call, const apache::rocketmq::v2::Resource& resource) {
  return WrapNamespace(NamespaceOf(call, resource), resource.name());
}

}  // namespace mq::broker::v2
