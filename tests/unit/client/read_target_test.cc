#include "read_target.h"

#include <gtest/gtest.h>

#include "common/clock.h"

namespace mq::client {
namespace {

mq::v1::TopicRouteData Route(const std::map<int64_t, std::string>& addrs) {
  mq::v1::TopicRouteData r;
  auto* other = r.add_broker_datas();
  other->set_broker_name("broker-b");
  (*other->mutable_broker_addrs())[0] = "b0:1";
  auto* bd = r.add_broker_datas();
  bd->set_broker_name("broker-a");
  for (const auto& [id, addr] : addrs) (*bd->mutable_broker_addrs())[id] = addr;
  return r;
}

using Addrs = std::vector<std::string>;

TEST(ReadTargetTest, MasterFirstThenSlavesById) {
  Reachability reach;
  auto route = Route({{0, "m:1"}, {2, "s2:1"}, {1, "s1:1"}});
  EXPECT_EQ(ReadCandidates(route, "broker-a", 0, reach), (Addrs{"m:1", "s1:1", "s2:1"}));
  EXPECT_EQ(OffsetCandidates(route, "broker-a", reach), (Addrs{"m:1", "s1:1", "s2:1"}));
  EXPECT_TRUE(ReadCandidates(route, "broker-x", 0, reach).empty());
}

TEST(ReadTargetTest, FollowsTheSuggestedBrokerWhenTheRouteHasIt) {
  Reachability reach;
  auto route = Route({{0, "m:1"}, {1, "s1:1"}, {2, "s2:1"}});
  EXPECT_EQ(ReadCandidates(route, "broker-a", 2, reach), (Addrs{"s2:1", "m:1", "s1:1"}));
  // A suggested id the route lacks falls back to the master.
  EXPECT_EQ(ReadCandidates(route, "broker-a", 7, reach).front(), "m:1");
}

TEST(ReadTargetTest, MasterAbsentFromRouteReadsFromSlave) {
  Reachability reach;
  auto route = Route({{1, "s1:1"}});
  EXPECT_EQ(ReadCandidates(route, "broker-a", 0, reach), (Addrs{"s1:1"}));
  EXPECT_EQ(OffsetCandidates(route, "broker-a", reach), (Addrs{"s1:1"}));
}

TEST(ReadTargetTest, UnreachableMasterGoesLastUntilIsolationEnds) {
  ManualClock clock;
  Reachability reach(10'000, &clock);
  auto route = Route({{0, "m:1"}, {1, "s1:1"}});
  reach.MarkUnreachable("m:1");
  EXPECT_FALSE(reach.IsReachable("m:1"));
  EXPECT_EQ(ReadCandidates(route, "broker-a", 0, reach), (Addrs{"s1:1", "m:1"}));
  clock.Advance(9'999);
  EXPECT_EQ(ReadCandidates(route, "broker-a", 0, reach).front(), "s1:1");
  clock.Advance(1);
  EXPECT_EQ(ReadCandidates(route, "broker-a", 0, reach).front(), "m:1");
  // A successful call clears the mark at once.
  reach.MarkUnreachable("m:1");
  reach.MarkReachable("m:1");
  EXPECT_EQ(ReadCandidates(route, "broker-a", 0, reach).front(), "m:1");
}

TEST(ReadTargetTest, CallWithFailoverStopsAtTheFirstAnswer) {
  ManualClock clock;
  Reachability reach(10'000, &clock);
  std::vector<std::string> called;
  auto r = CallWithFailover<Result<int>>(Addrs{"m:1", "s1:1", "s2:1"}, reach, "query",
                                         [&](const std::string& addr) -> Result<int> {
                                           called.push_back(addr);
                                           if (addr == "m:1")
                                             return Status::Unavailable("connection refused");
                                           return Status::NotFound("no offset");  // an answer
                                         });
  EXPECT_TRUE(r.status().IsNotFound());
  EXPECT_EQ(called, (Addrs{"m:1", "s1:1"}));
  EXPECT_FALSE(reach.IsReachable("m:1"));
  EXPECT_TRUE(reach.IsReachable("s1:1"));

  // Every node down: the last failure comes back, each node tried once.
  called.clear();
  Status s = CallWithFailover<Status>(Addrs{"m:1", "s1:1"}, reach, "commit", [&](const std::string& addr) {
    called.push_back(addr);
    return Status::Timeout("deadline from " + addr);
  });
  EXPECT_EQ(s.code(), StatusCode::kTimeout);
  EXPECT_EQ(called, (Addrs{"m:1", "s1:1"}));

  s = CallWithFailover<Status>(Addrs{}, reach, "commit offset",
                               [&](const std::string&) { return Status::OK(); });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.ToString().find("commit offset"), std::string::npos);
}

TEST(ReadTargetTest, OnlyTransportFailuresFailOver) {
  EXPECT_TRUE(IsTransportFailure(Status::Unavailable("x")));
  EXPECT_TRUE(IsTransportFailure(Status::Timeout("x")));
  EXPECT_FALSE(IsTransportFailure(Status::NotFound("x")));
  EXPECT_FALSE(IsTransportFailure(Status::PermissionDenied("x")));
  EXPECT_FALSE(IsTransportFailure(Status::OK()));
}

}  // namespace
}  // namespace mq::client
