// Pure route helpers: which queues a topic route offers for publishing and subscribing,
// round-robin queue selection with fault avoidance, average allocation and tag filtering.
// No I/O; unit-tested directly. Thread-safety noted per type.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/perm.h"
#include "common/result.h"
#include "latency_fault.h"
#include "mq/client/message.h"
#include "mq/client/message_selector.h"
#include "mq/v1/common.pb.h"

namespace mq::client {

// Writable queues of master brokers (brokers with an id-0 address), sorted by broker name, then
// queue id.
std::vector<MessageQueue> PublishQueues(const std::string& topic, const mq::v1::TopicRouteData& route);
// Readable queues of broker sets with any live node (master or slave: consumers read from a
// slave while the master is away, read_target.h), sorted.
std::vector<MessageQueue> SubscribeQueues(const std::string& topic, const mq::v1::TopicRouteData& route);
// Distinct brokers among `queues` sorted by broker name (as PublishQueues returns them).
int CountBrokers(const std::vector<MessageQueue>& queues);
// brokerName -> master address ("" when the broker has no master).
std::string MasterAddress(const mq::v1::TopicRouteData& route, const std::string& broker_name);
// brokerName -> its master's fast send port address ("" when it advertises none).
std::string MasterFastSendAddress(const mq::v1::TopicRouteData& route, const std::string& broker_name);
// The fast send port of the broker (master or slave) at `broker_addr` ("" when it advertises none).
std::string FastSendAddressOf(const mq::v1::TopicRouteData& route, const std::string& broker_addr);

// A route snapshot with its publish queues (PublishQueues).
struct PublishRoute {
  std::shared_ptr<const mq::v1::TopicRouteData> route;
  std::vector<MessageQueue> queues;
};

// The publish queues of each topic's current route snapshot, rebuilt only when the snapshot
// changes (a new answer from the NameServers), so a send neither copies the route nor sorts its
// queues. Thread-safe (mu_ guards by_topic_).
class PublishRouteCache {
 public:
  std::shared_ptr<const PublishRoute> Get(const std::string& topic,
                                          std::shared_ptr<const mq::v1::TopicRouteData> route);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const PublishRoute>, std::less<>> by_topic_;
};

// Round robin over queues, skipping the previous attempt's broker and brokers the fault
// tolerance isolates; falls back to plain round robin when every broker is excluded.
// Thread-safe (atomic counter). queues must not be empty.
class QueueSelector {
 public:
  MessageQueue Select(const std::vector<MessageQueue>& queues, const std::string& last_broker,
                      const LatencyFaultTolerance* faults);
  // For requests of varying size (auto-batches): the eligible queue that has been given the
  // fewest messages so far, charged `messages`. Per-request round robin would skew queues by
  // batch size; this keeps their message counts within one batch of each other. A queue seen
  // for the first time starts at the lowest count of the others, so it is not flooded.
  MessageQueue SelectBalanced(const std::vector<MessageQueue>& queues, const std::string& last_broker,
                              const LatencyFaultTolerance* faults, int64_t messages);

 private:
  std::atomic<uint64_t> next_{0};
  std::mutex mu_;
  std::map<MessageQueue, int64_t> given_;  // guarded by mu_: messages per queue
};

// RocketMQ AllocateMessageQueueAveragely: queues and consumer ids sorted; consumer i of n gets a
// contiguous block, the first (queues % n) consumers one extra. Empty if me is not in cids.
std::vector<MessageQueue> AllocateAveragely(std::vector<MessageQueue> queues, std::vector<std::string> cids,
                                            const std::string& me);

// "*" (or empty) matches everything; "TagA || TagB" matches those tags. An SQL92 selector
// (ParseSql) is validated here and evaluated by the broker alone, so it matches every
// message the broker sends.
class TagFilter {
 public:
  static Result<TagFilter> Parse(const std::string& expression);
  static Result<TagFilter> ParseSql(const std::string& expression);
  bool Matches(const std::string& tag) const { return all_ || tags_.count(tag) > 0; }
  const std::string& expression() const { return expression_; }
  // "TAG" or "SQL92", as sent in pulls and heartbeats.
  const std::string& expression_type() const { return expression_type_; }

 private:
  bool all_ = true;
  std::set<std::string> tags_;
  std::string expression_ = "*";
  std::string expression_type_ = "TAG";
};

Result<TagFilter> ParseSelector(const MessageSelector& selector);

}  // namespace mq::client
