// The single mapping between mq::Status and grpc::Status. Adapters (services, client stubs)
// convert at the boundary with these and nowhere else. Pure functions, thread-safe.
#pragma once

#include <grpcpp/support/status.h>

#include <cstddef>

#include "common/status.h"

namespace mq::rpc {

// A status message travels in gRPC's trailing metadata (8 KiB at most by default, for all of it):
// a longer one, say one quoting a huge field of the request, would reach the peer as
// RESOURCE_EXHAUSTED "received initial metadata size exceeds limit" instead of the reason. So
// ToGrpcStatus clips messages to this many bytes (ClipText).
inline constexpr size_t kMaxStatusMessageBytes = 2048;

grpc::Status ToGrpcStatus(const Status& status);
Status FromGrpcStatus(const grpc::Status& status);

}  // namespace mq::rpc
