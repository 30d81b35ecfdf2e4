// PullConsumer ("lite pull"): the application drives consumption with Poll().
//
// Queues come from Assign() (explicit) or Subscribe() (every readable queue of the topic;
// no sharing with other members of the group: use a PushConsumer for that). Each queue starts
// at the group's committed offset, else at consume_from_where. Poll() returns the next
// messages of one queue, long-polling the queues in turn until the timeout. Commit() stores, on
// the broker, the position after the messages Poll() returned, and waits for the answer. With
// auto_commit (default) each Poll() also sends the positions earlier Polls moved, without
// waiting for the answer (one on its way per queue; one that fails is sent again at the next
// Poll()), and Shutdown() commits and waits: a message counts as consumed once the next Poll()
// is made (at least once).
//
// Thread-safety: all methods are serialised by an internal mutex; Poll() holds it while it
// waits, so call Poll() from one thread.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "mq/client/client_options.h"
#include "mq/client/message.h"
#include "mq/client/push_consumer.h"

namespace mq::client {

struct PullConsumerOptions {
  ClientOptions client;
  std::string group;  // required; committed offsets belong to it
  ConsumeFromWhere consume_from_where = ConsumeFromWhere::kLastOffset;
  int pull_batch_size = 32;
  bool auto_commit = true;
};

class PullConsumerImpl;

class PullConsumer {
 public:
  explicit PullConsumer(PullConsumerOptions options);
  ~PullConsumer();
  PullConsumer(const PullConsumer&) = delete;
  PullConsumer& operator=(const PullConsumer&) = delete;

  Status Start();
  // Commits (when auto_commit) and stops. Idempotent.
  void Shutdown();
  // Takes every readable queue of topic; expression filters by tag ("*" or "TagA || TagB").
  Status Subscribe(const std::string& topic, const std::string& expression = "*");
  // A tag or SQL92 selector (evaluated by the broker; see message_selector.h).
  Status Subscribe(const std::string& topic, const MessageSelector& selector);
  Status Assign(const std::vector<MessageQueue>& queues);
  // Readable queues of topic (for Assign).
  Result<std::vector<MessageQueue>> FetchQueues(const std::string& topic);
  // Up to pull_batch_size messages of one queue; empty when nothing arrived within timeout_ms.
  Result<std::vector<ReceivedMessage>> Poll(int64_t timeout_ms);
  // Next Poll() of q starts at offset.
  Status Seek(const MessageQueue& q, int64_t offset);
  // Stores the current positions of all assigned queues on the brokers.
  Status Commit();
  std::vector<MessageQueue> Assignment() const;

 private:
  std::unique_ptr<PullConsumerImpl> impl_;
};

}  // namespace mq::client
