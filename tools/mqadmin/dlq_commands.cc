// resendDLQ: sends dead-letter messages of a group (%DLQ%<group>) back to the topic they were
// consumed from (their RETRY_TOPIC property) as new messages with the same body, tags, keys,
// flag and user properties and a reconsume count of 0.
//
// Idempotence: the new message's id (UNIQ_KEY) is the DLQ record's offsetMsgId, which is
// unique per DLQ record. Before sending, the verb looks that id up in the original topic
// (QueryMessage by unique key, i.e. the index) and skips a record that is already there
// ("ALREADY_RESENT"), so running it again resends nothing twice. Two concurrent runs, or a
// rerun within the index build latency (milliseconds), can still both send; a broker with
// messageIndexEnable=false cannot tell, and says so.
#include <fmt/format.h>

#include <iostream>
#include <limits>

#include "admin_client.h"
#include "commands.h"
#include "common/naming.h"
#include "output.h"

namespace mq::admin {
namespace {

using BA = mq::v1::BrokerAdmin::Stub;
using MS = mq::v1::Messaging::Stub;

constexpr const char* kResendGroup = "TOOLS_RESEND_DLQ";
constexpr int kPullBatch = 32;

struct Outcome {
  std::string dlq_msg_id;
  std::string topic;
  std::string new_msg_id;
  std::string status;  // RESENT | ALREADY_RESENT | FAILED: ...
};

// True when a message with UNIQ_KEY `id` is in `topic` on any master of its route.
Result<bool> AlreadyResent(AdminClient* client, const mq::v1::TopicRouteData& route, const std::string& topic,
                           const std::string& id) {
  mq::v1::QueryMessageRequest req;
  req.set_topic(topic);
  req.set_unique_key(id);
  for (const auto& b : route.broker_datas()) {
    MQ_ASSIGN_OR_RETURN(auto addr, AdminClient::MasterAddr(b));
    mq::v1::QueryMessageResponse resp;
    Status s = client->CallAdmin(addr, &BA::QueryMessage, req, &resp);
    if (s.IsNotFound()) continue;
    MQ_RETURN_IF_ERROR(s);
    if (resp.messages_size() > 0) return true;
  }
  return false;
}

// The master to resend to: the DLQ record's own broker set when the topic has writable queues
// there (where the message was consumed), else the first set that has some.
Result<std::string> ResendTarget(const mq::v1::TopicRouteData& route, const std::string& preferred_broker) {
  std::string first;
  for (const auto& q : route.queue_datas()) {
    if ((q.perm() & 2) == 0 || q.write_queue_nums() <= 0) continue;
    for (const auto& b : route.broker_datas()) {
      if (b.broker_name() != q.broker_name()) continue;
      auto addr = AdminClient::MasterAddr(b);
      if (!addr.ok()) continue;
      if (q.broker_name() == preferred_broker) return *addr;
      if (first.empty()) first = *addr;
    }
  }
  if (first.empty()) return Status::NotFound("topic: no writable queue on a live master");
  return first;
}

Outcome Resend(AdminClient* client, const mq::v1::MessageExt& ext) {
  Outcome out{ext.msg_id(), "", ext.offset_msg_id(), ""};
  auto fail = [&](const Status& s) {
    out.status = "FAILED: " + s.ToString();
    return out;
  };
  auto retry_topic = ext.system_properties().find("RETRY_TOPIC");
  if (retry_topic == ext.system_properties().end() || retry_topic->second.empty()) {
    return fail(
        Status::FailedPrecondition("message: no RETRY_TOPIC property, the original topic is unknown"));
  }
  out.topic = retry_topic->second;
  auto route = client->Route(out.topic);
  if (!route.ok()) return fail(route.status());
  auto done = AlreadyResent(client, *route, out.topic, out.new_msg_id);
  if (!done.ok()) return fail(done.status());
  if (*done) {
    out.status = "ALREADY_RESENT";
    return out;
  }
  auto addr = ResendTarget(*route, ext.broker_name());
  if (!addr.ok()) return fail(addr.status());
  mq::v1::SendMessageRequest req;
  req.set_producer_group("TOOLS_PRODUCER");
  req.set_topic(out.topic);
  req.set_queue_id(-1);  // the broker picks a queue
  auto* m = req.add_messages();
  m->set_topic(out.topic);
  m->set_tags(ext.message().tags());
  *m->mutable_keys() = ext.message().keys();
  m->set_body(ext.message().body());
  *m->mutable_user_properties() = ext.message().user_properties();
  m->set_flag(ext.message().flag());
  m->set_unique_key(out.new_msg_id);
  m->set_born_timestamp(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
  mq::v1::SendMessageResponse resp;
  if (Status s = client->CallMessaging(*addr, &MS::SendMessage, req, &resp); !s.ok()) return fail(s);
  out.status = "RESENT";
  return out;
}

}  // namespace

Status RunResendDlq(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("group", a.group));
  if (a.all == !a.msg_id.empty()) {
    return Status::InvalidArgument("msgId: give exactly one of -i MSGID and --all");
  }
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  const std::string dlq = "%DLQ%" + a.group;
  auto route = client->Route(dlq);
  if (!route.ok()) {
    return route.status().IsNotFound()
               ? Status::NotFound(fmt::format("group: '{}' has no dead-letter topic {}", a.group, dlq))
               : route.status();
  }
  std::vector<Outcome> outcomes;
  bool found = false;
  for (const auto& qd : route->queue_datas()) {
    const mq::v1::BrokerData* broker = nullptr;
    for (const auto& b : route->broker_datas()) {
      if (b.broker_name() == qd.broker_name()) broker = &b;
    }
    if (broker == nullptr) continue;
    MQ_ASSIGN_OR_RETURN(auto addr, AdminClient::MasterAddr(*broker));
    for (int32_t queue_id = 0; queue_id < qd.read_queue_nums(); ++queue_id) {
      mq::v1::GetQueueOffsetsRequest oreq;
      oreq.mutable_queue()->set_topic(dlq);
      oreq.mutable_queue()->set_queue_id(queue_id);
      mq::v1::GetQueueOffsetsResponse oresp;
      MQ_RETURN_IF_ERROR(client->CallMessaging(addr, &MS::GetQueueOffsets, oreq, &oresp));
      int64_t offset = oresp.min_offset();
      // Bounded by the queue's end when the verb started: records arriving meanwhile wait for the next run.
      while (offset < oresp.max_offset()) {
        mq::v1::PullMessageRequest req;
        req.set_consumer_group(kResendGroup);
        req.set_topic(dlq);
        req.set_queue_id(queue_id);
        req.set_queue_offset(offset);
        req.set_max_msg_nums(kPullBatch);
        req.set_subscription("*");
        mq::v1::PullMessageResponse resp;
        MQ_RETURN_IF_ERROR(client->CallMessaging(addr, &MS::PullMessage, req, &resp));
        if (resp.status() != mq::v1::FOUND || resp.next_begin_offset() <= offset) break;
        for (const auto& ext : resp.messages()) {
          if (ext.queue_offset() >= oresp.max_offset()) break;
          if (!a.all && ext.msg_id() != a.msg_id && ext.offset_msg_id() != a.msg_id) continue;
          found = true;
          outcomes.push_back(Resend(client.get(), ext));
        }
        offset = resp.next_begin_offset();
      }
    }
  }
  if (!a.all && !found) {
    return Status::NotFound(fmt::format("msgId: '{}' is not in {}", a.msg_id, dlq));
  }
  bool failed = false;
  if (a.json) {
    Json arr = Json::Array();
    for (const auto& o : outcomes) {
      arr.Push(Json::Object()
                   .Set("dlqMsgId", o.dlq_msg_id)
                   .Set("topic", o.topic)
                   .Set("newMsgId", o.new_msg_id)
                   .Set("status", o.status));
      failed = failed || o.status.rfind("FAILED", 0) == 0;
    }
    PrintJson(arr);
  } else {
    Table table({"#DLQ MsgId", "#Topic", "#New MsgId", "#Status"});
    for (const auto& o : outcomes) {
      table.Add({o.dlq_msg_id, o.topic, o.new_msg_id, o.status});
      failed = failed || o.status.rfind("FAILED", 0) == 0;
    }
    table.Print(std::cout);
  }
  if (failed) return Status::Unavailable("resendDLQ: some messages could not be resent (see FAILED rows)");
  return Status::OK();
}

}  // namespace mq::admin
