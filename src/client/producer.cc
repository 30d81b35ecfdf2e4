// Producer implementation: SendContext drives attempts (queue choice, per-attempt deadline,
// retry on another broker, fault bookkeeping); sync send waits on an async send with a deadline.
// Single-message sends without a selector go through the SendAccumulator, which batches them
// per topic while earlier requests are in flight; each message still gets its own result.
#include "mq/client/producer.h"

#include <grpcpp/support/byte_buffer.h>

#include <chrono>
#include <thread>

#include "backpressure.h"
#include "broker_ops.h"
#include "client_instance.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/message_id.h"
#include "common/naming.h"
#include "convert.h"
#include "deferred_shutdown.h"
#include "producer_options_check.h"
#include "result_slot.h"
#include "route_info.h"
#include "send_accumulator.h"
#include "send_callbacks.h"
#include "send_context.h"
#include "send_reply.h"
#include "send_transport.h"
#include "send_wire.h"
#include "transaction_producer_access.h"
#include "user_callback_mark.h"

namespace mq::client {

class ProducerImpl {
 public:
  explicit ProducerImpl(ProducerOptions options)
      : options_(std::move(options)),
        client_(std::make_unique<ClientInstance>(options_.client, options_.client.callback_threads)),
        accumulator_(
            SendAccumulator::Limits{options_.auto_batch_max_in_flight, options_.auto_batch_max_messages,
                                    options_.auto_batch_max_bytes,
                                    std::chrono::microseconds(options_.auto_batch_linger_us)},
            [this](const std::string& topic, SendBatch batch) {
              DispatchBatch(topic, std::move(batch), /*holds_slot=*/true);
            },
            // Shutdown() waits for every send, so a lingering batch's timer runs before the
            // executor stops, and the executor stops before the accumulator goes.
            [this](std::chrono::microseconds delay, std::function<void()> task) {
              client_->internal().ScheduleAfter(delay, std::move(task));
            }) {}

  Status Start() {
    MQ_RETURN_IF_ERROR(ValidateProducerOptions(options_));
    // The heartbeat filler below is read by the running client's thread: set it once only.
    if (started_once_.exchange(true)) {
      return Status::FailedPrecondition("producer: already started (a producer starts once)");
    }
    std::string group = options_.group;
    client_->SetHeartbeatFiller(
        [group](mq::v1::HeartbeatRequest* req) { req->add_producers()->set_group(group); });
    MQ_RETURN_IF_ERROR(client_->Start());
    running_ = true;
    return Status::OK();
  }

  // From a send callback or a transaction check (our callback threads, which the shutdown
  // joins) it runs beside it.
  void Shutdown() { shutdown_.Run(/*on_own_thread=*/tls_in_user_callback); }

