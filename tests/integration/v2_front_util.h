// Test helpers for the broker's apache.rocketmq.v2 front: a client that sets the metadata the
// Node.js SDK 1.0.8 sends on every call, and message builders. Header-only; test code.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "apache/rocketmq/v2/service.grpc.pb.h"
#include "common/rpc/grpc_defaults.h"

#ifndef EXPECT_GRPC_OK
#define EXPECT_GRPC_OK(expr)                                              \
  do {                                                                    \
    grpc::Status s_ = (expr);                                             \
    EXPECT_TRUE(s_.ok()) << s_.error_code() << " " << s_.error_message(); \
  } while (0)
#endif

namespace mq::testing {

namespace pb = apache::rocketmq::v2;

class V2Client {
 public:
  explicit V2Client(const std::string& address, std::string client_id = "testhost@4242@0@mwx09rg5")
      : client_id_(std::move(client_id)), stub_(pb::MessagingService::NewStub(rpc::CreateChannel(address))) {}

  pb::MessagingService::Stub* stub() { return stub_.get(); }
  const std::string& client_id() const { return client_id_; }

  // The Node SDK's headers; `with_client_id=false` leaves out x-mq-client-id.
  void Prepare(grpc::ClientContext* ctx, bool with_client_id = true, const std::string& name_space = "",
               std::chrono::milliseconds deadline = std::chrono::seconds(10)) const {
    ctx->set_deadline(std::chrono::system_clock::now() + deadline);
    ctx->AddMetadata("x-mq-protocol", "v2");
    if (with_client_id) ctx->AddMetadata("x-mq-client-id", client_id_);
    ctx->AddMetadata("x-mq-date-time", "20261126T034124Z");
    ctx->AddMetadata("x-mq-request-id", "3f2a8c1e-0000-4000-8000-000000000001");
    ctx->AddMetadata("x-mq-language", "HTTP");
    ctx->AddMetadata("x-mq-client-version", "1.0.8");
    if (!name_space.empty()) ctx->AddMetadata("x-mq-namespace", name_space);
  }

  template <typename Req, typename Resp>
  grpc::Status Unary(grpc::Status (pb::MessagingService::Stub::*method)(grpc::ClientContext*, const Req&,
                                                                        Resp*),
                     const Req& req, Resp* resp, bool with_client_id = true, const std::string& ns = "") {
    grpc::ClientContext ctx;
    Prepare(&ctx, with_client_id, ns);
    return (stub_.get()->*method)(&ctx, req, resp);
  }

 private:
  std::string client_id_;
  std::unique_ptr<pb::MessagingService::Stub> stub_;
};

inline pb::Message V2Message(const std::string& topic, const std::string& body, const std::string& id,
                             pb::MessageType type = pb::MessageType::NORMAL) {
  pb::Message m;
  m.mutable_topic()->set_name(topic);
  m.set_body(body);
  auto* sp = m.mutable_system_properties();
  sp->set_message_id(id);
  sp->set_message_type(type);
  sp->set_body_encoding(pb::Encoding::IDENTITY);
  sp->set_born_host("testhost");
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  sp->mutable_born_timestamp()->set_seconds(std::chrono::duration_cast<std::chrono::seconds>(now).count());
  return m;
}

inline pb::Settings ProducerSettings(const std::string& topic) {
  pb::Settings s;
  s.set_client_type(pb::ClientType::PRODUCER);
  s.mutable_request_timeout()->set_seconds(3);
  auto* p = s.mutable_publishing();
  p->add_topics()->set_name(topic);
  p->set_validate_message_type(true);
  s.mutable_user_agent()->set_language(pb::Language::NODE_JS);
  s.mutable_user_agent()->set_version("1.0.8");
  return s;
}

inline pb::Settings ConsumerSettings(const std::string& group, const std::string& topic) {
  pb::Settings s;
  s.set_client_type(pb::ClientType::SIMPLE_CONSUMER);
  s.mutable_request_timeout()->set_seconds(3);
  s.mutable_subscription()->mutable_group()->set_name(group);
  auto* e = s.mutable_subscription()->add_subscriptions();
  e->mutable_topic()->set_name(topic);
  e->mutable_expression()->set_type(pb::FilterType::TAG);
  e->mutable_expression()->set_expression("*");
  s.mutable_user_agent()->set_language(pb::Language::NODE_JS);
  return s;
}

}  // namespace mq::testing
