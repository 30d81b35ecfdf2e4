// consumeMessage: reads a topic's queues with PullMessage on the Messaging service (no long
// polling) and prints each message, stopping after -c COUNT messages or when every queue has
// no more (or has reached the -e END_MS position). Each broker set is read from its master, or
// from a slave of the route when the master is unreachable. With -g and no -o/-s, reading starts
// at the group's committed offsets and the new positions are committed at the end. With --sql
// the broker sends only the messages the SQL92 selector matches.
#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <limits>
#include <map>

#include "admin_client.h"
#include "commands.h"
#include "common/naming.h"
#include "message_util.h"
#include "output.h"

namespace mq::admin {
namespace {

using MS = mq::v1::Messaging::Stub;

constexpr const char* kToolsConsumerGroup = "TOOLS_CONSUMER";

// Reads one broker set: remembers which of its addresses answered last.
class BrokerReader {
 public:
  BrokerReader(AdminClient* client, std::vector<std::string> addrs)
      : client_(client), addrs_(std::move(addrs)) {}

  // Calls method on the current address, moving on to the next one while they are unreachable.
  template <typename Req, typename Resp>
  Status Call(SyncMethod<MS, Req, Resp> method, const Req& req, Resp* resp) {
    Status last = Status::Unavailable("broker: no address");
    for (; current_ < addrs_.size(); ++current_) {
      last = client_->CallMessaging(addrs_[current_], method, req, resp);
      if (!IsUnreachable(last)) return last;
    }
    return last;
  }
  bool on_master() const { return current_ == 0; }

