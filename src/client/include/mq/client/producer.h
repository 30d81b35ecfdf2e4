// Producer: sends messages to the brokers that serve a topic, with routes from the NameServer.
//
// Thread-safety: all methods may be called concurrently from any thread after Start().
// Callbacks (SendAsync) run on the library's callback threads, never on gRPC threads and never
// inline in SendAsync(); they must not block for long. Once measured fast
// (ClientOptions::callback_on_reply_thread_max_us) they run on the thread that read the
// broker's reply from its fast port, and go back to the callback threads when they slow down;
// with ClientOptions::callback_threads = 0 they always run on the thread that read the reply,
// and must return at once. The handle owns its implementation; Shutdown() (also run by the
// destructor) waits for in-flight async sends to finish or fail, and returns once every
// callback handed to the callback threads has run, however long they take. Called from a send
// callback, Shutdown() returns at once and the shutdown goes on beside it (the destructor waits
// for it).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "mq/client/client_options.h"
#include "mq/client/message.h"
#include "mq/client/send_result.h"

namespace mq::client {

struct ProducerOptions {
  ClientOptions client;
  std::string group = "DEFAULT_PRODUCER";
  // Overall budget of one send including retries (sendMsgTimeout). Default 3 s.
  int64_t send_timeout_ms = 3'000;
  // Extra attempts on another broker after a retryable failure (retryTimesWhenSendFailed). Default 2.
  int retry_times = 2;
  // Budget of one attempt; 0 = send_timeout_ms / (retry_times + 1), so one hung broker cannot
  // use up the whole send timeout. Never more than what is left of send_timeout_ms.
  int64_t attempt_timeout_ms = 0;
  // Largest body (sum of bodies for a batch). Default 4 MiB, the broker default.
  int64_t max_body_bytes = 4 * 1024 * 1024;
  // Queues per broker for topics the broker auto-creates on first send. Default 4.
  int32_t default_topic_queue_nums = 4;
  // Skip brokers that failed recently or answered slowly (sendLatencyFaultEnable). Default on.
  bool latency_fault_tolerance = true;
  // Back pressure (RocketMQ backPressureForAsyncSendNum / backPressureForAsyncSendSize; always
  // on here): at most this many SendAsync/SendOneway requests, and this many body bytes, in
  // flight per producer. A request counts until its callback has returned. SendAsync and
  // SendOneway wait up to send_timeout_ms for room, then fail with kResourceExhausted; called
  // from a send callback they do not wait (that could deadlock the callback threads).
  // Defaults 10000 requests and 100 MiB.
  int back_pressure_for_async_send_num = 10'000;
  int64_t back_pressure_for_async_send_size = 100 * 1024 * 1024;
  // Auto-batching (RocketMQ 5 autoBatch, Kafka's batching): Send and SendAsync of one message
  // without a selector gather per topic and leave together, one request per batch. A batch
  // that is not full leaves while the topic has fewer requests outstanding than brokers serving
  // it: an idle producer sends each message at once (unless auto_batch_linger_us), a busy one
  // sends what gathered during a round trip in the next request. A full batch
  // (auto_batch_max_messages or auto_batch_max_bytes) leaves while fewer than
  // auto_batch_max_in_flight requests per broker are outstanding. Every message keeps its own
  // SendResult, msg_id, offset, callback and error; a batch is retried as a whole (on another
  // broker, within the oldest message's send_timeout_ms). Delayed messages, selector sends,
  // SendOneway and SendBatch are never combined. Defaults: on, 4 requests in flight per broker,
  // batches of at most 256 messages (1..1024) and 256 KiB of bodies.
  bool auto_batch = true;
  int auto_batch_max_in_flight = 4;
  int auto_batch_max_messages = 256;
  int64_t auto_batch_max_bytes = 256 * 1024;
  // Linger (Kafka's linger.ms, RocketMQ 5's batchMaxDelayMs), µs: a batch that is not full also
  // waits until its first message has waited this long, so a moderate rate leaves in fewer,
  // fuller requests, for up to this much more latency per message. 0 (the default): no wait,
  // as described above. Range [0, 1,000,000].
  int64_t auto_batch_linger_us = 0;
};

// Counters of one producer, for monitoring (and to see batching at work).
struct ProducerStats {
  int64_t send_requests = 0;           // requests sent to brokers (each attempt, each batch once)
  int64_t batched_messages_acked = 0;  // auto-batched messages a broker acknowledged
};

// Picks a queue for an ordered send: same arg -> same queue while the route is unchanged.
// Called with the topic's writable queues (sorted by broker name, then queue id), never empty.
using MessageQueueSelector = std::function<MessageQueue(const std::vector<MessageQueue>& queues,
                                                        const Message& msg, const std::string& arg)>;

// A selector that hashes arg (e.g. an order id) onto the queue list.
MessageQueueSelector HashSelector();

using SendCallback = std::function<void(const Result<SendResult>& result)>;

class ProducerImpl;

class Producer {
 public:
  explicit Producer(ProducerOptions options);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Validates options, starts timers (route refresh, heartbeat). Does not need a NameServer.
  Status Start();
  // Stops timers, waits for in-flight async sends, unregisters from brokers. Idempotent.
  void Shutdown();

  // Synchronous send: round robin over writable queues of master brokers, retrying on another
  // broker within send_timeout_ms. Errors: kInvalidArgument (bad topic/body/delay level),
  // kNotFound (no route), kUnavailable/kTimeout (brokers unreachable).
  Result<SendResult> Send(const Message& msg);
  // Ordered send: the selector picks the queue; retried on the same queue only (no failover,
  // which would break ordering).
  Result<SendResult> Send(const Message& msg, const MessageQueueSelector& selector, const std::string& arg);
  // Asynchronous send with the same retry policy; callback runs exactly once (inline only when
  // the producer is not started). Blocks while the back pressure limits are reached (see
  // ProducerOptions), at most send_timeout_ms; the callback then gets kResourceExhausted.
  void SendAsync(const Message& msg, SendCallback callback);
  // The same, taking the message's body and strings instead of copying them.
  void SendAsync(Message&& msg, SendCallback callback);
  // Fire and forget: one attempt, no result. Returns only validation, route and back pressure
  // (kResourceExhausted) errors.
  Status SendOneway(const Message& msg);
  // One request carrying several messages of one topic to one queue (all or nothing).
  Result<SendResult> SendBatch(const std::vector<Message>& msgs);

  // Cancels a scheduled message before its delivery time (RocketMQ 5.3 recall; the broker
  // needs recallMessageEnable=true). `handle` is SendResult::recall_handle. Returns the
  // message's msg_id; kNotFound for an unknown handle, kFailedPrecondition once the delivery
  // time has passed (delivered already) or when the broker has recall disabled.
  Result<std::string> RecallMessage(const std::string& topic, const std::string& handle);

  ProducerStats stats() const;

  // The writable queues currently known for topic (fetches the route if needed).
  Result<std::vector<MessageQueue>> FetchPublishQueues(const std::string& topic);

 private:
  friend struct ProducerAccess;  // TransactionProducer's half-message sends
  std::shared_ptr<ProducerImpl> impl_;
};

}  // namespace mq::client
