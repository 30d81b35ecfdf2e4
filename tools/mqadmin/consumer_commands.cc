// Group and consumer verbs: updateSubGroup, deleteSubGroup, consumerProgress,
// consumerConnection, producerConnection, resetOffsetByTime.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <tuple>

#include "admin_client.h"
#include "commands.h"
#include "common/naming.h"
#include "fan_out.h"
#include "output.h"

namespace mq::admin {
namespace {

using BA = mq::v1::BrokerAdmin::Stub;

Result<std::unique_ptr<AdminClient>> ClientFor(const CommandArgs& a) {
  if (a.cluster.empty() && a.namesrv.empty() && std::getenv("NAMESRV_ADDR") == nullptr) {
    return AdminClient::CreateWithoutNamesrv();
  }
  return AdminClient::Create(a.namesrv);
}

// Consume stats of group on every broker set that knows it, each read from its master or, while
// that is down or gone from the NameServer, from a slave (which holds the offsets the master
// synced to it); NotFound when no set knows the group.
Result<std::vector<mq::v1::GetConsumeStatsResponse>> CollectConsumeStats(AdminClient* client,
                                                                         const std::vector<BrokerSet>& sets,
                                                                         const std::string& group,
                                                                         const std::string& topic) {
  std::vector<mq::v1::GetConsumeStatsResponse> out;
  for (const auto& set : sets) {
    mq::v1::GetConsumeStatsRequest req;
    req.set_group(group);
    req.set_topic(topic);
    mq::v1::GetConsumeStatsResponse resp;
    Status s = client->CallAdminFirstReachable(set.addrs, &BA::GetConsumeStats, req, &resp);
    if (s.IsNotFound()) continue;
    MQ_RETURN_IF_ERROR(s);
    if (resp.broker_name().empty()) resp.set_broker_name(set.broker_name);
    out.push_back(std::move(resp));
  }
  if (out.empty()) {
    return Status::NotFound(fmt::format("group: consumer group '{}' is unknown to every broker", group));
  }
  return out;
}

// Connections of group on every broker set (its master, or a slave while the master is down:
// consumers heartbeat to slaves too, producers only to masters), merged by client id; NotFound
// when none is connected.
Result<std::vector<mq::v1::ClientConnection>> CollectConnections(AdminClient* client,
                                                                 const std::vector<BrokerSet>& sets,
                                                                 const std::string& group, bool producers) {
  std::map<std::string, mq::v1::ClientConnection> merged;
  for (const auto& set : sets) {
    mq::v1::GetConnectionsRequest req;
    req.set_group(group);
    mq::v1::GetConnectionsResponse resp;
    Status s = client->CallAdminFirstReachable(
        set.addrs, producers ? &BA::GetProducerConnections : &BA::GetConsumerConnections, req, &resp);
    if (s.IsNotFound()) continue;
    MQ_RETURN_IF_ERROR(s);
    for (const auto& c : resp.connections()) merged.emplace(c.client_id(), c);
  }
  if (merged.empty()) {
    return Status::NotFound(
        fmt::format("group: no {} of group '{}' is online", producers ? "producer" : "consumer", group));
  }
  std::vector<mq::v1::ClientConnection> out;
  for (auto& [id, c] : merged) out.push_back(std::move(c));
  return out;
}

void PrintConnections(const std::vector<mq::v1::ClientConnection>& conns, const std::string& group, bool json,
                      bool producers) {
  if (json) {
    Json arr = Json::Array();
    for (const auto& c : conns) {
      Json obj = Json::Object().Set("clientId", c.client_id()).Set("clientAddr", c.address());
      obj.Set("lastHeartbeat", c.last_heartbeat());
      if (!producers) {
        Json subs = Json::Array();
        for (const auto& s : c.subscriptions()) subs.Push(s);
        obj.Set("messageModel", mq::v1::MessageModel_Name(c.message_model()))
            .Set("subscriptions", std::move(subs));
      }
      arr.Push(std::move(obj));
    }
    PrintJson(Json::Object().Set("group", group).Set("connections", std::move(arr)));
    return;
  }
  Table table(producers ? std::vector<std::string>{"#ClientId", "#ClientAddr", "#LastHeartbeat"}
                        : std::vector<std::string>{"#ClientId", "#ClientAddr", "#MessageModel",
                                                   "#Subscriptions", "#LastHeartbeat"});
  for (const auto& c : conns) {
    if (producers) {
      table.Add({c.client_id(), c.address(), FormatTime(c.last_heartbeat())});
      continue;
    }
    std::string subs;
    for (const auto& s : c.subscriptions()) subs += (subs.empty() ? "" : ",") + s;
    table.Add({c.client_id(), c.address(), mq::v1::MessageModel_Name(c.message_model()),
               subs.empty() ? "-" : subs, FormatTime(c.last_heartbeat())});
  }
  table.Print(std::cout);
}

}  // namespace

Status RunUpdateSubGroup(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("group", a.group));
  mq::v1::CreateSubscriptionGroupRequest req;
  auto* c = req.mutable_config();
  c->set_group_name(a.group);
  MQ_ASSIGN_OR_RETURN(bool consume_enable, ParseBool("consumeEnable", a.consume_enable));
  MQ_ASSIGN_OR_RETURN(bool from_min, ParseBool("consumeFromMinEnable", a.consume_from_min));
  MQ_ASSIGN_OR_RETURN(bool broadcast, ParseBool("consumeBroadcastEnable", a.broadcast));
  MQ_ASSIGN_OR_RETURN(bool orderly, ParseBool("consumeMessageOrderly", a.orderly));
  MQ_ASSIGN_OR_RETURN(bool notify, ParseBool("notifyConsumerIdsChangedEnable", a.notify_ids_changed));
  if (a.retry_queue_nums < 0 || a.retry_max_times < -1 || a.broker_id < 0 || a.which_broker_when_slow < 0) {
    return Status::InvalidArgument(
        "group: retryQueueNums, retryMaxTimes, brokerId and "
        "whichBrokerWhenConsumeSlowly must not be negative");
  }
  c->set_consume_enable(consume_enable);
  c->set_consume_from_min_enable(from_min);
  c->set_consume_broadcast_enable(broadcast);
  c->set_consume_message_orderly(orderly);
  c->set_notify_consumer_ids_changed_enable(notify);
  c->set_retry_queue_nums(a.retry_queue_nums);
  c->set_retry_max_times(a.retry_max_times);
  c->set_broker_id(a.broker_id);
  c->set_which_broker_when_consume_slowly(a.which_broker_when_slow);
  MQ_ASSIGN_OR_RETURN(auto client, ClientFor(a));
  MQ_ASSIGN_OR_RETURN(auto targets, client->ResolveMasters(a.broker_addr, a.cluster));
  FanOut fan_out(targets.size());
  for (const auto& t : targets) {
    mq::v1::CreateSubscriptionGroupResponse resp;
    if (!fan_out.Ok(client->CallAdmin(t.addr, &BA::CreateSubscriptionGroup, req, &resp))) continue;
    std::cout << fmt::format("create subscription group to {} success.\n", t.addr);
  }
  MQ_RETURN_IF_ERROR(fan_out.Result("brokers"));
  std::cout << fmt::format(
      "SubscriptionGroupConfig [groupName={}, consumeEnable={}, consumeFromMinEnable={}, "
      "consumeBroadcastEnable={}, consumeMessageOrderly={}, retryQueueNums={}, retryMaxTimes={}, "
      "brokerId={}, "
      "whichBrokerWhenConsumeSlowly={}, notifyConsumerIdsChangedEnable={}]\n",
      a.group, consume_enable, from_min, broadcast, orderly, a.retry_queue_nums, a.retry_max_times,
      a.broker_id, a.which_broker_when_slow, notify);
  return Status::OK();
}

