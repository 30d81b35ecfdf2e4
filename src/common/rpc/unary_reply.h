// Finishing unary callback-API handlers from mq::Status / mq::Result<T>, shared by every
// gRPC service adapter. Header-only; thread-safe (no state).
#pragma once

#include <grpcpp/support/server_callback.h>

#include <utility>

#include "common/result.h"
#include "common/rpc/status_convert.h"

namespace mq::rpc {

inline grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* ctx, const Status& status) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Moves the value into *out on success, then finishes with the result's status.
template <typename T, typename Out>
grpc::ServerUnaryReactor* ReplyWith(grpc::CallbackServerContext* ctx, Result<T> result, Out* out) {
  if (result.ok()) *out = std::move(result).value();
  return Reply(ctx, result.status());
}

}  // namespace mq::rpc
