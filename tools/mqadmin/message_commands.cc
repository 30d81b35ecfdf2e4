// Message verbs: queryMsgById, queryMsgByKey, queryMsgByUniqueKey, queryMsgByOffset,
// sendMessage (through the client library's Producer) and consumeMessage (PullMessage on the
// Messaging service, reading from a slave when the master is unreachable).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <limits>
#include <map>
#include <tuple>

#include "admin_client.h"
#include "commands.h"
#include "common/naming.h"
#include "message_util.h"
#include "mq/client/producer.h"
#include "output.h"

namespace mq::admin {
namespace {

using BA = mq::v1::BrokerAdmin::Stub;

constexpr const char* kToolsProducerGroup = "TOOLS_PRODUCER";

// Runs req on the master of every broker set of topic's route and gathers the messages.
Result<std::vector<mq::v1::MessageExt>> QueryOnMasters(AdminClient* client, const std::string& topic,
                                                       const mq::v1::QueryMessageRequest& req) {
  MQ_ASSIGN_OR_RETURN(auto route, client->Route(topic));
  std::vector<mq::v1::MessageExt> out;
  Status last_not_found;
  for (const auto& b : route.broker_datas()) {
    MQ_ASSIGN_OR_RETURN(auto addr, AdminClient::MasterAddr(b));
    mq::v1::QueryMessageResponse resp;
    Status s = client->CallAdmin(addr, &BA::QueryMessage, req, &resp);
    if (s.IsNotFound()) {
      last_not_found = s;
      continue;
    }
    MQ_RETURN_IF_ERROR(s);
    for (auto& m : *resp.mutable_messages()) out.push_back(std::move(m));
  }
  if (out.empty()) {
    return last_not_found.ok()
               ? Status::NotFound(fmt::format("message: no message found in topic '{}'", topic))
               : last_not_found;
  }
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    return std::make_tuple(x.store_timestamp(), x.commit_log_offset()) <
           std::make_tuple(y.store_timestamp(), y.commit_log_offset());
  });
  return out;
}

void PrintMessages(const std::vector<mq::v1::MessageExt>& msgs, bool json) {
  if (json) {
    Json arr = Json::Array();
    for (const auto& m : msgs) arr.Push(MessageToJson(m, true));
    PrintJson(Json::Object().Set("messages", std::move(arr)));
    return;
  }
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (i > 0) std::cout << '\n';
    PrintMessageDetail(msgs[i], std::cout);
  }
}

Result<std::vector<mq::v1::MessageExt>> QueryByUniqueKey(AdminClient* client, const std::string& topic,
                                                         const std::string& key) {
  mq::v1::QueryMessageRequest req;
  req.set_topic(topic);
  req.set_unique_key(key);
  return QueryOnMasters(client, topic, req);
}

}  // namespace

Status RunQueryMsgById(const CommandArgs& a) {
  if (a.msg_id.empty()) return Status::InvalidArgument("msgId: -i is required");
  if (!a.topic.empty()) MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  auto decoded = DecodeOffsetMsgId(a.msg_id);
  Status by_offset = decoded.status();
  if (decoded.ok()) {
    mq::v1::QueryMessageRequest req;
    req.set_offset_msg_id(a.msg_id);
    mq::v1::QueryMessageResponse resp;
    by_offset = client->CallAdmin(decoded->broker_addr, &BA::QueryMessage, req, &resp);
    if (by_offset.ok() && resp.messages_size() > 0) {
      PrintMessages({resp.messages().begin(), resp.messages().end()}, a.json);
      return Status::OK();
    }
  }
  // Not an offset id of a reachable broker: it may be a unique key (RocketMQ does the same).
  if (a.topic.empty()) {
    return Status(by_offset.ok() ? StatusCode::kNotFound : by_offset.code(),
                  fmt::format("{} (pass -t TOPIC to look it up as a unique key)", by_offset.message()));
  }
  MQ_ASSIGN_OR_RETURN(auto msgs, QueryByUniqueKey(client.get(), a.topic, a.msg_id));
  PrintMessages(msgs, a.json);
  return Status::OK();
}

