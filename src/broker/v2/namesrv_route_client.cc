#include "broker/v2/namesrv_route_client.h"

#include <fmt/format.h>

#include <optional>

#include "common/rpc/grpc_defaults.h"
#include "common/rpc/status_convert.h"

namespace mq::broker::v2 {

struct NamesrvRouteClient::Call {
  std::string topic;
  Done done;
  size_t first = 0;
  size_t tried = 0;
  std::string errors;
  grpc::ClientContext ctx;
  mq::v1::QueryRouteRequest request;
  mq::v1::QueryRouteResponse response;
};

NamesrvRouteClient::NamesrvRouteClient(const std::vector<std::string>& namesrv_addrs,
                                       std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  for (const auto& addr : namesrv_addrs)
    stubs_.push_back(mq::v1::NameServer::NewStub(rpc::CreateChannel(addr)));
}

void NamesrvRouteClient::QueryRoute(const std::string& topic, Done done) {
  auto call = std::make_shared<Call>();
  call->topic = topic;
  call->done = std::move(done);
  if (stubs_.empty()) {
    call->done(Status::Unavailable("namesrvAddr: no NameServer is configured"));
    return;
  }
  call->first = preferred_.load() % stubs_.size();
  Attempt(std::move(call));
}

void NamesrvRouteClient::Attempt(std::shared_ptr<Call> call) {
  const size_t index = (call->first + call->tried) % stubs_.size();
  ++call->tried;
  // A ClientContext serves one RPC: a retry gets a fresh call state with the same request.
  auto attempt = std::make_shared<Call>();
  attempt->topic = call->topic;
  attempt->first = call->first;
  attempt->tried = call->tried;
  attempt->errors = std::move(call->errors);
  attempt->done = std::move(call->done);
  attempt->request.set_topic(attempt->topic);
  attempt->ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  Call* raw = attempt.get();
  stubs_[index]->async()->QueryRoute(
      &raw->ctx, &raw->request, &raw->response, [this, attempt, index](grpc::Status s) mutable {
        std::optional<Result<mq::v1::TopicRouteData>> answer;
        if (s.ok()) {
          preferred_.store(index);
          answer.emplace(std::move(*attempt->response.mutable_route()));
        } else if (s.error_code() == grpc::StatusCode::NOT_FOUND ||
                   s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
          preferred_.store(index);
          answer.emplace(rpc::FromGrpcStatus(s));
        } else {
          attempt->errors += fmt::format("{}NameServer #{}: {}", attempt->errors.empty() ? "" : "; ", index,
                                         s.error_message());
          if (attempt->tried < stubs_.size()) return Attempt(std::move(attempt));
          answer.emplace(Status::Unavailable("no NameServer answered: " + attempt->errors));
        }
        // The call's context holds its channel: it goes before `done` may let the owner finish and
        // drop the channels, which must not die on gRPC's thread (src/client/rpc_call.h says why).
        Done done = std::move(attempt->done);
        attempt.reset();
        done(std::move(*answer));
      });
}

}  // namespace mq::broker::v2