 private:
  AdminClient* client_;
  std::vector<std::string> addrs_;  // master first
  size_t current_ = 0;
};

Result<int64_t> SearchOffset(BrokerReader* reader, const std::string& topic, int32_t queue_id, int64_t ts) {
  mq::v1::SearchOffsetRequest req;
  req.mutable_queue()->set_topic(topic);
  req.mutable_queue()->set_queue_id(queue_id);
  req.set_timestamp(ts);
  mq::v1::SearchOffsetResponse resp;
  MQ_RETURN_IF_ERROR(reader->Call(&MS::SearchOffset, req, &resp));
  return resp.offset();
}

Result<int64_t> StartOffset(BrokerReader* reader, const CommandArgs& a, int32_t queue_id) {
  if (a.offset >= 0) return a.offset;
  if (a.begin_ms >= 0) return SearchOffset(reader, a.topic, queue_id, a.begin_ms);
  if (!a.group.empty()) {
    mq::v1::QueryConsumerOffsetRequest req;
    req.set_consumer_group(a.group);
    req.mutable_queue()->set_topic(a.topic);
    req.mutable_queue()->set_queue_id(queue_id);
    mq::v1::QueryConsumerOffsetResponse resp;
    Status s = reader->Call(&MS::QueryConsumerOffset, req, &resp);
    if (s.ok() && resp.offset() >= 0) return resp.offset();
    if (!s.ok() && !s.IsNotFound()) return s;
  }
  mq::v1::GetQueueOffsetsRequest req;
  req.mutable_queue()->set_topic(a.topic);
  req.mutable_queue()->set_queue_id(queue_id);
  mq::v1::GetQueueOffsetsResponse resp;
  MQ_RETURN_IF_ERROR(reader->Call(&MS::GetQueueOffsets, req, &resp));
  return resp.min_offset();
}

void PrintOne(const mq::v1::MessageExt& m, bool json) {
  if (json) {
    PrintJson(MessageToJson(m, false));
    return;
  }
  std::cout << fmt::format(
      "msgId={} offsetMsgId={} brokerName={} queueId={} queueOffset={} tags={} keys={} body={}\n", m.msg_id(),
      m.offset_msg_id(), m.broker_name(), m.queue_id(), m.queue_offset(), m.message().tags(),
      JoinKeys(m.message()), m.message().body());
}

}  // namespace

Status RunConsumeMessage(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  if (!a.group.empty()) MQ_RETURN_IF_ERROR(ValidateName("group", a.group));
  if (!a.broker_name.empty()) MQ_RETURN_IF_ERROR(ValidateName("broker_name", a.broker_name));
  if (a.offset >= 0 && (a.broker_name.empty() || a.queue_id < 0)) {
    return Status::InvalidArgument("offset: -o needs -b brokerName and -i queueId");
  }
  if (a.count <= 0) return Status::InvalidArgument("count: -c must be positive");
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  MQ_ASSIGN_OR_RETURN(auto route, client->Route(a.topic));
  const std::string group = a.group.empty() ? kToolsConsumerGroup : a.group;
  std::vector<mq::v1::QueueData> queue_datas(route.queue_datas().begin(), route.queue_datas().end());
  std::sort(queue_datas.begin(), queue_datas.end(),
            [](const auto& x, const auto& y) { return x.broker_name() < y.broker_name(); });
  int64_t printed = 0;
  bool matched_queue = false;
  for (const auto& qd : queue_datas) {
    if (!a.broker_name.empty() && qd.broker_name() != a.broker_name) continue;
    if ((qd.perm() & 4) == 0) continue;  // not readable
    auto data = std::find_if(route.broker_datas().begin(), route.broker_datas().end(),
                             [&](const auto& b) { return b.broker_name() == qd.broker_name(); });
    if (data == route.broker_datas().end()) continue;
    BrokerReader reader(client.get(), AdminClient::AddrsMasterFirst(*data));
    for (int32_t qid = 0; qid < qd.read_queue_nums() && printed < a.count; ++qid) {
      if (a.queue_id >= 0 && qid != a.queue_id) continue;
      matched_queue = true;
      MQ_ASSIGN_OR_RETURN(int64_t offset, StartOffset(&reader, a, qid));
      int64_t end = std::numeric_limits<int64_t>::max();
      if (a.end_ms >= 0) {
        MQ_ASSIGN_OR_RETURN(end, SearchOffset(&reader, a.topic, qid, a.end_ms));
      }
      const int64_t start = offset;
      while (printed < a.count && offset < end) {
        mq::v1::PullMessageRequest req;
        req.set_consumer_group(group);
        req.set_topic(a.topic);
        req.set_queue_id(qid);
        req.set_queue_offset(offset);
        req.set_max_msg_nums(static_cast<int32_t>(std::min<int64_t>(32, a.count - printed)));
        req.set_subscription(a.sql.empty() ? "*" : a.sql);
        if (!a.sql.empty()) req.set_expression_type("SQL92");
        mq::v1::PullMessageResponse resp;
        MQ_RETURN_IF_ERROR(reader.Call(&MS::PullMessage, req, &resp));
        if (resp.status() == mq::v1::FOUND) {
          for (const auto& m : resp.messages()) {
            if (m.queue_offset() >= end || printed >= a.count) break;
            if (a.end_ms >= 0 && m.store_timestamp() > a.end_ms) continue;
            PrintOne(m, a.json);
            ++printed;
            offset = m.queue_offset() + 1;
          }
          if (printed < a.count) offset = std::max(offset, resp.next_begin_offset());
          continue;
        }
        // NO_NEW_MSG ends the queue; the other statuses move on when they point somewhere new.
        if (resp.status() == mq::v1::NO_NEW_MSG || resp.next_begin_offset() <= offset) break;
        offset = resp.next_begin_offset();
      }
      if (!a.group.empty() && offset != start && reader.on_master()) {
        mq::v1::UpdateConsumerOffsetRequest commit;
        commit.set_consumer_group(a.group);
        commit.mutable_queue()->set_topic(a.topic);
        commit.mutable_queue()->set_queue_id(qid);
        commit.set_offset(offset);
        mq::v1::UpdateConsumerOffsetResponse ignored;
        MQ_RETURN_IF_ERROR(reader.Call(&MS::UpdateConsumerOffset, commit, &ignored));
      }
    }
  }
  if (!matched_queue) {
    return Status::NotFound(fmt::format("queue: topic '{}' has no readable queue{}{}", a.topic,
                                        a.broker_name.empty() ? "" : " on broker " + a.broker_name,
                                        a.queue_id < 0 ? "" : fmt::format(" with id {}", a.queue_id)));
  }
  if (!a.json) std::cout << fmt::format("consumed {} message(s)\n", printed);
  return Status::OK();
}

}  // namespace mq::admin
