// PushConsumerImpl pulling and consumption, and the PushConsumer handle.
#include "mq/client/push_consumer.h"

#include <climits>
#include <exception>
#include <set>

#include "broker_ops.h"
#include "common/logging.h"
#include "consume_retry.h"
#include "convert.h"
#include "push_consumer_impl.h"

namespace mq::client {

void PushConsumerImpl::PullLater(std::shared_ptr<ProcessQueue> pq, int64_t delay_ms) {
  if (!running_ || pq->dropped) return;
  client_->internal().ScheduleAfter(std::chrono::milliseconds(delay_ms), [this, pq] { Pull(pq); });
}

bool PushConsumerImpl::IsMaster(const MessageQueue& q, const std::string& addr) {
  auto route = client_->CachedRoute(q.topic);  // gRPC's or an internal thread: never wait for a query
  return route && MasterAddress(*route, q.broker_name) == addr;
}

void PushConsumerImpl::Pull(std::shared_ptr<ProcessQueue> pq) {
  if (!running_ || pq->dropped) return;
  std::string addr = pq->master_addr;
  if (!options_.orderly) {
    auto addrs = CachedCandidates(pq->mq, pq->suggested_broker_id.load());
    if (!addrs.ok() || addrs->empty()) {
      MQ_LOG_WARN(Logger("client"), "pull {}: no broker to read from ({})", pq->mq.ToString(),
                  addrs.ok() ? "empty broker set" : addrs.status().ToString());
      PullLater(pq, 1000);
      return;
    }
    addr = addrs->front();
  }
  mq::v1::PullMessageRequest req;
  const int64_t max_msgs = pq->max_cached_msgs.load();
  const int64_t max_bytes = pq->max_cached_bytes.load();
  uint64_t generation;
  int64_t standing = 0;  // more replies the pull may have, if it goes to a fast port
  {
    std::lock_guard lock(pq->mu);
    const int64_t count = static_cast<int64_t>(pq->msgs.size());
    if (count >= max_msgs || pq->cached_bytes >= max_bytes) {
      // Flow control: the listener is behind; look again shortly.
      client_->internal().ScheduleAfter(std::chrono::milliseconds(50), [this, pq] { Pull(pq); });
      return;
    }
    req.set_queue_offset(pq->next_offset);
    // Ask for no more than fits below both thresholds (the broker still returns one message
    // when the first alone is larger). A standing pull's replies together fit there too: in
    // messages by their total, in bytes by their count.
    const int64_t reply_bytes =
        std::min<int64_t>({max_bytes - pq->cached_bytes, options_.pull_batch_max_bytes, INT32_MAX});
    req.set_max_msg_nums(static_cast<int32_t>(std::min<int64_t>(options_.pull_batch_size, max_msgs - count)));
    req.set_max_bytes(static_cast<int32_t>(reply_bytes));
    standing = std::max<int64_t>(0, std::min<int64_t>(options_.pull_standing_replies,
                                                      (max_bytes - pq->cached_bytes) / reply_bytes - 1));
    req.set_standing_max_msgs(static_cast<int32_t>(std::min<int64_t>(max_msgs - count, INT32_MAX)));
    generation = ++pq->pull_generation;
  }
  // Commit piggy-backed on the pull: the broker stores the offset before serving it, so a
  // busy queue's progress reaches the broker without an extra RPC. Only when the pull goes to
  // the node offsets are committed to (the master while it is reachable; RocketMQ likewise
  // drops the commit flag on pulls from a slave).
  int64_t commit = -1;
  if (options_.model == MessageModel::kClustering) {
    auto target = CachedCandidates(pq->mq, 0);
    bool commit_here = target.ok() && !target->empty() && target->front() == addr;
    if (auto off = store_->ReadLocal(pq->mq); commit_here && off && *off >= 0) {
      commit = *off;
      req.set_has_commit_offset(true);
      req.set_commit_offset(commit);
    }
  }
  req.set_consumer_group(options_.group);
  req.set_topic(pq->mq.topic);
  req.set_queue_id(pq->mq.queue_id);
  req.set_subscription(subscriptions_.at(pq->mq.topic).expression());
  req.set_expression_type(subscriptions_.at(pq->mq.topic).expression_type());
  req.set_suspend_timeout_millis(options_.pull_suspend_ms);
  req.set_client_id(client_->client_id());
  req.set_accept_records(true);
  const int64_t offset = req.queue_offset();
  const int64_t timeout = options_.pull_suspend_ms + options_.client.rpc_timeout_ms + 5'000;
  std::function<void()> cancel;
  std::shared_ptr<FastSendConnection> fast;
  if (auto route = client_->CachedRoute(pq->mq.topic)) fast = client_->FastSendTo(*route, addr);
  if (fast) {
    // Over the broker's fast port: the replies are handled on the connection's reading thread.
    auto inflight = client_->inflight();
    inflight->count.fetch_add(1);
    req.set_standing_replies(static_cast<int32_t>(standing));
    if (standing == 0) req.clear_standing_max_msgs();
    const std::string bytes = req.SerializeAsString();
    const uint64_t id = fast->CallStream(
        frame::Method::kPullMessage, {bytes}, timeout,
        [this, pq, addr, offset, commit, inflight](Result<std::string_view> r, bool more) {
          // The records are read where they are, in the reply frame; only a reply this reader
          // does not take (a MessageExt list, unknown fields) is parsed by protobuf.
          std::unique_ptr<mq::v1::PullMessageResponse> parsed;
          Result<PullReplyView> read = r.ok() ? ReadPullReplyOrParse(*r, &parsed) : r.status();
          if (read.ok() && commit >= 0) pq->reported_offset = commit;
          OnPulled(pq, addr, offset, std::move(read), more);
          if (!more) inflight->count.fetch_sub(1);
        });
    // Weak: a queue must not keep the connection (and its socket) past the client's IO thread.
    cancel = [weak = std::weak_ptr<FastSendConnection>(fast), id] {
      if (auto connection = weak.lock()) connection->Cancel(id, Status::Unavailable("pull cancelled"));
    };
  } else {
    auto stub = client_->Broker(addr);
    // The reply is handled on gRPC's thread (kOnGrpcThread): OnPulled decodes, hands the
    // messages to the consume threads and starts the next pull, none of which blocks.
    auto ctx = StartArenaCall<mq::v1::PullMessageRequest, mq::v1::PullMessageResponse>(
        [stub](auto* c, auto* q, auto* r, auto cb) { stub->async()->PullMessage(c, q, r, std::move(cb)); },
        std::move(req), timeout, kOnGrpcThread, client_->inflight(),
        [this, pq, addr, offset, commit](Result<mq::v1::PullMessageResponse*> r) {
          if (r.ok() && commit >= 0) pq->reported_offset = commit;
          OnPulled(pq, addr, offset, r.ok() ? Result<PullReplyView>(PullReplyViewOf(*r)) : r.status());
        });
    cancel = [ctx] { ctx->TryCancel(); };
  }
  // Shutdown() and Drop() cancel the call they find in pq->cancel_pull, under pq->mu. The reply
  // may already have come and started the next pull, which stored its own: keep that one. A drop
  // after the check at the top missed this call, so it cancels itself. Either miss left a pull
  // parked on the broker for pull_suspend_ms with Shutdown() waiting for it.
  std::lock_guard lock(pq->mu);
  if (pq->pull_generation == generation) pq->cancel_pull = cancel;
  if (pq->dropped) cancel();
}

void PushConsumerImpl::OnPulled(const std::shared_ptr<ProcessQueue>& pq, const std::string& addr,
                                int64_t offset, Result<PullReplyView> reply, bool more) {
  if (!running_ || pq->dropped) return;
  // Reused for the reply's messages; what is left is destroyed here, where it was decoded, not
  // under the lock.
  ProcessQueue::Settled consumed;
  bool past_a_gap = false;  // a standing pull past a reply that failed to decode: none is kept
  {
    std::lock_guard lock(pq->mu);
    past_a_gap = pq->skip_standing;
    if (past_a_gap && !more) pq->skip_standing = false;
    if (!past_a_gap) consumed = pq->TakeSettledLocked();
  }
  if (past_a_gap) {
    if (!more) PullLater(pq, 1000);
    return;
  }
  if (!reply.ok()) {
    MQ_LOG_WARN(Logger("client"), "pull {} from {}: {}", pq->mq.ToString(), addr, reply.status().ToString());
    if (IsTransportFailure(reply.status()) && !options_.orderly) {
      // The node is down or hung: read from another node of the set right away.
      reach_.MarkUnreachable(addr);
      auto addrs = CachedCandidates(pq->mq, pq->suggested_broker_id.load());
      if (addrs.ok() && !addrs->empty() && addrs->front() != addr) return Pull(pq);
    }
    PullLater(pq, 1000);
    return;
  }
  const PullReplyView& r = *reply;  // views the call's bytes or arena, valid until we return
  reach_.MarkReachable(addr);
  pq->suggested_broker_id = r.suggest_which_broker_id;
  if (r.status == mq::v1::OFFSET_ILLEGAL && offset > r.max_offset && !IsMaster(pq->mq, addr)) {
    // A slave behind its master (asynchronous replication) does not have our position yet;
    // its correction would rewind us. Keep the position and wait for it or for the master
    // (RocketMQ's slaves do not correct offsets either).
    PullLater(pq, 1000);
    return;
  }
  // Decoded straight into table entries, outside the lock, and spliced in under it.
  ProcessQueue::Table arrived;
  std::vector<int64_t> fresh;
  if (r.status == mq::v1::FOUND) {
    Status decoded =
        DecodePulledMessages(r, pq->mq.broker_name, [&](int64_t queue_offset) -> ReceivedMessage* {
          ProcessQueue::Table::node_type reused = consumed.Reuse(queue_offset);
          if (reused.empty()) {
            auto [it, added] = arrived.try_emplace(queue_offset);
            return added ? &it->second.message : nullptr;
          }
          auto put = arrived.insert(std::move(reused));
          if (put.inserted) return &put.position->second.message;
          consumed.entries.push_back(std::move(put.node));
          return nullptr;
        });
    if (!decoded.ok()) {
      // Nothing of the reply is kept: the same position is asked again (after the standing
      // pull's last reply, if more are coming).
      MQ_LOG_ERROR(Logger("client"), "pull {} from {}: {}", pq->mq.ToString(), addr, decoded.ToString());
      if (more) {
        std::lock_guard lock(pq->mu);
        pq->skip_standing = true;
        return;
      }
      PullLater(pq, 1000);
      return;
    }
    const TagFilter& filter = subscriptions_.at(pq->mq.topic);
    fresh.reserve(arrived.size());
    for (auto it = arrived.begin(); it != arrived.end();) {
      if (!filter.Matches(it->second.message.message.tags)) {
        it = arrived.erase(it);
        continue;
      }
      RestoreRetryTopic(&it->second.message);
      fresh.push_back(it->first);
      ++it;
    }
  }
  {
    std::lock_guard lock(pq->mu);
    pq->PutLocked(arrived);
    if (r.next_begin_offset >= 0) pq->next_offset = r.next_begin_offset;
    // A reply without messages (an idle queue's long poll ending) frees what is left.
    if (r.status == mq::v1::FOUND) {
      pq->KeepSpareLocked(consumed, static_cast<size_t>(options_.pull_batch_size),
                          options_.pull_batch_max_bytes);
    }
  }
  if (r.status != mq::v1::FOUND) UpdateStore(pq);  // filtered or reset: progress without messages
  if (!fresh.empty()) {
    if (options_.orderly) {
      ConsumeOrderlySoon(pq);
    } else {
      auto run = std::make_shared<ConsumeRun>();
      run->pq = pq;
      run->offsets = std::move(fresh);
      const size_t batch_max = static_cast<size_t>(options_.consume_batch_max);
      if (listener_meter_.ReplyThreadMayRun((run->offsets.size() + batch_max - 1) / batch_max)) {
        if (!more) Pull(pq);  // the broker prepares the next reply while this one is consumed
        ConsumeRunTask(run, /*on_reply_thread=*/true);
        return;
      }
      consume_->Post([this, run] { ConsumeRunTask(run, false); });
    }
  }
  if (!more) Pull(pq);
}

bool PushConsumerImpl::RunListener(std::vector<ReceivedMessage>& batch) {
  struct InListener {  // Shutdown() from the listener defers itself
    explicit InListener(const PushConsumerImpl* c) : previous(std::exchange(tls_listener_of_, c)) {}
    ~InListener() { tls_listener_of_ = previous; }
    const PushConsumerImpl* previous;
  } in_listener(this);
  try {
    const auto start = std::chrono::steady_clock::now();
    bool ok = listener_(batch) == ConsumeResult::kSuccess;
    const int64_t took_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
            .count();
    listener_meter_.Record(took_ns);
    const int64_t took = took_ns / 1'000'000;
    if (ok && took > options_.consume_timeout_ms) {
      MQ_LOG_WARN(Logger("client"), "listener took {} ms > consume_timeout_ms {}: the batch counts as failed",
                  took, options_.consume_timeout_ms);
      return false;
    }
    return ok;
  } catch (const std::exception& e) {
    MQ_LOG_WARN(Logger("client"), "listener threw: {}", e.what());
  } catch (...) {
    MQ_LOG_WARN(Logger("client"), "listener threw a non-std exception");
  }
  return false;
}

void PushConsumerImpl::ConsumeRunTask(std::shared_ptr<ConsumeRun> run, bool on_reply_thread) {
  const auto batch_max = static_cast<size_t>(options_.consume_batch_max);
  const size_t total = run->offsets.size();
  // Whether the listener calls left beyond the next one would take longer than waking another
  // thread costs.
  auto worth_a_thread = [&] {
    const size_t next = run->next.load();
    if (next + batch_max >= total) return false;
    const auto calls_after_next = static_cast<int64_t>((total - next - 1) / batch_max);
    return calls_after_next * listener_meter_.mean_ns() >= kHelperWorthNs;
  };
  // On a consume thread: one more thread (a fast listener finishes a pull's messages alone, one
  // wake-up per pull). On the reply's thread: the pool takes over, and the thread goes back to
  // its replies. False when this task should stop taking calls.
  auto go_on = [&] {
    if (!worth_a_thread()) return true;
    if (on_reply_thread) {
      consume_->Post([this, run] { ConsumeRunTask(run, false); });
      return false;
    }
    if (run->workers.fetch_add(1) + 1 < options_.consume_threads) {
      consume_->Post([this, run] { ConsumeRunTask(run, false); });
    }
    return true;
  };
  if (!go_on()) return;
  for (size_t i = run->next.fetch_add(batch_max); i < total; i = run->next.fetch_add(batch_max)) {
    ConsumeConcurrently(run->pq,
                        std::span<const int64_t>(run->offsets).subspan(i, std::min(batch_max, total - i)),
                        on_reply_thread);
    if (!go_on()) return;
  }
}

void PushConsumerImpl::ConsumeConcurrently(const std::shared_ptr<ProcessQueue>& pq,
                                           std::span<const int64_t> offsets, bool on_reply_thread) {
  if (!running_ || pq->dropped) return;
  // One per thread, kept: a listener call allocates nothing for its batch. What it holds between
  // calls was moved back into the queue's table (SettleConcurrent).
  thread_local std::vector<ReceivedMessage> batch;
  batch.clear();
  {
    std::lock_guard lock(pq->mu);
    for (int64_t off : offsets) {
      if (auto it = pq->msgs.find(off); it != pq->msgs.end()) pq->LendLocked(it, &batch);
    }
  }
  if (batch.empty()) return;
  bool ok = RunListener(batch);
  if (!ok && on_reply_thread) {
    // The messages stay lent (their offsets uncommitted) until the pool has sent them back.
    auto failed = std::make_shared<std::vector<ReceivedMessage>>(std::move(batch));
    consume_->Post([this, pq, failed] { SettleConcurrent(pq, *failed, false); });
    return;
  }
  SettleConcurrent(pq, batch, ok);
  batch.clear();  // what a dropped queue did not take back is not kept until the next call
}

void PushConsumerImpl::SettleConcurrent(const std::shared_ptr<ProcessQueue>& pq,
                                        std::vector<ReceivedMessage>& batch, bool ok) {
  // On failure each message goes back to the broker (clustering) or is dropped (broadcasting,
  // as RocketMQ); only one whose send-back failed stays here for a local retry.
  std::set<int64_t> local_retry;
  if (!ok) {
    for (const auto& m : batch) {
      if (options_.model == MessageModel::kBroadcasting) {
        MQ_LOG_WARN(Logger("client"), "broadcasting: consume of {} at {} failed, dropped (no retry topic)",
                    m.msg_id, m.queue.ToString());
        continue;
      }
      Status s = SendMessageBack(*client_, options_.group, m, 0, options_.max_reconsume_times);
      if (!s.ok()) {
        MQ_LOG_WARN(Logger("client"), "send back {} from {}: {}; retrying locally", m.msg_id,
                    m.queue.ToString(), s.ToString());
        local_retry.insert(m.queue_offset);
      }
    }
  }
  {
    std::lock_guard lock(pq->mu);
    pq->SettleLocked(batch, [&](int64_t offset) { return local_retry.count(offset) == 0; });
    UpdateStoreLocked(*pq);
  }
  if (local_retry.empty()) return;
  // Local retry: the messages stay in the queue table, so the committed offset cannot pass them.
  consume_->ScheduleAfter(std::chrono::milliseconds(options_.retry_delay_ms),
                          [this, pq, offsets = std::vector<int64_t>(local_retry.begin(), local_retry.end())] {
                            ConsumeConcurrently(pq, offsets);
                          });
}

bool PushConsumerImpl::HandedOver(const std::shared_ptr<ProcessQueue>& pq) {
  if (!pq->dropped) return false;
  // A Drop that waited for this call in vain left the commit and the unlock to it.
  if (pq->hand_over.exchange(false)) Release(pq, /*unlock=*/true);
  return true;
}

bool PushConsumerImpl::LockFresh(const ProcessQueue& pq) const {
  return !LocksQueues() || MonotonicMillis() - pq.lock_sent_ms.load() < options_.orderly_lock_ttl_ms;
}

void PushConsumerImpl::ConsumeOrderlySoon(const std::shared_ptr<ProcessQueue>& pq) {
  std::lock_guard lock(pq->mu);
  if (pq->consuming || pq->msgs.empty()) return;
  pq->consuming = true;
  consume_->Post([this, pq] { ConsumeOrderly(pq); });
}

void PushConsumerImpl::ConsumeOrderly(std::shared_ptr<ProcessQueue> pq) {
  while (running_ && !pq->dropped && pq->locked) {
    // Held until this call's progress is recorded: a hand-over waits for it (Drop).
    std::unique_lock consuming(pq->consume_lock);
    if (HandedOver(pq)) break;
    std::vector<ReceivedMessage> batch;
    {
      std::lock_guard lock(pq->mu);
      // Checked under mu, which a renewal takes after it stored the new time (ConsumeOrderlySoon):
      // either this sees the renewal or the renewal sees `consuming` false and starts a task.
      if (!LockFresh(*pq)) {
        MQ_LOG_WARN(Logger("client"), "orderly lock of {} not renewed for {} ms; waiting for a renewal",
                    pq->mq.ToString(), options_.orderly_lock_ttl_ms);
        pq->consuming = false;
        return;
      }
      // In offset order, stopping at a message another call still has (none should: one
      // orderly task per queue at a time).
      for (auto it = pq->msgs.begin();
           it != pq->msgs.end() && static_cast<int>(batch.size()) < options_.consume_batch_max; ++it) {
        if (!pq->LendLocked(it, &batch)) break;
      }
      if (batch.empty()) {
        pq->consuming = false;
        return;
      }
    }
    bool ok = RunListener(batch);
    // RocketMQ checkReconsumeTimes: a message that used up max_reconsume_times goes to the DLQ
    // (and counts as consumed once it is there); any other failure suspends the queue and
    // hands the same messages over again.
    std::set<int64_t> done;
    bool suspend = false;
    for (const auto& m : batch) {
      if (ok) {
        done.insert(m.queue_offset);
        continue;
      }
      const int max = options_.max_reconsume_times;
      if (max < 0 || m.reconsume_times < max) {
        suspend = true;
        continue;
      }
      Status s = options_.model == MessageModel::kBroadcasting
                     ? Status::OK()  // no DLQ for broadcasting: dropped, as RocketMQ
                     : SendMessageBack(*client_, options_.group, m, -1, max);
      if (s.ok()) {
        MQ_LOG_WARN(Logger("client"), "orderly: {} from {} failed {} times, moved to the DLQ", m.msg_id,
                    m.queue.ToString(), m.reconsume_times + 1);
        done.insert(m.queue_offset);
      } else {
        MQ_LOG_WARN(Logger("client"), "orderly: send {} to the DLQ: {}; retrying", m.msg_id, s.ToString());
        suspend = true;
      }
    }
    {
      std::lock_guard lock(pq->mu);
      pq->SettleLocked(batch, [&](int64_t offset) { return done.count(offset) != 0; });
    }
    if (HandedOver(pq)) break;  // given away during the call
    if (suspend) {
      // Keep the queue (consuming stays true) and retry the same messages after a pause.
      if (!done.empty()) UpdateStore(pq);
      consume_->ScheduleAfter(std::chrono::milliseconds(options_.suspend_current_queue_time_ms),
                              [this, pq] { ConsumeOrderly(pq); });
      return;
    }
    UpdateStore(pq);
  }
  std::lock_guard lock(pq->mu);
  pq->consuming = false;
}

void PushConsumerImpl::UpdateStore(const std::shared_ptr<ProcessQueue>& pq, bool even_if_dropped) {
  // The check and the write happen under pq->mu, where Drop sets dropped: a batch either records
  // its progress before the drop (and the drop's own final value includes it) or never.
  std::lock_guard lock(pq->mu);
  UpdateStoreLocked(*pq, even_if_dropped);
}

void PushConsumerImpl::UpdateStoreLocked(ProcessQueue& pq, bool even_if_dropped) {
  if (pq.dropped && !even_if_dropped) return;
  store_->Update(pq.mq, pq.CommitOffsetLocked());
}

void PushConsumerImpl::CommitAll() {
  if (!running_) return;
  std::vector<std::shared_ptr<ProcessQueue>> pqs;
  {
    std::lock_guard lock(mu_);
    for (const auto& [q, pq] : queues_) pqs.push_back(pq);
  }
  if (pqs.empty()) return;
  if (options_.model == MessageModel::kBroadcasting) {
    std::vector<MessageQueue> qs;
    for (const auto& pq : pqs) qs.push_back(pq->mq);
    Status s = store_->Persist(qs);  // a small local file write, no fsync
    if (!s.ok()) MQ_LOG_WARN(Logger("client"), "commit offsets: {}", s.ToString());
    return;
  }
  // Clustering: flush what pulls have not carried yet (e.g. a queue that went idle after its
  // last batch), asynchronously: this runs on the internal executor.
  for (const auto& pq : pqs) {
    auto off = store_->ReadLocal(pq->mq);
    if (!off || *off < 0 || *off == pq->reported_offset.load()) continue;
    int64_t offset = *off;
    // The master when it is reachable, else a slave (the broker merges those back).
    auto addrs = CachedCandidates(pq->mq, 0);
    if (!addrs.ok() || addrs->empty()) continue;
    CommitOffsetAsync(*client_, addrs->front(), options_.group, pq->mq, offset, [pq, offset](Status s) {
      if (s.ok()) {
        pq->reported_offset = offset;
      } else {
        MQ_LOG_WARN(Logger("client"), "commit {} offset {}: {}", pq->mq.ToString(), offset, s.ToString());
      }
    });
  }
}

PushConsumer::PushConsumer(PushConsumerOptions options)
    : impl_(std::make_shared<PushConsumerImpl>(std::move(options))) {}
PushConsumer::~PushConsumer() { Shutdown(); }
Status PushConsumer::Subscribe(const std::string& topic, const std::string& expression) {
  return impl_->Subscribe(topic, MessageSelector::ByTag(expression));
}
Status PushConsumer::Subscribe(const std::string& topic, const MessageSelector& selector) {
  return impl_->Subscribe(topic, selector);
}
void PushConsumer::RegisterListener(MessageListener listener) {
  impl_->RegisterListener(std::move(listener));
}
Status PushConsumer::Start() { return impl_->Start(); }
void PushConsumer::Shutdown() { impl_->Shutdown(); }
std::vector<MessageQueue> PushConsumer::AssignedQueues() const { return impl_->AssignedQueues(); }
std::vector<ProcessQueueInfo> PushConsumer::ProcessQueueInfos() const { return impl_->ProcessQueueInfos(); }
const std::string& PushConsumer::client_id() const { return impl_->client_id(); }

}  // namespace mq::client