Status RunDeleteSubGroup(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("group", a.group));
  MQ_ASSIGN_OR_RETURN(bool remove_offsets, ParseBool("removeOffset", a.remove_offsets));
  MQ_ASSIGN_OR_RETURN(auto client, ClientFor(a));
  MQ_ASSIGN_OR_RETURN(auto targets, client->ResolveMasters(a.broker_addr, a.cluster));
  mq::v1::DeleteSubscriptionGroupRequest req;
  req.set_group(a.group);
  req.set_remove_offsets(remove_offsets);
  FanOut fan_out(targets.size());
  for (const auto& t : targets) {
    mq::v1::DeleteSubscriptionGroupResponse resp;
    if (!fan_out.Ok(client->CallAdmin(t.addr, &BA::DeleteSubscriptionGroup, req, &resp))) continue;
    std::cout << fmt::format("delete subscription group [{}] from broker [{}] success.\n", a.group, t.addr);
  }
  return fan_out.Result("brokers");
}

Status RunConsumerProgress(const CommandArgs& a) {
  if (!a.group.empty()) MQ_RETURN_IF_ERROR(ValidateName("group", a.group));
  if (!a.topic.empty()) MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  MQ_ASSIGN_OR_RETURN(auto sets, client->AllBrokerSets());
  if (!a.group.empty()) {
    MQ_ASSIGN_OR_RETURN(auto stats, CollectConsumeStats(client.get(), sets, a.group, a.topic));
    std::vector<std::pair<std::string, mq::v1::QueueConsumeStats>> rows;
    int64_t total_lag = 0;
    for (const auto& s : stats) {
      total_lag += s.total_lag();
      for (const auto& q : s.queues()) rows.emplace_back(s.broker_name(), q);
    }
    std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) {
      return std::make_tuple(x.second.topic(), x.first, x.second.queue_id()) <
             std::make_tuple(y.second.topic(), y.first, y.second.queue_id());
    });
    if (a.json) {
      Json arr = Json::Array();
      for (const auto& [broker, q] : rows) {
        arr.Push(Json::Object()
                     .Set("topic", q.topic())
                     .Set("brokerName", broker)
                     .Set("queueId", q.queue_id())
                     .Set("brokerOffset", q.broker_offset())
                     .Set("consumerOffset", q.consumer_offset())
                     .Set("diff", q.lag())
                     .Set("lastTimestamp", q.last_timestamp()));
      }
      PrintJson(
          Json::Object().Set("group", a.group).Set("queues", std::move(arr)).Set("diffTotal", total_lag));
      return Status::OK();
    }
    Table table(
        {"#Topic", "#Broker Name", "#QID", "#Broker Offset", "#Consumer Offset", "#Diff", "#LastTime"});
    for (const auto& [broker, q] : rows) {
      table.Add({q.topic(), broker, std::to_string(q.queue_id()), std::to_string(q.broker_offset()),
                 std::to_string(q.consumer_offset()), std::to_string(q.lag()),
                 FormatTime(q.last_timestamp())});
    }
    table.Print(std::cout);
    std::cout << "\nDiff Total: " << total_lag << '\n';
    return Status::OK();
  }
  // Every group known to any broker set: online consumers and total lag.
  std::set<std::string> groups;
  for (const auto& set : sets) {
    mq::v1::GetSubscriptionGroupsRequest req;
    mq::v1::GetSubscriptionGroupsResponse resp;
    MQ_RETURN_IF_ERROR(client->CallAdminFirstReachable(set.addrs, &BA::GetSubscriptionGroups, req, &resp));
    for (const auto& g : resp.configs()) groups.insert(g.group_name());
  }
  Table table({"#Group", "#Count", "#Model", "#Diff Total"});
  Json arr = Json::Array();
  for (const auto& g : groups) {
    auto stats = CollectConsumeStats(client.get(), sets, g, a.topic);
    if (!stats.ok() && !stats.status().IsNotFound()) return stats.status();
    int64_t lag = 0;
    if (stats.ok()) {
      for (const auto& s : *stats) lag += s.total_lag();
    }
    auto conns = CollectConnections(client.get(), sets, g, false);
    if (!conns.ok() && !conns.status().IsNotFound()) return conns.status();
    size_t count = conns.ok() ? conns->size() : 0;
    std::string model = conns.ok() ? mq::v1::MessageModel_Name(conns->front().message_model()) : "-";
    table.Add({g, std::to_string(count), model, std::to_string(lag)});
    arr.Push(Json::Object()
                 .Set("group", g)
                 .Set("count", static_cast<int64_t>(count))
                 .Set("messageModel", model)
                 .Set("diffTotal", lag));
  }
  if (a.json) {
    PrintJson(Json::Object().Set("groups", std::move(arr)));
  } else {
    table.Print(std::cout);
  }
  return Status::OK();
}

