// Topic verbs: updateTopic, deleteTopic, topicList, topicRoute, topicStatus, topicClusterList,
// updateTopicPerm.
#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <set>

#include "admin_client.h"
#include "commands.h"
#include "common/naming.h"
#include "fan_out.h"
#include "output.h"
#include "topic_attributes.h"

namespace mq::admin {
namespace {

using NS = mq::v1::NameServer::Stub;
using BA = mq::v1::BrokerAdmin::Stub;

Status ValidatePerm(int32_t perm) {
  // RocketMQ accepts 2 (W), 4 (R) and 6 (RW) from updateTopic / updateTopicPerm.
  if (perm != 2 && perm != 4 && perm != 6) {
    return Status::InvalidArgument(fmt::format("perm: {} is not 2 (W), 4 (R) or 6 (RW)", perm));
  }
  return Status::OK();
}

std::string PermString(int32_t perm) {
  std::string s;
  s += (perm & 4) ? 'R' : '-';
  s += (perm & 2) ? 'W' : '-';
  return s;
}

// Sorted copy of a route's broker datas.
std::vector<mq::v1::BrokerData> SortedBrokers(const mq::v1::TopicRouteData& route) {
  std::vector<mq::v1::BrokerData> v(route.broker_datas().begin(), route.broker_datas().end());
  std::sort(v.begin(), v.end(),
            [](const auto& x, const auto& y) { return x.broker_name() < y.broker_name(); });
  return v;
}

}  // namespace

Status RunUpdateTopic(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  MQ_RETURN_IF_ERROR(ValidatePerm(a.perm));
  if (a.read_queues <= 0 || a.read_queues > 1024 || a.write_queues <= 0 || a.write_queues > 1024) {
    return Status::InvalidArgument("queue_nums: read and write queue numbers must be in 1..1024");
  }
  bool order = false;
  if (!a.order.empty()) {
    MQ_ASSIGN_OR_RETURN(order, ParseBool("order", a.order));
  }
  std::unique_ptr<AdminClient> client;
  if (a.cluster.empty() && a.namesrv.empty() && std::getenv("NAMESRV_ADDR") == nullptr) {
    client = AdminClient::CreateWithoutNamesrv();
  } else {
    MQ_ASSIGN_OR_RETURN(client, AdminClient::Create(a.namesrv));
  }
  AttributeChanges changes;
  if (!a.attributes.empty()) {
    MQ_ASSIGN_OR_RETURN(changes, ParseAttributeChanges(a.attributes));
  }
  MQ_ASSIGN_OR_RETURN(auto targets, client->ResolveMasters(a.broker_addr, a.cluster));
  mq::v1::CreateTopicRequest req;
  auto* cfg = req.mutable_config();
  cfg->set_topic_name(a.topic);
  cfg->set_read_queue_nums(a.read_queues);
  cfg->set_write_queue_nums(a.write_queues);
  cfg->set_perm(a.perm);
  cfg->set_order(order);
  FanOut fan_out(targets.size());
  for (const auto& t : targets) {
    // An update keeps the attributes the topic has on this broker, changed by -a; a broker whose
    // current ones cannot be read is not updated (it would lose them).
    mq::v1::GetTopicConfigRequest greq;
    greq.set_topic(a.topic);
    mq::v1::GetTopicConfigResponse current;
    Status read = client->CallAdmin(t.addr, &BA::GetTopicConfig, greq, &current);
    if (!fan_out.Ok(read.IsNotFound() ? Status::OK() : read)) continue;
    std::map<std::string, std::string> attributes;
    if (read.ok() && current.configs_size() == 1) {
      attributes.insert(current.configs(0).attributes().begin(), current.configs(0).attributes().end());
    }
    ApplyAttributeChanges(changes, &attributes);
    cfg->mutable_attributes()->clear();
    cfg->mutable_attributes()->insert(attributes.begin(), attributes.end());
    mq::v1::CreateTopicResponse resp;
    if (!fan_out.Ok(client->CallAdmin(t.addr, &BA::CreateTopic, req, &resp))) continue;
    std::cout << fmt::format("create topic to {} success.\n", t.addr);
  }
  MQ_RETURN_IF_ERROR(fan_out.Result("brokers"));
  std::cout << fmt::format(
      "TopicConfig [topicName={}, readQueueNums={}, writeQueueNums={}, perm={}, order={}]\n", a.topic,
      a.read_queues, a.write_queues, PermString(a.perm), order);
  return Status::OK();
}

Status RunDeleteTopic(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  MQ_ASSIGN_OR_RETURN(auto targets, client->ResolveMasters("", a.cluster));
  mq::v1::DeleteTopicOnBrokerRequest breq;
  breq.set_topic(a.topic);
  // A broker that failed keeps the topic and registers it again, so its route comes back; the
  // verb fails naming it, and deleting again finishes the job.
  FanOut brokers(targets.size());
  for (const auto& t : targets) {
    mq::v1::DeleteTopicOnBrokerResponse resp;
    Status s = client->CallAdmin(t.addr, &BA::DeleteTopic, breq, &resp);
    brokers.Ok(s.IsNotFound() ? Status::OK() : s);
  }
  Status on_brokers = brokers.Result("brokers");
  if (on_brokers.ok()) {
    std::cout << fmt::format("delete topic [{}] from cluster [{}] success.\n", a.topic, a.cluster);
  }
  mq::v1::DeleteTopicRequest nreq;
  nreq.set_topic(a.topic);
  nreq.set_cluster(a.cluster);
  FanOut namesrvs(client->namesrv_addrs().size());
  for (const auto& ns : client->namesrv_addrs()) {
    mq::v1::DeleteTopicResponse resp;
    Status s = client->CallNamesrvAt(ns, &NS::DeleteTopic, nreq, &resp);
    if (!namesrvs.Ok(s.IsNotFound() ? Status::OK() : s)) continue;
    std::cout << fmt::format("delete topic [{}] from NameServer {} success.\n", a.topic, ns);
  }
  MQ_RETURN_IF_ERROR(on_brokers);
  return namesrvs.Result("NameServers");
}

Status RunTopicList(const CommandArgs& a) {
  if (!a.cluster.empty()) MQ_RETURN_IF_ERROR(ValidateName("cluster", a.cluster));
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  mq::v1::GetAllTopicsRequest req;
  req.set_cluster(a.cluster);
  mq::v1::GetAllTopicsResponse resp;
  MQ_RETURN_IF_ERROR(client->CallNamesrv(&NS::GetAllTopics, req, &resp));
  std::vector<std::string> topics(resp.topics().begin(), resp.topics().end());
  std::sort(topics.begin(), topics.end());
  if (a.json) {
    Json arr = Json::Array();
    for (const auto& t : topics) arr.Push(t);
    PrintJson(Json::Object().Set("topics", std::move(arr)));
    return Status::OK();
  }
  for (const auto& t : topics) std::cout << t << '\n';
  return Status::OK();
}

Status RunTopicRoute(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  MQ_ASSIGN_OR_RETURN(auto route, client->Route(a.topic));
  std::vector<mq::v1::QueueData> queues(route.queue_datas().begin(), route.queue_datas().end());
  std::sort(queues.begin(), queues.end(),
            [](const auto& x, const auto& y) { return x.broker_name() < y.broker_name(); });
  auto brokers = SortedBrokers(route);
  if (a.json) {
    Json jb = Json::Array();
    for (const auto& b : brokers) {
      Json addrs = Json::Object();
      std::map<int64_t, std::string> sorted(b.broker_addrs().begin(), b.broker_addrs().end());
      for (const auto& [id, addr] : sorted) addrs.Set(std::to_string(id), addr);
      jb.Push(Json::Object()
                  .Set("cluster", b.cluster())
                  .Set("brokerName", b.broker_name())
                  .Set("brokerAddrs", std::move(addrs)));
    }
    Json jq = Json::Array();
    for (const auto& q : queues) {
      jq.Push(Json::Object()
                  .Set("brokerName", q.broker_name())
                  .Set("readQueueNums", q.read_queue_nums())
                  .Set("writeQueueNums", q.write_queue_nums())
                  .Set("perm", q.perm())
                  .Set("topicSysFlag", q.topic_sys_flag()));
    }
    PrintJson(Json::Object()
                  .Set("topic", a.topic)
                  .Set("orderTopic", route.order_topic())
                  .Set("brokerDatas", std::move(jb))
                  .Set("queueDatas", std::move(jq)));
    return Status::OK();
  }
  Table bt({"#Cluster", "#Broker Name", "#BID", "#Addr"});
  for (const auto& b : brokers) {
    std::map<int64_t, std::string> sorted(b.broker_addrs().begin(), b.broker_addrs().end());
    for (const auto& [id, addr] : sorted) bt.Add({b.cluster(), b.broker_name(), std::to_string(id), addr});
  }
  bt.Print(std::cout);
  std::cout << '\n';
  Table qt({"#Broker Name", "#Read Queues", "#Write Queues", "#Perm", "#Order"});
  for (const auto& q : queues) {
    qt.Add({q.broker_name(), std::to_string(q.read_queue_nums()), std::to_string(q.write_queue_nums()),
            fmt::format("{} ({})", q.perm(), PermString(q.perm())), route.order_topic() ? "true" : "false"});
  }
  qt.Print(std::cout);
  return Status::OK();
}

Status RunTopicStatus(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  MQ_ASSIGN_OR_RETURN(auto route, client->Route(a.topic));
  Table table({"#Broker Name", "#QID", "#Min Offset", "#Max Offset", "#Last Updated"});
  Json rows = Json::Array();
  for (const auto& b : SortedBrokers(route)) {
    mq::v1::GetTopicStatsRequest req;
    req.set_topic(a.topic);
    mq::v1::GetTopicStatsResponse resp;
    // The master, or a slave while it is down (consumerProgress does the same).
    MQ_RETURN_IF_ERROR(
        client->CallAdminFirstReachable(AdminClient::AddrsMasterFirst(b), &BA::GetTopicStats, req, &resp));
    for (const auto& q : resp.queues()) {
      table.Add({b.broker_name(), std::to_string(q.queue_id()), std::to_string(q.min_offset()),
                 std::to_string(q.max_offset()), FormatTime(q.last_update_timestamp())});
      rows.Push(Json::Object()
                    .Set("brokerName", b.broker_name())
                    .Set("queueId", q.queue_id())
                    .Set("minOffset", q.min_offset())
                    .Set("maxOffset", q.max_offset())
                    .Set("lastUpdateTimestamp", q.last_update_timestamp()));
    }
  }
  if (a.json) {
    PrintJson(Json::Object().Set("topic", a.topic).Set("queues", std::move(rows)));
  } else {
    table.Print(std::cout);
  }
  return Status::OK();
}

Status RunTopicClusterList(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  MQ_ASSIGN_OR_RETURN(auto route, client->Route(a.topic));
  std::set<std::string> clusters;
  for (const auto& b : route.broker_datas()) clusters.insert(b.cluster());
  if (a.json) {
    Json arr = Json::Array();
    for (const auto& c : clusters) arr.Push(c);
    PrintJson(Json::Object().Set("topic", a.topic).Set("clusters", std::move(arr)));
    return Status::OK();
  }
  for (const auto& c : clusters) std::cout << c << '\n';
  return Status::OK();
}

Status RunUpdateTopicPerm(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  MQ_RETURN_IF_ERROR(ValidatePerm(a.perm));
  std::unique_ptr<AdminClient> client;
  if (a.cluster.empty() && a.namesrv.empty() && std::getenv("NAMESRV_ADDR") == nullptr) {
    client = AdminClient::CreateWithoutNamesrv();
  } else {
    MQ_ASSIGN_OR_RETURN(client, AdminClient::Create(a.namesrv));
  }
  MQ_ASSIGN_OR_RETURN(auto targets, client->ResolveMasters(a.broker_addr, a.cluster));
  FanOut fan_out(targets.size());
  for (const auto& t : targets) {
    mq::v1::GetTopicConfigRequest greq;
    greq.set_topic(a.topic);
    mq::v1::GetTopicConfigResponse gresp;
    if (!fan_out.Ok(client->CallAdmin(t.addr, &BA::GetTopicConfig, greq, &gresp))) continue;
    if (gresp.configs_size() == 0) {
      fan_out.Ok(
          Status::NotFound(fmt::format("topic: topic '{}' does not exist on broker {}", a.topic, t.addr)));
      continue;
    }
    mq::v1::CreateTopicRequest creq;
    *creq.mutable_config() = gresp.configs(0);
    int32_t old_perm = creq.config().perm();
    creq.mutable_config()->set_perm(a.perm);
    mq::v1::CreateTopicResponse cresp;
    if (!fan_out.Ok(client->CallAdmin(t.addr, &BA::CreateTopic, creq, &cresp))) continue;
    std::cout << fmt::format("update topic perm from {} to {} in {} success.\n", old_perm, a.perm, t.addr);
  }
  return fan_out.Result("brokers");
}

}  // namespace mq::admin