  void ShutdownNow() {
    if (!running_.exchange(false)) return;
    auto deadline = MonotonicMillis() + options_.send_timeout_ms + options_.client.rpc_timeout_ms + 2000;
    while (pending_.load() > 0 && MonotonicMillis() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    client_->Shutdown({options_.group}, {});
  }

  using RouteAndQueues = std::shared_ptr<const PublishRoute>;
  using QueuesCallback = std::function<void(Result<RouteAndQueues>)>;

  // Writable queues of topic plus its route; falls back to the auto-create template TBW102.
  // Never blocks: `done` runs inline (cached routes) or on the internal executor.
  void QueuesAsync(const std::string& topic, bool force, QueuesCallback done) {
    auto* self = this;
    client_->GetRouteSnapshotAsync(topic, force, [self, topic, force, done](auto route) {
      if (!route.ok() && route.status().IsNotFound()) {
        Status not_found = route.status();
        self->client_->GetRouteAsync(
            "TBW102", force, [self, topic, not_found, done](Result<mq::v1::TopicRouteData> tmpl) {
              if (!tmpl.ok()) return done(not_found);
              mq::v1::TopicRouteData r = std::move(*tmpl);
              for (auto& qd : *r.mutable_queue_datas()) {
                qd.set_write_queue_nums(
                    std::min(qd.write_queue_nums(), self->options_.default_topic_queue_nums));
              }
              done(self->WithQueues(topic, std::make_shared<const mq::v1::TopicRouteData>(std::move(r))));
            });
        return;
      }
      if (!route.ok()) return done(route.status());
      done(self->WithQueues(topic, std::move(*route)));
    });
  }

  Result<RouteAndQueues> WithQueues(const std::string& topic,
                                    std::shared_ptr<const mq::v1::TopicRouteData> route) {
    auto published = publish_routes_.Get(topic, std::move(route));
    if (published->queues.empty())
      return Status::NotFound("topic: '" + topic + "' has no writable queue on a master broker");
    return published;
  }

  // Blocking form for user threads (FetchPublishQueues, SendOneway's route check).
  Result<RouteAndQueues> Queues(const std::string& topic) {
    auto slot = std::make_shared<ResultSlot<Result<RouteAndQueues>>>();
    QueuesAsync(topic, false, [slot](Result<RouteAndQueues> r) { slot->Set(std::move(r)); });
    auto wait = std::chrono::milliseconds(2 * options_.client.rpc_timeout_ms *
                                              static_cast<int64_t>(options_.client.namesrv_addrs.size() + 1) +
                                          1000);
    auto result = slot->WaitFor(wait);
    if (!result) return Status::Unavailable("route of '" + topic + "': no answer in time");
    return std::move(*result);
  }

  std::shared_ptr<SendContext> NewContext(const std::vector<Message>& msgs, Status* error) {
    auto wire = EncodeRequestMessages(msgs, options_.max_body_bytes, WallMillis());
    if (!wire.ok()) {
      *error = wire.status();
      return nullptr;
    }
    auto ctx = std::make_shared<SendContext>();
    SetMessages(ctx.get(), std::move(*wire), static_cast<int>(msgs.size()));
    ctx->req.set_producer_group(options_.group);
    ctx->req.set_topic(msgs[0].topic);
    ctx->req.set_default_topic_queue_nums(options_.default_topic_queue_nums);
    ctx->max_attempts = options_.retry_times + 1;
    ctx->deadline_ms = MonotonicMillis() + options_.send_timeout_ms;
    return ctx;
  }

  // The request's messages, as one reference-counted slice that every attempt shares.
  static void SetMessages(SendContext* ctx, std::string wire, int count) {
    auto* owned = new std::string(std::move(wire));
    ctx->messages = grpc::Slice(
        owned->data(), owned->size(), [](void* p) { delete static_cast<std::string*>(p); }, owned);
    ctx->message_count = count;
  }

  // Runs one attempt; on failure schedules the next on the internal executor.
  void Attempt(std::shared_ptr<SendContext> ctx) {
    int64_t remaining = ctx->deadline_ms - MonotonicMillis();
    if (ctx->attempts >= ctx->max_attempts || remaining <= 0) {
      Status s = ctx->last_error.ok() ? Status::Timeout("send: no attempt left within send_timeout_ms")
                                      : ctx->last_error;
      if (remaining <= 0 && !ctx->last_error.ok())
        s = s.WithContext("send timed out after " + std::to_string(ctx->attempts) + " attempt(s)");
      ctx->done(s);
      return;
    }
    ++ctx->attempts;
    // A retry asks for a fresh route (a broker may have moved, e.g. restarted on a new
    // address). The query is asynchronous and shared: no thread waits, and the retries of many
    // failed sends ride on the one query the first failure started.
    auto* self = this;
    QueuesAsync(ctx->req.topic(), ctx->attempts > 1,
                [self, ctx](Result<RouteAndQueues> queues) { self->AttemptOn(ctx, std::move(queues)); });
  }

  void AttemptOn(std::shared_ptr<SendContext> ctx, Result<RouteAndQueues> queues) {
    int64_t remaining = ctx->deadline_ms - MonotonicMillis();
    if (!queues.ok()) {
      ctx->last_error = queues.status();
      if (!Retryable(queues.status()) || queues.status().IsNotFound()) {
        ctx->done(queues.status());
        return;
      }
      Retry(std::move(ctx));
      return;
    }
    const mq::v1::TopicRouteData& route = *(*queues)->route;
    const std::vector<MessageQueue>& list = (*queues)->queues;
    if (options_.auto_batch) accumulator_.SetBrokers(ctx->req.topic(), CountBrokers(list));
    MessageQueue mq;
    if (ctx->selector != nullptr) {
      mq = (*ctx->selector)(list, ctx->first, ctx->arg);
      if (std::find(list.begin(), list.end(), mq) == list.end()) {
        ctx->done(Status::InvalidArgument("selector: returned " + mq.ToString() + ", not a writable queue"));
        return;
      }
    } else if (ctx->on_response) {
      mq = selector_.SelectBalanced(
          list, ctx->last_broker, options_.latency_fault_tolerance ? &faults_ : nullptr, ctx->message_count);
    } else {
      mq = selector_.Select(list, ctx->last_broker, options_.latency_fault_tolerance ? &faults_ : nullptr);
    }
    std::string addr = MasterAddress(route, mq.broker_name);
    int64_t per_attempt = options_.attempt_timeout_ms > 0
                              ? options_.attempt_timeout_ms
                              : options_.send_timeout_ms / (options_.retry_times + 1);
    int64_t timeout = std::max<int64_t>(1, std::min(remaining, std::max<int64_t>(per_attempt, 1)));
    ctx->last_broker = mq.broker_name;
    int64_t start = MonotonicMillis();
    auto* self = this;
    requests_.fetch_add(1, std::memory_order_relaxed);
    // Runs on the thread the reply came on (send_transport.h): it wakes sync senders, hands
    // callbacks to the callback threads, and starts the next batch or a retry, none of which
    // blocks. `reply` points into bytes that live only during the call.
    auto finish = [self, ctx, mq, start, addr](const Status& failed, const SendReply& reply) {
      int64_t latency = MonotonicMillis() - start;
      if (failed.ok()) {
        self->faults_.Update(mq.broker_name, latency, false);
        if (ctx->on_response) return ctx->on_response(reply, mq, ctx->attempts);
        SendResult result = SendResultOf(reply, mq);
        result.attempts = ctx->attempts;
        ctx->done(std::move(result));
        return;
      }
      self->faults_.Update(mq.broker_name, latency, Retryable(failed));
      self->client_->RefreshRoute(ctx->req.topic());
      ctx->last_error = failed.WithContext("send to " + mq.broker_name + " (" + addr + ")");
      MQ_LOG_WARN(Logger("client"), "attempt {}: {}", ctx->attempts, ctx->last_error.ToString());
      if (!Retryable(failed)) {
        ctx->done(ctx->last_error);
        return;
      }
      self->Retry(ctx);
    };
    const std::string header =
        EncodeSendRequestHeader(ctx->req.producer_group(), ctx->req.topic(), mq.queue_id,
                                ctx->req.default_topic_queue_nums(), ctx->req.transaction_prepared());
    const std::string fast_addr =
        options_.client.fast_send && !ctx->over_grpc ? MasterFastSendAddress(route, mq.broker_name) : "";
    StartSendRequest(*client_, addr, fast_addr, header, ctx, timeout, std::move(finish));
  }

  void Retry(std::shared_ptr<SendContext> ctx) {
    auto* self = this;
    client_->internal().Post([self, ctx] { self->Attempt(ctx); });
  }

  // Starts a send with `start(slot)` and waits for the slot's result; an error from `start`
  // itself (the send never began) is returned as is.
  // A callback on a fast port's reply reader sends over gRPC instead (BlockingSendOverGrpc).
  Result<SendResult> SendAndWait(const std::function<Status(const std::shared_ptr<SendSlot>&)>& start) {
    if (SendCallbacks::OnReplyThreadCallback() && !SendCallbacks::OnFastReplyThreadCallback()) {
      return Status::FailedPrecondition(
          "send: a blocking send from a callback on a gRPC or internal thread (callback_threads = 0) "
          "would wait for work only that thread may do; use SendAsync there");
    }
    auto slot = std::make_shared<SendSlot>();
    {
      SendCallbacks::ProducerCallScope in_call;  // a send failing here still posts its callback
      MQ_RETURN_IF_ERROR(start(slot));
    }
    // Every attempt has a gRPC deadline inside send_timeout_ms; route queries add at most
    // rpc_timeout_ms each. The extra wait only guards against a stuck executor.
    auto wait =
        std::chrono::milliseconds(options_.send_timeout_ms + 2 * options_.client.rpc_timeout_ms + 1000);
    auto result = slot->WaitFor(wait);
    if (!result) return Status::Timeout("send: no result in time");
    return std::move(*result);
  }

  // Delayed messages travel alone: the broker refuses a batch that holds one.
  bool Batchable(const Message& msg, const MessageQueueSelector* selector) const {
    return options_.auto_batch && selector == nullptr && msg.delay_level == 0 && !IsScheduled(msg);
  }

  // Hands a validated message (ValidateMessage) to the accumulator; its result goes to `done`
  // (PendingSend) or, for a blocked Send(), to `waiter`.
  void Enqueue(const Message& msg, SendCallback done, int64_t held_bytes,
               std::shared_ptr<SendSlot> waiter = nullptr) {
    PendingSend send;
    send.body_bytes = static_cast<int64_t>(msg.body.size());
    send.deadline_ms = MonotonicMillis() + options_.send_timeout_ms;
    send.done = std::move(done);
    send.held_bytes = held_bytes;
    send.waiter = std::move(waiter);
    char unique_key[kUniqueMessageIdLength];
    WriteUniqueMessageId(unique_key);
    const int64_t born_ms = WallMillis();
    accumulator_.Add(msg.topic, std::move(send), [&](std::string* wire) {
      AppendMessageField(msg, std::string_view(unique_key, sizeof unique_key), born_ms, wire);
    });
  }

  // Sends `batch` (one topic) as one request with the usual retries. The callbacks of a batch
  // run in order in one task (SendCallbacks: on a callback thread or the reply's).
  // `holds_slot`: the batch came from the accumulator, which hears when it is done.
  void DispatchBatch(const std::string& topic, SendBatch batch, bool holds_slot) {
    // Who hears of each message (PendingSend::done or ::waiter).
    struct Completion {
      SendCallback done;
      int64_t held_bytes;
      std::shared_ptr<SendSlot> waiter;
      size_t wire_bytes;  // its message's bytes in the request, to resend it alone if refused
    };
    auto ctx = std::make_shared<SendContext>();
    ctx->req.set_producer_group(options_.group);
    ctx->req.set_topic(topic);
    ctx->req.set_default_topic_queue_nums(options_.default_topic_queue_nums);
    ctx->max_attempts = options_.retry_times + 1;
    ctx->deadline_ms = batch.sends.front().deadline_ms;
    auto completions = std::make_shared<std::vector<Completion>>();
    completions->reserve(batch.sends.size());
    int sync_senders = 0;  // sends blocked in Send() on their result
    for (auto& send : batch.sends) {
      ctx->deadline_ms = std::min(ctx->deadline_ms, send.deadline_ms);
      sync_senders += send.waiter ? 1 : 0;
      completions->push_back(
          {std::move(send.done), send.held_bytes, std::move(send.waiter), send.wire_bytes});
    }
    SetMessages(ctx.get(), std::move(batch.wire), static_cast<int>(batch.sends.size()));
    auto* self = this;
    // The next batch leaves from the thread that freed the slot (no lock is held here), unless
    // this batch of several woke sync senders: they get time to queue their next messages, so the
    // next request carries them (leaving at once took 10-14 % more requests for the same sync
    // sends): the slot waits for them to send again (the last one's Add sends the request,
    // saving a hop to another thread on the way of every durable round trip), or for a post to
    // the internal threads, whichever comes first. Async sends wake nobody here (their
    // callbacks run on the callback threads), so waiting would only add a hop.
    const bool let_senders_requeue = holds_slot && completions->size() > 1 && sync_senders > 0;
    auto release_slot = [self, topic, holds_slot, let_senders_requeue] {
      if (let_senders_requeue) {
        self->client_->internal().Post([self, topic] { self->accumulator_.Completed(topic); });
      } else if (holds_slot) {
        self->accumulator_.Completed(topic);
      }
    };
    auto finish = [self, topic, let_senders_requeue, sync_senders, completions,
                   release_slot](BatchOutcome outcome) {
      // Before they are woken, or one may be missed.
      if (let_senders_requeue) self->accumulator_.AwaitRequeues(topic, sync_senders);
      size_t callbacks = 0;
      uint32_t waiters_to_wake = 0;
      for (size_t i = 0; i < completions->size(); ++i) {
        if (const auto& waiter = (*completions)[i].waiter) {
          waiters_to_wake |= waiter->SetQuietly(outcome.At(i));
        } else {
          ++callbacks;
        }
      }
      SlotWaiters::Wake(waiters_to_wake);
      if (callbacks > 0) {
        // Each result is made on the callback thread that frees it (BatchOutcome).
        self->callbacks_.Run(
            [self, completions, outcome = std::move(outcome)] {
              for (size_t i = 0; i < completions->size(); ++i) {
                const Completion& c = (*completions)[i];
                if (!c.waiter) self->FinishAsync(c.done, c.held_bytes, outcome.At(i));
              }
            },
            callbacks);
      }
      release_slot();
    };
    ctx->on_response = [self, completions, finish](const SendReply& reply, const MessageQueue& queue,
                                                   int attempts) {
      self->messages_sent_.fetch_add(static_cast<int64_t>(completions->size()), std::memory_order_relaxed);
      finish(BatchOutcome(reply, queue, completions->size(), attempts));
    };
    SendContext* raw = ctx.get();  // ctx outlives its own done; capturing it would leak it
    ctx->done = [self, topic, completions, finish, release_slot, raw](Result<SendResult> failed) {
      if (failed.status().IsInvalidArgument() && completions->size() > 1) {
        // The broker refused the batch as a whole (e.g. above its maxMessageSize): send each
        // message alone so one message's error is not everybody's.
        const int64_t deadline = raw->deadline_ms;
        const auto* bytes = reinterpret_cast<const char*>(raw->messages.begin());
        for (const Completion& c : *completions) {
          SendBatch one;
          one.wire.assign(bytes, c.wire_bytes);
          bytes += c.wire_bytes;
          PendingSend& alone = one.sends.emplace_back();
          alone.wire_bytes = c.wire_bytes;
          alone.deadline_ms = deadline;
          alone.done = c.done;
          alone.held_bytes = c.held_bytes;
          alone.waiter = c.waiter;
          self->DispatchBatch(topic, std::move(one), /*holds_slot=*/false);
        }
        release_slot();
        return;
      }
      finish(BatchOutcome(failed.status(), completions->size()));
    };
    Attempt(std::move(ctx));
  }

  // A blocking send from a callback on a fast port's reply reader: it waits for its reply on
  // that thread, so the reply must come over gRPC, and not with an auto-batch (whose request
  // may wait behind one in flight on the fast port).
  static bool BlockingSendOverGrpc() { return SendCallbacks::OnFastReplyThreadCallback(); }

  // Runs a send's attempts and waits for its result.
  Result<SendResult> AttemptAndWait(std::shared_ptr<SendContext> ctx) {
    ctx->over_grpc = BlockingSendOverGrpc();
    return SendAndWait([&](const auto& slot) {
      ctx->done = [slot](Result<SendResult> r) { slot->Set(std::move(r)); };
      Attempt(std::move(ctx));
      return Status::OK();
    });
  }

  // One message: an auto-batched one goes to the accumulator without being copied first.
  Result<SendResult> SendOne(const Message& msg, const MessageQueueSelector* selector,
                             const std::string& arg) {
    if (running_ && Batchable(msg, selector) && !BlockingSendOverGrpc()) {
      return SendAndWait([&](const auto& slot) {
        MQ_RETURN_IF_ERROR(ValidateMessage(msg, options_.max_body_bytes));
        Enqueue(msg, nullptr, -1, slot);
        return Status::OK();
      });
    }
    return SendAsOneRequest(std::vector<Message>{msg}, selector, arg);
  }
  Result<SendResult> Send(const std::vector<Message>& msgs, const MessageQueueSelector* selector,
                          const std::string& arg) {
    if (msgs.size() == 1) return SendOne(msgs[0], selector, arg);
    return SendAsOneRequest(msgs, selector, arg);
  }
  // `msgs` as one request of their own, never auto-batched.
  Result<SendResult> SendAsOneRequest(const std::vector<Message>& msgs, const MessageQueueSelector* selector,
                                      const std::string& arg) {
    if (!running_) return Status::FailedPrecondition("producer: not started");
    Status error;
    auto ctx = NewContext(msgs, &error);
    if (!ctx) return error;
    if (selector != nullptr) {
      ctx->first = msgs[0];  // what the selector is shown; a copy only sends with one need
      ctx->selector_copy = *selector;
      ctx->selector = &ctx->selector_copy;
      ctx->arg = arg;
    }
    return AttemptAndWait(std::move(ctx));
  }

  // A transactional half message: one message, never auto-batched (the broker refuses a
  // prepared batch), with the usual retries.
  Result<SendResult> SendHalf(const Message& msg) {
    if (!running_) return Status::FailedPrecondition("producer: not started");
    Status error;
    auto ctx = NewContext({msg}, &error);
    if (!ctx) return error;
    ctx->req.set_transaction_prepared(true);
    return AttemptAndWait(std::move(ctx));
  }

  ClientInstance& client() { return *client_; }

  void SendAsync(Message msg, SendCallback callback) {
    // Counted before running_ is read: a Shutdown() racing this call either sees the send
    // pending and waits for its callback, or this call sees the producer stopped.
    pending_.fetch_add(1);
    if (!running_) {
      pending_.fetch_sub(1);
      // No executor to hand the callback to: the only case where it runs inline.
      callback(Status::FailedPrecondition("producer: not started"));
      return;
    }
    SendCallbacks::ProducerCallScope in_call;  // a send failing here still posts its callback
    const int64_t bytes = static_cast<int64_t>(msg.body.size());
    Status room = AcquireRoom(bytes);
    const int64_t held = room.ok() ? bytes : -1;
    if (room.ok() && Batchable(msg, nullptr)) {
      room = ValidateMessage(msg, options_.max_body_bytes);
      // The callback as given, not wrapped: a wrapper would be allocated here and freed on a
      // callback thread, another arena's lock per message (BatchOutcome).
      if (room.ok()) return Enqueue(msg, std::move(callback), held);
    }
    auto finish = [this, callback = std::move(callback), held](const Result<SendResult>& r) {
      FinishAsync(callback, held, r);
    };
    auto post = [this](auto to, Result<SendResult> r) {
      callbacks_.Run([to = std::move(to), r = std::move(r)] { to(r); });
    };
    if (!room.ok()) return post(std::move(finish), std::move(room));
    Status error;  // NewContext validates the others
    auto ctx = NewContext({msg}, &error);
    if (!ctx) return post(std::move(finish), error);
    ctx->done = [post, finish = std::move(finish)](Result<SendResult> r) { post(finish, std::move(r)); };
    auto* self = this;
    client_->internal().Post([self, ctx] { self->Attempt(ctx); });
  }

  // An async send's end, where SendCallbacks runs it. The room is returned after the callback, so
  // queued callbacks count against the limit.
  void FinishAsync(const SendCallback& callback, int64_t held, const Result<SendResult>& r) {
    {
      UserCallbackScope in_callback;
      callback(r);
    }
    if (held >= 0) backpressure_->Release(held);
    pending_.fetch_sub(1);
  }

  Status SendOneway(const Message& msg) {
    if (!running_) return Status::FailedPrecondition("producer: not started");
    Status error;
    auto ctx = NewContext({msg}, &error);
    if (!ctx) return error;
    auto queues = Queues(msg.topic);
    if (!queues.ok()) return queues.status();
    const int64_t bytes = static_cast<int64_t>(msg.body.size());
    MQ_RETURN_IF_ERROR(AcquireRoom(bytes));
    pending_.fetch_add(1);
    ctx->max_attempts = 1;
    ctx->done = [this, bytes](const Result<SendResult>&) {
      backpressure_->Release(bytes);
      pending_.fetch_sub(1);
    };
    Attempt(ctx);
    return Status::OK();
  }

  // Waits (up to send_timeout_ms) for room under the back pressure limits; a send callback
  // never waits: the room it would wait for may be held by callbacks queued behind it.
  Status AcquireRoom(int64_t bytes) {
    auto wait = tls_in_user_callback ? std::chrono::milliseconds(0)
                                     : std::chrono::milliseconds(options_.send_timeout_ms);
    return backpressure_->Acquire(bytes, wait);
  }

  ProducerStats Stats() const {
    return ProducerStats{requests_.load(std::memory_order_relaxed),
                         messages_sent_.load(std::memory_order_relaxed)};
  }

  Result<std::vector<MessageQueue>> FetchPublishQueues(const std::string& topic) {
    MQ_RETURN_IF_ERROR(ValidateName("topic", topic));
    MQ_ASSIGN_OR_RETURN(auto q, Queues(topic));
    return q->queues;
  }

  Result<std::string> Recall(const std::string& topic, const std::string& handle) {
    if (!running_) return Status::FailedPrecondition("producer: not started");
    MQ_RETURN_IF_ERROR(ValidateName("topic", topic));
    MQ_ASSIGN_OR_RETURN(std::string broker, RecallHandleBroker(handle));
    MQ_ASSIGN_OR_RETURN(auto q, Queues(topic));
    return RecallMessage(*client_, MasterAddress(*q->route, broker), broker, topic, handle,
                         options_.send_timeout_ms);
  }

 private:
  const ProducerOptions options_;
  std::unique_ptr<ClientInstance> client_;
  SendCallbacks callbacks_{&client_->callbacks(), &client_->fast_io(), options_.client.callback_threads,
                           options_.client.callback_on_reply_thread_max_us};
  LatencyFaultTolerance faults_;
  QueueSelector selector_;
  PublishRouteCache publish_routes_;
  std::atomic<bool> running_{false};
  std::atomic<bool> started_once_{false};
  std::atomic<int64_t> pending_{0};        // async/oneway sends whose callback has not run yet
  std::atomic<int64_t> requests_{0};       // send requests started (attempts, batches count once)
  std::atomic<int64_t> messages_sent_{0};  // auto-batched messages a broker acknowledged
  SendAccumulator accumulator_;
  std::unique_ptr<Backpressure> backpressure_ =
      std::make_unique<Backpressure>(std::max(1, options_.back_pressure_for_async_send_num),
                                     std::max<int64_t>(1, options_.back_pressure_for_async_send_size));
  DeferredShutdown shutdown_{[this] { ShutdownNow(); }};  // last: waited for before the rest goes
};

MessageQueueSelector HashSelector() {
  return [](const std::vector<MessageQueue>& queues, const Message&, const std::string& arg) {
    return queues[std::hash<std::string>{}(arg) % queues.size()];
  };
}

Producer::Producer(ProducerOptions options) : impl_(std::make_shared<ProducerImpl>(std::move(options))) {}
Producer::~Producer() { Shutdown(); }
Status Producer::Start() { return impl_->Start(); }
void Producer::Shutdown() { impl_->Shutdown(); }
Result<SendResult> Producer::Send(const Message& msg) { return impl_->SendOne(msg, nullptr, ""); }
Result<SendResult> Producer::Send(const Message& msg, const MessageQueueSelector& selector,
                                  const std::string& arg) {
  return impl_->SendOne(msg, &selector, arg);
}
void Producer::SendAsync(const Message& msg, SendCallback callback) {
  impl_->SendAsync(msg, std::move(callback));
}
void Producer::SendAsync(Message&& msg, SendCallback callback) {
  impl_->SendAsync(std::move(msg), std::move(callback));
}
Status Producer::SendOneway(const Message& msg) { return impl_->SendOneway(msg); }
Result<SendResult> Producer::SendBatch(const std::vector<Message>& msgs) {
  if (msgs.empty()) return Status::InvalidArgument("messages: at least one message is required");
  return impl_->Send(msgs, nullptr, "");
}
ProducerStats Producer::stats() const { return impl_->Stats(); }
Result<std::string> Producer::RecallMessage(const std::string& topic, const std::string& handle) {
  return impl_->Recall(topic, handle);
}
Result<std::vector<MessageQueue>> Producer::FetchPublishQueues(const std::string& topic) {
  return impl_->FetchPublishQueues(topic);
}

Result<SendResult> ProducerAccess::SendHalf(Producer& producer, const Message& msg) {
  return producer.impl_->SendHalf(msg);
}
ClientInstance& ProducerAccess::Client(Producer& producer) { return producer.impl_->client(); }

}  // namespace mq::client
