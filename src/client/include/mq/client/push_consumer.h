// PushConsumer: pulls (long polling) the queues assigned to it and hands messages to a
// listener on a consume thread pool.
//
// Models: CLUSTERING (the group's consumers share the queues of all brokers; client-side
// average rebalance; offsets on the broker) and BROADCASTING (every consumer gets every
// message; offsets in a local file). Modes: concurrent, or orderly (per-queue broker lock,
// one thread per queue at a time, in queue order).
//
// Delivery: at least once. Clustering, concurrent: a listener that returns kRetryLater, throws
// or runs longer than consume_timeout_ms has its messages sent back to the broker
// (ConsumerSendMsgBack), which redelivers them to this group through %RETRY%<group> after
// RocketMQ's backoff (delay level 3 + reconsume times: 10 s, 30 s, 1 m, ...), and puts them in
// %DLQ%<group> once max_reconsume_times is used up. The consumer subscribes %RETRY%<group>
// itself (not shown by AssignedQueues) and hands those messages over with their original
// topic. If a send-back fails the message is retried locally after retry_delay_ms and is never
// committed before it is handled. Orderly: local retry (the queue is suspended for
// suspend_current_queue_time_ms, then the same messages come again) and, after
// max_reconsume_times, the message goes to the DLQ and the queue moves on. Broadcasting: no
// retry topic; a failed message is logged and dropped, as RocketMQ does.
// The queue's committed offset never passes an unconsumed message. A crash, kill or
// rebalance handover can redeliver messages consumed since the last commit (at most
// commit_interval_ms worth). A graceful Shutdown() commits, so a clean restart replays nothing.
//
// Thread-safety: Subscribe/RegisterListener before Start(); Start/Shutdown from one thread, or
// Shutdown from the listener ("stop after this message"): it returns at once and the shutdown
// goes on beside it (the destructor waits for it; never destroy the consumer in its listener).
// The listener runs on consume threads (never gRPC threads) and must be thread-safe in
// concurrent mode.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "mq/client/client_options.h"
#include "mq/client/message.h"
#include "mq/client/message_selector.h"

