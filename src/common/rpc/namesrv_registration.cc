#include "common/rpc/namesrv_registration.h"

#include <grpcpp/client_context.h>

#include <algorithm>

namespace mq::rpc {

grpc::Status RegisterBrokerChunked(mq::v1::NameServer::StubInterface* stub,
                                   const mq::v1::BrokerIdentity& broker, const mq::v1::DataVersion& version,
                                   const std::vector<mq::v1::TopicConfig>& topics,
                                   std::chrono::milliseconds timeout,
                                   mq::v1::RegisterBrokerResponse* response, int chunk_topics) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  auto writer = stub->RegisterBroker(&ctx, response);
  const size_t chunk = static_cast<size_t>(std::max(1, chunk_topics));
  size_t next = 0;
  bool first = true;
  while (first || next < topics.size()) {
    mq::v1::RegisterBrokerChunk msg;
    if (first) {
      *msg.mutable_broker() = broker;
      *msg.mutable_data_version() = version;
      msg.set_total_topics(static_cast<int32_t>(topics.size()));
      first = false;
    }
    size_t end = std::min(topics.size(), next + chunk);
    msg.mutable_topic_configs()->Reserve(static_cast<int>(end - next));
    for (; next < end; ++next) *msg.add_topic_configs() = topics[next];
    if (!writer->Write(msg)) break;  // the server finished early; Finish() says why
  }
  writer->WritesDone();
  return writer->Finish();
}

}  // namespace mq::rpc
