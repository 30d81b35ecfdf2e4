// The first steps every apache.rocketmq.v2 handler takes: read the call's metadata (refusing a
// call without x-mq-client-id), read and check the request's topic, answer a unary call at once.
// Pure functions; any gRPC thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "apache/rocketmq/v2/definition.pb.h"
#include "broker/v2/consumer_rpcs.h"

namespace mq::broker::v2 {

// A unary reactor answered at once.
grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx);

// Reads the call's metadata; false (status filled) when x-mq-client-id is missing.
// There is no ACL yet: the authorization header is parsed (so a broken one shows in the debug
// log) but never refuses a call.
bool ReadCall(const grpc::CallbackServerContext& ctx, CallContext* call,
              apache::rocketmq::v2::Status* status);

// The request's topic as stored (namespaced) in `*stored`; false, with the ILLEGAL_TOPIC status
// naming "topic.name", when it is missing or not a valid name.
bool ReadTopic(const CallContext& call, const apache::rocketmq::v2::Resource& topic, std::string* stored,
               apache::rocketmq::v2::Status* status);

}  // namespace mq::broker::v2
