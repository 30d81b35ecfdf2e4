// The single mapping between mq::Status and grpc::Status. Adapters (services, client stubs)
// convert at the boundary with these and nowhere else. Pure functions, thread-safe.
#pragma once

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace mq::rpc {

grpc::Status ToGrpcStatus(const Status& status);
Status FromGrpcStatus(const grpc::Status& status);

}  // namespace mq::rpc
