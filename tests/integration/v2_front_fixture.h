// Shared by the v2 front's integration tests (v2_front_test.cc: routes, Telemetry, clients;
// v2_front_send_test.cc: sends, transactions, bad input): the fixture that starts brokers with an
// ephemeral v2 port and helpers that check what the v1 side stored. Test code.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "grpc_test_util.h"
#include "namesrv_fixture.h"
#include "testutil/temp_dir.h"
#include "v2_front_util.h"

namespace mq::testing {

using V2Stub = pb::MessagingService::Stub;

inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The NameServer's route of `topic` names `brokers` broker sets.
inline bool RouteHasBrokers(NamesrvProcess& ns, const std::string& topic, int brokers) {
  mq::v1::QueryRouteRequest req;
  req.set_topic(topic);
  mq::v1::QueryRouteResponse resp;
  return Call(ns.stub(), &mq::v1::NameServer::Stub::QueryRoute, req, &resp).ok() &&
         resp.route().queue_datas_size() == brokers;
}

inline int64_t MaxOffset(BrokerProcess& b, const std::string& topic, int32_t queue) {
  mq::v1::GetQueueOffsetsRequest req;
  req.mutable_queue()->set_topic(topic);
  req.mutable_queue()->set_queue_id(queue);
  mq::v1::GetQueueOffsetsResponse resp;
  if (!Call(b.messaging(), &mq::v1::Messaging::Stub::GetQueueOffsets, req, &resp).ok()) return -1;
  return resp.max_offset();
}

inline std::vector<mq::v1::MessageExt> PullAll(BrokerProcess& b, const std::string& topic, int32_t queue) {
  mq::v1::PullMessageResponse resp;
  EXPECT_GRPC_OK(Pull(b.messaging(), "v2-front-check", topic, queue, 0, &resp));
  return {resp.messages().begin(), resp.messages().end()};
}

inline pb::SendMessageResponse SendOne(V2Client& c, const pb::Message& m) {
  pb::SendMessageRequest req;
  *req.add_messages() = m;
  pb::SendMessageResponse resp;
  EXPECT_GRPC_OK(c.Unary(&V2Stub::SendMessage, req, &resp));
  return resp;
}

class V2FrontTest : public ::testing::Test {
 protected:
  std::unique_ptr<BrokerProcess> StartBroker(const std::string& name, std::vector<std::string> sets = {},
                                             const std::string& namesrv = "") {
    sets.push_back("grpcServerPort=-1");
    sets.push_back("timerPrecisionMs=100");
    sets.push_back("transactionTimeOut=300");
    sets.push_back("transactionCheckInterval=300");
    auto b = std::make_unique<BrokerProcess>(
        BrokerOptions{namesrv.empty() ? ns_.address() : namesrv, dir_.Sub(name), name, sets});
    EXPECT_TRUE(b->Start());
    EXPECT_FALSE(b->v2_address().empty());
    return b;
  }

  NamesrvProcess ns_;
  TempDir dir_;
};

}  // namespace mq::testing