Status RunQueryMsgByUniqueKey(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  if (a.msg_id.empty()) return Status::InvalidArgument("msgId: -i is required");
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  MQ_ASSIGN_OR_RETURN(auto msgs, QueryByUniqueKey(client.get(), a.topic, a.msg_id));
  PrintMessages(msgs, a.json);
  return Status::OK();
}

Status RunQueryMsgByKey(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  if (a.key.empty()) return Status::InvalidArgument("key: -k is required");
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  mq::v1::QueryMessageRequest req;
  req.set_topic(a.topic);
  req.set_key(a.key);
  req.set_begin_timestamp(a.begin_ms < 0 ? 0 : a.begin_ms);
  req.set_end_timestamp(a.end_ms < 0 ? std::numeric_limits<int64_t>::max() : a.end_ms);
  req.set_max_num(a.max_num);
  MQ_ASSIGN_OR_RETURN(auto msgs, QueryOnMasters(client.get(), a.topic, req));
  if (a.json) {
    PrintMessages(msgs, true);
    return Status::OK();
  }
  Table table({"#Message ID", "#Broker Name", "#QID", "#Offset", "#Store Time"});
  for (const auto& m : msgs) {
    table.Add({m.msg_id(), m.broker_name(), std::to_string(m.queue_id()), std::to_string(m.queue_offset()),
               FormatTime(m.store_timestamp())});
  }
  table.Print(std::cout);
  return Status::OK();
}

Status RunQueryMsgByOffset(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  MQ_RETURN_IF_ERROR(ValidateName("broker_name", a.broker_name));
  if (a.queue_id < 0) return Status::InvalidArgument("queue_id: -i is required");
  if (a.offset < 0) return Status::InvalidArgument("offset: -o is required");
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  MQ_ASSIGN_OR_RETURN(auto route, client->Route(a.topic));
  auto it = std::find_if(route.broker_datas().begin(), route.broker_datas().end(),
                         [&](const auto& b) { return b.broker_name() == a.broker_name; });
  if (it == route.broker_datas().end()) {
    return Status::NotFound(
        fmt::format("broker_name: broker '{}' does not serve topic '{}'", a.broker_name, a.topic));
  }
  mq::v1::QueryMessageRequest req;
  req.set_topic(a.topic);
  req.mutable_queue_offset()->set_queue_id(a.queue_id);
  req.mutable_queue_offset()->set_offset(a.offset);
  mq::v1::QueryMessageResponse resp;
  MQ_RETURN_IF_ERROR(
      client->CallAdminFirstReachable(AdminClient::AddrsMasterFirst(*it), &BA::QueryMessage, req, &resp));
  PrintMessages({resp.messages().begin(), resp.messages().end()}, a.json);
  return Status::OK();
}

