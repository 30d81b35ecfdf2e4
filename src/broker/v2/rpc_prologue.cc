#include "broker/v2/rpc_prologue.h"

#include <fmt/format.h>

#include "broker/v2/auth_header.h"
#include "broker/v2/call_context.h"
#include "broker/v2/v2_status.h"
#include "common/logging.h"
#include "common/naming.h"

namespace mq::broker::v2 {
namespace pb = apache::rocketmq::v2;

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

bool ReadCall(const grpc::CallbackServerContext& ctx, CallContext* call, pb::Status* status) {
  *call = ReadCallContext(ctx);
  if (std::string auth = HeaderValue(ctx, kAuthorizationHeader); !auth.empty()) {
    if (auto parsed = ParseAuthorization(auth); !parsed.ok()) {
      MQ_LOG_DEBUG(Logger("broker"), "v2 call from client_id={}: {} (ignored: no ACL)", call->client_id,
                   parsed.status().message());
    }
  }
  if (call->client_id.empty()) {
    SetStatus(status, pb::Code::CLIENT_ID_REQUIRED, "x-mq-client-id: header is required");
    return false;
  }
  return true;
}

bool ReadTopic(const CallContext& call, const pb::Resource& topic, std::string* stored, pb::Status* status) {
  *stored = StoredName(call, topic);
  if (topic.name().empty()) {
    SetStatus(status, pb::Code::ILLEGAL_TOPIC, "topic.name: required");
    return false;
  }
  if (Status s = ValidateName("topic", *stored); !s.ok()) {
    SetStatus(status, pb::Code::ILLEGAL_TOPIC, fmt::format("topic.name: {}", s.message()));
    return false;
  }
  return true;
}

}  // namespace mq::broker::v2