namespace mq::client {

enum class MessageModel { kClustering, kBroadcasting };
enum class ConsumeFromWhere { kLastOffset, kFirstOffset, kTimestamp };
enum class ConsumeResult { kSuccess, kRetryLater };

struct PushConsumerOptions {
  ClientOptions client;
  std::string group;  // required
  MessageModel model = MessageModel::kClustering;
  // Where a queue without a committed offset starts (a %RETRY% queue: always its first offset).
  ConsumeFromWhere consume_from_where = ConsumeFromWhere::kLastOffset;
  int64_t consume_timestamp_ms = 0;  // for kTimestamp; 0 = now - 30 min
  bool orderly = false;
  int consume_threads = 20;
  // Messages and body bytes one pull asks for (RocketMQ pullBatchSize is 32; larger batches
  // cut the per-pull cost: a 1 KiB backlog drained at 95-101k msg/s with 32, 155-198k with 256).
  // The broker answers at most 1,024 messages and 4 MiB; a first message larger than the
  // byte limit still comes alone. Defaults 256 messages, 1 MiB.
  int pull_batch_size = 256;
  int64_t pull_batch_max_bytes = 1024 * 1024;
  // Flow control (RocketMQ pullThresholdForQueue / pullThresholdSizeForQueue): a queue is not
  // pulled while this many messages, or this many MiB of message bodies, wait for consumption
  // in its local cache; a pull never asks for more than what is left below either limit, so a
  // queue caches at most max(limit, one message). Defaults 1000 messages and 100 MiB.
  int pull_threshold_for_queue = 1000;
  int pull_threshold_size_for_queue = 100;
  // Per-topic flow control (RocketMQ pullThresholdForTopic / pullThresholdSizeForTopic, in
  // messages and MiB): -1 = off. When set, it overrides the per-queue limit above for that
  // topic's queues: each gets max(1, limit / the queues of the topic this consumer holds),
  // recomputed at every rebalance, so the consumer caches about `limit` of the topic however
  // many queues it is assigned. Ranges [1, 6553500] messages and [1, 102400] MiB.
  int pull_threshold_for_topic = -1;
  int pull_threshold_size_for_topic = -1;
  int consume_batch_max = 1;  // messages per listener call (concurrent mode)
  // Concurrent mode: a pull's listener calls run on the thread that received the pull reply,
  // instead of waking a consume thread, while the listener is proven fast: measured over 16
  // calls or more, at most this many µs per call on average, and the pull's calls together
  // within 200 µs. The wake-up, and reading the messages again on another CPU, cost more than
  // such a run (a 1 KiB backlog on 2 cores: about 1.7 times the msg/s at half the client CPU).
  // The rest of a run moves to the consume threads as soon as the listener slows down, but the
  // call that slows first holds this consumer's other pull replies while it runs: set 0 (always
  // the consume threads) for a listener that can block without warning (a lock, a remote
  // call). Orderly listeners always run on consume threads. Range [0, 200]; default 20.
  int listener_on_reply_thread_max_us = 20;
  // Standing pulls over a broker's fast port: one pull request is answered up to this many
  // more times (each time new messages arrive), so a consumer that keeps up asks once per
  // several replies instead of once per reply (at 10,000 msg/s end to end, about a tenth less
  // CPU in each process). Flow control holds: all of a pull's replies together stay within
  // what the thresholds above leave room for when it is sent. A broker without standing pulls
  // answers once. Range [0, 64]; 0 = off; default 8.
  int pull_standing_replies = 8;
  // Broker long-poll hold of one pull. Default 15 s.
  int64_t pull_suspend_ms = 15'000;
  int64_t rebalance_interval_ms = 20'000;
  int64_t commit_interval_ms = 5'000;
  // Delay before a message whose send-back failed is handed to the listener again (local
  // fallback). Default 1 s.
  int64_t retry_delay_ms = 1'000;
  // RocketMQ maxReconsumeTimes. Concurrent: -1 = the group's retryMaxTimes on the broker
  // (default 16; mqadmin updateSubGroup --retryMaxTimes), >= 0 overrides it. Orderly: -1 =
  // unlimited local retries, else the DLQ after that many.
  int max_reconsume_times = -1;
  // Orderly clustering: how long a queue is consumed after the last renewal of its lock that
  // the master granted (RocketMQ rocketmq.client.rebalance.lockMaxLiveTime, 30 s). The master
  // keeps a lock 60 s, so a consumer that cannot renew (the master unreachable from it, its
  // rebalance thread stuck) stops before another member may take the queue, and goes on where
  // it stopped, without redelivery, once a renewal succeeds. The locks are renewed at every
  // rebalance, and within a second after a renewal failed. Range (rebalance_interval_ms, 59999].
  int64_t orderly_lock_ttl_ms = 30'000;
  // Orderly: how long a queue pauses after a failed batch (suspendCurrentQueueTimeMillis).
  int64_t suspend_current_queue_time_ms = 1'000;
  // A listener call that takes longer counts as failed (sent back) even if it returned
  // kSuccess (RocketMQ consumeTimeout, 15 min).
  int64_t consume_timeout_ms = 15 * 60 * 1000;
  // Broadcasting offsets go to <offset_dir>/<instance_name>/<group>/offsets.json.
  // Empty = $HOME/.mq_offsets.
  std::string offset_dir;
};

using MessageListener = std::function<ConsumeResult(const std::vector<ReceivedMessage>& msgs)>;

// A snapshot of one assigned queue's local state (RocketMQ ProcessQueueInfo).
struct ProcessQueueInfo {
  MessageQueue queue;
  int64_t cached_msg_count = 0;  // pulled, not yet consumed
  int64_t cached_msg_bytes = 0;  // sum of their body sizes
  int64_t next_pull_offset = 0;
};

class PushConsumerImpl;

class PushConsumer {
 public:
  explicit PushConsumer(PushConsumerOptions options);
  ~PushConsumer();
  PushConsumer(const PushConsumer&) = delete;
  PushConsumer& operator=(const PushConsumer&) = delete;

  // expression: "*" or "TagA || TagB".
  Status Subscribe(const std::string& topic, const std::string& expression = "*");
  // A tag or SQL92 selector; a malformed SQL92 expression is refused here (InvalidArgument
  // naming the position), and Start() fails when a broker refuses SQL92 (enablePropertyFilter).
  Status Subscribe(const std::string& topic, const MessageSelector& selector);
  void RegisterListener(MessageListener listener);
  // Needs at least one subscription and a listener. Fetches routes lazily (no NameServer needed).
  Status Start();
  // Stops pulling, lets running listener calls finish, commits offsets, unregisters, and
  // unlocks orderly queues. Messages pulled but not yet consumed are not committed. Idempotent.
  void Shutdown();

  // Queues currently assigned to this consumer (sorted).
  std::vector<MessageQueue> AssignedQueues() const;
  // The local cache of every assigned queue (sorted by queue), e.g. to watch flow control.
  std::vector<ProcessQueueInfo> ProcessQueueInfos() const;
  const std::string& client_id() const;

 private:
  std::shared_ptr<PushConsumerImpl> impl_;
};

}  // namespace mq::client