Status RunConsumerConnection(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("group", a.group));
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  MQ_ASSIGN_OR_RETURN(auto sets, client->AllBrokerSets());
  MQ_ASSIGN_OR_RETURN(auto conns, CollectConnections(client.get(), sets, a.group, false));
  PrintConnections(conns, a.group, a.json, false);
  return Status::OK();
}

Status RunProducerConnection(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("group", a.group));
  MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  MQ_ASSIGN_OR_RETURN(auto route, client->Route(a.topic));
  std::vector<BrokerSet> sets;  // producers heartbeat to masters only: a slave knows none
  for (const auto& b : route.broker_datas()) {
    auto addr = AdminClient::MasterAddr(b);
    if (addr.ok()) sets.push_back(BrokerSet{b.cluster(), b.broker_name(), {*addr}});
  }
  MQ_ASSIGN_OR_RETURN(auto conns, CollectConnections(client.get(), sets, a.group, true));
  PrintConnections(conns, a.group, a.json, true);
  return Status::OK();
}

Status RunResetOffsetByTime(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("group", a.group));
  MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  MQ_ASSIGN_OR_RETURN(int64_t ts, ParseTimestamp("timestamp", a.timestamp));
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  MQ_ASSIGN_OR_RETURN(auto route, client->Route(a.topic));
  Table table({"#Broker Name", "#Queue", "#Offset"});
  Json arr = Json::Array();
  std::vector<mq::v1::BrokerData> brokers(route.broker_datas().begin(), route.broker_datas().end());
  std::sort(brokers.begin(), brokers.end(),
            [](const auto& x, const auto& y) { return x.broker_name() < y.broker_name(); });
  FanOut fan_out(brokers.size());
  for (const auto& b : brokers) {
    auto addr = AdminClient::MasterAddr(b);
    if (!fan_out.Ok(addr.status())) continue;
    mq::v1::ResetOffsetRequest req;
    req.set_group(a.group);
    req.set_topic(a.topic);
    req.set_timestamp(ts);
    mq::v1::ResetOffsetResponse resp;
    if (!fan_out.Ok(client->CallAdmin(*addr, &BA::ResetOffsetByTimestamp, req, &resp))) continue;
    for (const auto& q : resp.queues()) {
      table.Add({b.broker_name(), std::to_string(q.queue_id()), std::to_string(q.consumer_offset())});
      arr.Push(Json::Object()
                   .Set("brokerName", b.broker_name())
                   .Set("queueId", q.queue_id())
                   .Set("offset", q.consumer_offset()));
    }
  }
  if (a.json) {
    PrintJson(Json::Object().Set("group", a.group).Set("topic", a.topic).Set("queues", std::move(arr)));
  } else {
    table.Print(std::cout);
  }
  return fan_out.Result("broker sets");
}

}  // namespace mq::admin
