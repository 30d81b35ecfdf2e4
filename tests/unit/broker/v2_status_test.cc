#include "broker/v2/v2_status.h"

#include <gtest/gtest.h>

#include "broker/v2/consumer_rpcs.h"

namespace mq::broker::v2 {
namespace {

namespace pb = apache::rocketmq::v2;

TEST(V2Status, SetStatusFillsCodeAndMessage) {
  pb::Status status;
  SetStatus(&status, pb::Code::TOPIC_NOT_FOUND, "topic 'T' not found");
  EXPECT_EQ(status.code(), pb::Code::TOPIC_NOT_FOUND);
  EXPECT_EQ(status.message(), "topic 'T' not found");
  EXPECT_FALSE(IsOk(status));
}

TEST(V2Status, OkIsTheWireValue20000) {
  pb::Status status = MakeStatus(pb::Code::BAD_REQUEST, "x");
  SetOk(&status);
  EXPECT_TRUE(IsOk(status));
  EXPECT_EQ(static_cast<int>(status.code()), 20000);
}

TEST(V2Proto, HeadAdditionsArePresent) {
  pb::Settings settings;
  (*settings.mutable_client_properties())["k"] = "v";
  EXPECT_EQ(settings.client_properties().at("k"), "v");
  EXPECT_EQ(static_cast<int>(pb::Code::INVALID_CLIENT_PROPERTIES), 40021);
  EXPECT_EQ(static_cast<int>(pb::Code::NOT_IMPLEMENTED), 50100);
}

}  // namespace
}  // namespace mq::broker::v2
