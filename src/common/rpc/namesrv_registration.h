// Client side of the NameServer's streaming registration: splits a broker's topic set into
// chunks so a registration of any size stays far below gRPC's message limits. Used by the
// broker's registrar, benchmarks and tests. Blocking call; thread-safe (no shared state).
#pragma once

#include <chrono>
#include <vector>

#include "mq/v1/namesrv.grpc.pb.h"

namespace mq::rpc {

inline constexpr int kRegisterChunkTopics = 4096;

grpc::Status RegisterBrokerChunked(mq::v1::NameServer::StubInterface* stub,
                                   const mq::v1::BrokerIdentity& broker, const mq::v1::DataVersion& version,
                                   const std::vector<mq::v1::TopicConfig>& topics,
                                   std::chrono::milliseconds timeout,
                                   mq::v1::RegisterBrokerResponse* response,
                                   int chunk_topics = kRegisterChunkTopics);

}  // namespace mq::rpc