Status RunSendMessage(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  if (a.body.empty()) return Status::InvalidArgument("body: -p must not be empty");
  if (a.queue_id >= 0 && a.broker_name.empty()) {
    return Status::InvalidArgument("queue_id: -i needs -b brokerName");
  }
  if (!a.broker_name.empty()) MQ_RETURN_IF_ERROR(ValidateName("broker_name", a.broker_name));
  MQ_ASSIGN_OR_RETURN(auto admin, AdminClient::Create(a.namesrv));
  client::ProducerOptions options;
  options.client.namesrv_addrs = admin->namesrv_addrs();
  options.client.instance_name = fmt::format("mqadmin-{}", ::getpid());
  options.group = kToolsProducerGroup;
  client::Producer producer(options);
  MQ_RETURN_IF_ERROR(producer.Start());
  client::Message msg = client::MakeMessage(a.topic, a.body, a.tags);
  msg.delay_level = a.delay_level;
  if (a.deliver_time_ms < 0) return Status::InvalidArgument("deliverTimeMs: must be epoch ms >= 0");
  msg.deliver_time_ms = a.deliver_time_ms;
  std::string keys = a.keys;
  for (size_t start = 0; start < keys.size();) {
    size_t end = keys.find(' ', start);
    if (end == std::string::npos) end = keys.size();
    if (end > start) msg.keys.push_back(keys.substr(start, end - start));
    start = end + 1;
  }
  Result<client::SendResult> result = Status::Internal("not sent");
  if (!a.broker_name.empty()) {
    MQ_ASSIGN_OR_RETURN(auto queues, producer.FetchPublishQueues(a.topic));
    std::vector<client::MessageQueue> mine;
    for (const auto& q : queues) {
      if (q.broker_name == a.broker_name && (a.queue_id < 0 || q.queue_id == a.queue_id)) mine.push_back(q);
    }
    if (mine.empty()) {
      return Status::NotFound(fmt::format("queue: broker '{}' has no writable queue{} of topic '{}'",
                                          a.broker_name, a.queue_id < 0 ? "" : fmt::format(" {}", a.queue_id),
                                          a.topic));
    }
    client::MessageQueue chosen = mine[static_cast<size_t>(::getpid()) % mine.size()];
    result = producer.Send(
        msg,
        [chosen](const std::vector<client::MessageQueue>&, const client::Message&, const std::string&) {
          return chosen;
        },
        "");
  } else {
    result = producer.Send(msg);
  }
  producer.Shutdown();
  MQ_RETURN_IF_ERROR(result.status());
  const auto& r = *result;
  static constexpr const char* kStatus[] = {"SEND_OK", "FLUSH_DISK_TIMEOUT", "FLUSH_SLAVE_TIMEOUT",
                                            "SLAVE_NOT_AVAILABLE"};
  std::string status = kStatus[static_cast<int>(r.status)];
  if (a.json) {
    PrintJson(Json::Object()
                  .Set("status", status)
                  .Set("msgId", r.msg_id)
                  .Set("offsetMsgId", r.offset_msg_id)
                  .Set("brokerName", r.queue.broker_name)
                  .Set("queueId", r.queue.queue_id)
                  .Set("queueOffset", r.queue_offset)
                  .Set("recallHandle", r.recall_handle));
    return Status::OK();
  }
  Table table({"#Broker Name", "#QID", "#Send Result", "#MsgId", "#OffsetMsgId", "#Queue Offset"});
  table.Add({r.queue.broker_name, std::to_string(r.queue.queue_id), status, r.msg_id, r.offset_msg_id,
             std::to_string(r.queue_offset)});
  table.Print(std::cout);
  if (!r.recall_handle.empty()) std::cout << "RecallHandle: " << r.recall_handle << "\n";
  return Status::OK();
}

Status RunRecallMessage(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  if (a.recall_handle.empty()) return Status::InvalidArgument("recallHandle: -h must not be empty");
  MQ_ASSIGN_OR_RETURN(auto admin, AdminClient::Create(a.namesrv));
  client::ProducerOptions options;
  options.client.namesrv_addrs = admin->namesrv_addrs();
  options.client.instance_name = fmt::format("mqadmin-{}", ::getpid());
  options.group = kToolsProducerGroup;
  client::Producer producer(options);
  MQ_RETURN_IF_ERROR(producer.Start());
  auto msg_id = producer.RecallMessage(a.topic, a.recall_handle);
  producer.Shutdown();
  MQ_RETURN_IF_ERROR(msg_id.status());
  if (a.json) {
    PrintJson(Json::Object().Set("status", "OK").Set("msgId", *msg_id));
  } else {
    std::cout << "recall message success, msgId=" << *msg_id << "\n";
  }
  return Status::OK();
}

}  // namespace mq::admin
