// queryTransactionHalf: pending half messages (sent in a transaction, neither committed nor
// rolled back yet) of a topic, asked of every master serving it. RocketMQ has no such verb;
// operators otherwise read RMQ_SYS_TRANS_HALF_TOPIC by hand and cannot tell which halves are
// already resolved by an op. The broker answers from its check position on, skipping resolved
// transactions, within a bounded scan (the output says when it was truncated).
#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "admin_client.h"
#include "commands.h"
#include "common/naming.h"
#include "output.h"

namespace mq::admin {

using MS = mq::v1::Messaging::Stub;

Status RunQueryTransactionHalf(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", a.topic));
  if (a.max_num <= 0 || a.max_num > 1000) {
    return Status::InvalidArgument(fmt::format("max_num: -m {} is outside 1..1000", a.max_num));
  }
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  MQ_ASSIGN_OR_RETURN(auto route, client->Route(a.topic));
  std::vector<mq::v1::BrokerData> brokers(route.broker_datas().begin(), route.broker_datas().end());
  std::sort(brokers.begin(), brokers.end(),
            [](const auto& x, const auto& y) { return x.broker_name() < y.broker_name(); });
  Table table({"#Broker Name", "#Transaction Id", "#QID", "#Producer Group", "#Prepared", "#Checks"});
  Json rows = Json::Array();
  Json summaries = Json::Array();
  std::vector<std::string> notes;
  for (const auto& b : brokers) {
    MQ_ASSIGN_OR_RETURN(auto addr, AdminClient::MasterAddr(b));
    mq::v1::QueryTransactionHalfRequest req;
    req.set_topic(a.topic);
    req.set_max_num(a.max_num);
    mq::v1::QueryTransactionHalfResponse resp;
    MQ_RETURN_IF_ERROR(client->CallMessaging(addr, &MS::QueryTransactionHalf, req, &resp));
    for (const auto& h : resp.halves()) {
      table.Add({b.broker_name(), h.transaction_id(), std::to_string(h.queue_id()), h.producer_group(),
                 FormatTime(h.prepared_timestamp()), std::to_string(h.check_times())});
      rows.Push(Json::Object()
                    .Set("brokerName", b.broker_name())
                    .Set("transactionId", h.transaction_id())
                    .Set("topic", h.topic())
                    .Set("queueId", h.queue_id())
                    .Set("producerGroup", h.producer_group())
                    .Set("commitLogOffset", h.commit_log_offset())
                    .Set("preparedTimestamp", h.prepared_timestamp())
                    .Set("checkTimes", h.check_times()));
    }
    summaries.Push(Json::Object()
                       .Set("brokerName", b.broker_name())
                       .Set("pendingAllTopics", resp.pending_total())
                       .Set("scanned", resp.scanned())
                       .Set("truncated", resp.truncated()));
    notes.push_back(fmt::format("{}: {} pending half message(s) on all topics, {} record(s) scanned{}",
                                b.broker_name(), resp.pending_total(), resp.scanned(),
                                resp.truncated() ? ", scan truncated" : ""));
  }
  if (a.json) {
    PrintJson(Json::Object()
                  .Set("topic", a.topic)
                  .Set("halves", std::move(rows))
                  .Set("brokers", std::move(summaries)));
  } else {
    table.Print(std::cout);
    for (const auto& n : notes) std::cout << n << '\n';
  }
  return Status::OK();
}

}  // namespace mq::admin
