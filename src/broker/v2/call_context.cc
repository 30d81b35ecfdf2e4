#include "broker/v2/call_context.h"

namespace mq::broker::v2 {

std::string HeaderValue(const grpc::ServerContextBase& ctx, std::string_view key) {
  const auto& metadata = ctx.client_metadata();
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return {};
  return std::string(it->second.data(), it->second.size());
}

CallContext ReadCallContext(const grpc::ServerContextBase& ctx) {
  CallContext call;
  call.client_id = HeaderValue(ctx, kClientIdHeader);
  call.name_space = HeaderValue(ctx, kNamespaceHeader);
  call.request_id = HeaderValue(ctx, kRequestIdHeader);
  call.language = HeaderValue(ctx, kLanguageHeader);
  call.client_version = HeaderValue(ctx, kClientVersionHeader);
  return call;
}

std::string NamespaceOf(const CallContext& call, const apache::rocketmq::v2::Resource& resource) {
  return call.name_space.empty() ? resource.resource_namespace() : call.name_space;
}

std::string WrapNamespace(std::string_view ns, std::string_view name) {
  if (ns.empty()) return std::string(name);
  std::string out;
  out.reserve(ns.size() + 1 + name.size());
  out.append(ns).append("%").append(name);
  return out;
}

std::string BareName(std::string_view ns, std::string_view stored) {
  if (ns.empty() || stored.size() <= ns.size() || stored.substr(0, ns.size()) != ns ||
      stored[ns.size()] != '%') {
    return std::string(stored);
  }
  return std::string(stored.substr(ns.size() + 1));
}

}  // namespace mq::broker::v2
