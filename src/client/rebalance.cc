// PushConsumerImpl lifecycle and rebalance: which queues this consumer owns, where each starts,
// orderly locks, and the membership long-poll that triggers an immediate rebalance.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <set>

#include "broker_ops.h"
#include "common/clock.h"
#include "common/filter/sql_expression.h"
#include "common/logging.h"
#include "common/naming.h"
#include "common/rpc/status_convert.h"
#include "common/thread_name.h"
#include "consume_retry.h"
#include "push_consumer_impl.h"
#include "result_slot.h"
#include "rpc_call.h"

namespace mq::client {
namespace {

using MinMax = std::pair<int64_t, int64_t>;  // a queue's (min offset, max offset)

}  // namespace

PushConsumerImpl::PushConsumerImpl(PushConsumerOptions options)
    : options_(std::move(options)),
      client_(std::make_unique<ClientInstance>(options_.client, 1)),
      consume_(std::make_unique<IoExecutor>("mq-consume", std::max(1, options_.consume_threads))),
      listener_meter_(int64_t{options_.listener_on_reply_thread_max_us} * 1000) {}

PushConsumerImpl::~PushConsumerImpl() { Shutdown(); }

Status PushConsumerImpl::Subscribe(const std::string& topic, const MessageSelector& selector) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", topic));
  if (running_) return Status::FailedPrecondition("consumer: subscribe before Start()");
  MQ_ASSIGN_OR_RETURN(auto filter, ParseSelector(selector));
  subscriptions_.insert_or_assign(topic, std::move(filter));
  return Status::OK();
}

Status PushConsumerImpl::Start() {
  MQ_RETURN_IF_ERROR(ValidateName("group", options_.group));
  if (subscriptions_.empty()) return Status::FailedPrecondition("consumer: no subscription");
  if (!listener_) return Status::FailedPrecondition("consumer: no listener registered");
  if (options_.pull_batch_size <= 0 || options_.consume_batch_max <= 0 ||
      options_.pull_threshold_for_queue <= 0) {
    return Status::InvalidArgument(
        "pull_batch_size, consume_batch_max, pull_threshold_for_queue: must be positive");
  }
  if (options_.pull_batch_size > 1024) {
    return Status::InvalidArgument("pull_batch_size: must be at most 1024 (the broker's limit per pull)");
  }
  if (options_.pull_batch_max_bytes <= 0)
    return Status::InvalidArgument("pull_batch_max_bytes: must be positive");
  if (options_.pull_threshold_size_for_queue <= 0 || options_.pull_threshold_size_for_queue > 1024) {
    return Status::InvalidArgument("pull_threshold_size_for_queue: must be in [1, 1024] MiB");
  }
  // RocketMQ's checkConfig ranges.
  if (options_.pull_threshold_for_topic != -1 &&
      (options_.pull_threshold_for_topic < 1 || options_.pull_threshold_for_topic > 6'553'500)) {
    return Status::InvalidArgument("pull_threshold_for_topic: must be -1 (off) or in [1, 6553500]");
  }
  if (options_.pull_threshold_size_for_topic != -1 &&
      (options_.pull_threshold_size_for_topic < 1 || options_.pull_threshold_size_for_topic > 102'400)) {
    return Status::InvalidArgument("pull_threshold_size_for_topic: must be -1 (off) or in [1, 102400] MiB");
  }
  if (options_.pull_standing_replies < 0 || options_.pull_standing_replies > 64) {
    return Status::InvalidArgument("pull_standing_replies: must be in [0, 64] (0 = off)");
  }
  if (options_.listener_on_reply_thread_max_us < 0 || options_.listener_on_reply_thread_max_us > 200) {
    return Status::InvalidArgument("listener_on_reply_thread_max_us: must be in [0, 200] (0 = off)");
  }
  if (LocksQueues() &&
      (options_.orderly_lock_ttl_ms <= RebalancePeriod().count() || options_.orderly_lock_ttl_ms >= 60'000)) {
    return Status::InvalidArgument(fmt::format(
        "orderly_lock_ttl_ms: must be longer than the rebalance period ({} ms), which renews the locks, "
        "and shorter than the broker's 60 s lock",
        RebalancePeriod().count()));
  }
  // What follows replaces state the running threads use: a second call must not get here.
  if (started_once_.exchange(true)) {
    return Status::FailedPrecondition("consumer: already started (a consumer starts once)");
  }
  if (options_.model == MessageModel::kBroadcasting) {
    std::string dir = options_.offset_dir;
    if (dir.empty()) {
      const char* home = std::getenv("HOME");
      dir = std::string(home != nullptr ? home : ".") + "/.mq_offsets";
    }
    auto path = dir + "/" + options_.client.instance_name + "/" + options_.group + "/offsets.json";
    MQ_ASSIGN_OR_RETURN(store_, OffsetStore::LocalFile(path));
  } else {
    // Offsets go to the master when it is there and to a slave otherwise; the broker merges a
    // slave's commits back into the master (docs/replication.md).
    store_ = OffsetStore::Remote(
        [this](const MessageQueue& q) -> Result<int64_t> {
          MQ_ASSIGN_OR_RETURN(auto addrs, Candidates(q, 0));
          return CallWithFailover<Result<int64_t>>(
              addrs, reach_, "query offset of " + q.ToString(), [&](const std::string& addr) {
                return QueryCommittedOffset(*client_, addr, options_.group, q);
              });
        },
        [this](const MessageQueue& q, int64_t offset) -> Status {
          MQ_ASSIGN_OR_RETURN(auto addrs, Candidates(q, 0));
          return CallWithFailover<Status>(addrs, reach_, "commit offset of " + q.ToString(),
                                          [&](const std::string& addr) {
                                            return CommitOffset(*client_, addr, options_.group, q, offset);
                                          });
        });
  }
  if (options_.model == MessageModel::kClustering && !options_.orderly) {
    // Sent-back messages come back through the group's retry topic (RocketMQ subscribes it for
    // every clustering consumer; orderly ones retry locally and only ever send to the DLQ).
    MQ_ASSIGN_OR_RETURN(auto all, TagFilter::Parse("*"));
    subscriptions_.insert_or_assign(RetryTopic(options_.group), std::move(all));
  }
  client_->SetHeartbeatFiller([this](mq::v1::HeartbeatRequest* req) { FillHeartbeat(req); });
  MQ_RETURN_IF_ERROR(client_->Start());
  if (Status s = CheckSqlSubscriptions(); !s.ok()) {
    client_->Shutdown({}, {options_.group});
    return s;
  }
  consume_->Start();
  running_ = true;
  auto commit = std::chrono::milliseconds(std::max<int64_t>(options_.commit_interval_ms, 10));
  client_->internal().ScheduleEvery(commit, commit, [this] { CommitAll(); });
  rebalance_thread_ = StartNamedThread("mq-rebalance", [this] { RebalanceLoop(); });
  if (options_.model == MessageModel::kClustering)
    watch_thread_ = StartNamedThread("mq-rebal-watch", [this] { WatchLoop(); });
  return Status::OK();
}

thread_local const PushConsumerImpl* PushConsumerImpl::tls_listener_of_ = nullptr;

void PushConsumerImpl::Shutdown() { shutdown_.Run(/*on_own_thread=*/tls_listener_of_ != nullptr); }

void PushConsumerImpl::ShutdownNow() {
  if (!running_.exchange(false)) return;
  {
    std::lock_guard lock(wake_mu_);
    wake_ = true;
  }
  wake_cv_.notify_all();
  {
    std::lock_guard lock(watch_mu_);
    if (watch_ctx_) watch_ctx_->TryCancel();
  }
  if (rebalance_thread_.joinable()) rebalance_thread_.join();
  if (watch_thread_.joinable()) watch_thread_.join();
  std::vector<std::shared_ptr<ProcessQueue>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [q, pq] : queues_) all.push_back(pq);
  }
  for (auto& pq : all) {
    std::lock_guard lock(pq->mu);
    pq->dropped = true;
    if (pq->cancel_pull) pq->cancel_pull();
  }
  consume_->Shutdown();  // running listener calls finish; queued ones are abandoned
  for (auto& pq : all) UpdateStore(pq, /*even_if_dropped=*/true);
  Status s = store_->Persist();
  if (s.ok() && options_.model == MessageModel::kClustering) {
    // A pull sent just before the shutdown carries an older offset (has_commit_offset); should
    // the broker handle it after the commit above, the offset would go back. Committing again
    // once the first round trip is over closes that window (a graceful restart replays
    // nothing).
    s = store_->Persist();
  }
  if (!s.ok()) MQ_LOG_WARN(Logger("client"), "commit offsets on shutdown: {}", s.ToString());
  if (LocksQueues()) {
    for (auto& pq : all) (void)LockQueues(*client_, pq->master_addr, options_.group, {pq->mq}, true);
  }
  client_->Shutdown({}, {options_.group});
}

std::vector<ProcessQueueInfo> PushConsumerImpl::ProcessQueueInfos() {
  std::vector<std::shared_ptr<ProcessQueue>> pqs;
  {
    std::lock_guard lock(mu_);
    for (const auto& [q, pq] : queues_) {
      if (!IsRetryTopic(q.topic)) pqs.push_back(pq);  // the retry subscription is internal
    }
  }
  std::vector<ProcessQueueInfo> out;
  for (const auto& pq : pqs) {
    std::lock_guard lock(pq->mu);
    out.push_back(
        ProcessQueueInfo{pq->mq, static_cast<int64_t>(pq->msgs.size()), pq->cached_bytes, pq->next_offset});
  }
  return out;
}

std::vector<MessageQueue> PushConsumerImpl::AssignedQueues() {
  std::lock_guard lock(mu_);
  std::vector<MessageQueue> out;
  for (const auto& [q, pq] : queues_) {
    if (!IsRetryTopic(q.topic)) out.push_back(q);  // the retry subscription is internal
  }
  return out;
}

void PushConsumerImpl::FillHeartbeat(mq::v1::HeartbeatRequest* req) {
  auto* c = req->add_consumers();
  c->set_group(options_.group);
  c->set_message_model(options_.model == MessageModel::kClustering ? mq::v1::CLUSTERING
                                                                   : mq::v1::BROADCASTING);
  c->set_consume_from_where(
      static_cast<mq::v1::ConsumeFromWhere>(static_cast<int>(options_.consume_from_where)));
  c->set_orderly(options_.orderly);
  for (const auto& [topic, filter] : subscriptions_) {
    auto* s = c->add_subscriptions();
    s->set_topic(topic);
    s->set_expression(filter.expression());
    s->set_expression_type(filter.expression_type());
  }
}

Status PushConsumerImpl::CheckSqlSubscriptions() {
  mq::v1::HeartbeatRequest req;
  req.set_client_id(client_->client_id());
  FillHeartbeat(&req);
  for (const auto& [topic, filter] : subscriptions_) {
    if (filter.expression_type() != filter::kExpressionTypeSql92) continue;
    auto route = client_->GetRoute(topic);
    if (!route.ok()) continue;  // no route yet: the pulls report it
    std::set<std::string> seen;
    for (const auto& q : SubscribeQueues(topic, *route)) {
      if (!seen.insert(q.broker_name).second) continue;
      auto addrs = ReadCandidates(*route, q.broker_name, 0, reach_);
      if (addrs.empty()) continue;
      // Only refusals fail Start(): an unreachable broker is the failover machinery's job.
      Status s = SendHeartbeat(*client_, addrs.front(), req);
      if (s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kFailedPrecondition) {
        return Status(s.code(), fmt::format("consumer: broker {} refuses the subscription to '{}': {}",
                                            q.broker_name, topic, s.message()));
      }
    }
  }
  return Status::OK();
}

void PushConsumerImpl::RebalanceLoop() {
  const auto period = RebalancePeriod();
  for (const auto& [topic, f] : subscriptions_) (void)client_->GetRoute(topic);
  client_->HeartbeatAll(/*wait=*/true);  // the first rebalance must see this client
  while (running_) {
    RebalanceOnce();
    if (LocksQueues()) Relock();
    std::unique_lock lock(wake_mu_);
    wake_cv_.wait_for(lock, period, [this] { return wake_; });
    wake_ = false;
  }
}

void PushConsumerImpl::WatchLoop() {
  int64_t known = -1;
  while (running_) {
    std::string addr;
    for (const auto& [topic, f] : subscriptions_) {
      auto route = client_->GetRoute(topic);
      if (!route.ok()) continue;
      for (const auto& q : SubscribeQueues(topic, *route)) {
        auto addrs = ReadCandidates(*route, q.broker_name, 0, reach_);
        if (!addrs.empty()) addr = addrs.front();
        break;
      }
      if (!addr.empty()) break;
    }
    bool ok = false;
    if (!addr.empty()) {
      mq::v1::GetConsumerIdsRequest req;
      req.set_consumer_group(options_.group);
      req.set_known_version(known);
      req.set_wait_millis(known < 0 ? 0 : 10'000);
      // An async call waited on a futex: a thread blocked in a synchronous gRPC call polls
      // gRPC's shared epoll set and so wakes for every reply of every channel of the process
      // (pulls, sends), about one wake-up per consumed message.
      const int64_t timeout_ms = 10'000 + options_.client.rpc_timeout_ms;
      auto slot = std::make_shared<ResultSlot<Result<mq::v1::GetConsumerIdsResponse>>>();
      {
        std::lock_guard lock(watch_mu_);
        if (!running_) return;
        auto stub = client_->Broker(addr);
        watch_ctx_ = StartCall<mq::v1::GetConsumerIdsRequest, mq::v1::GetConsumerIdsResponse>(
            [stub](auto* c, auto* q, auto* r, auto cb) {
              stub->async()->GetConsumerIds(c, q, r, std::move(cb));
            },
            std::move(req), timeout_ms, &client_->internal(), client_->inflight(),
            [slot](Result<mq::v1::GetConsumerIdsResponse> r) { slot->Set(std::move(r)); });
      }
      // The call's deadline always completes it; the extra wait only guards a stuck executor.
      auto reply = slot->WaitFor(std::chrono::milliseconds(timeout_ms + 5'000));
      Result<mq::v1::GetConsumerIdsResponse> r =
          reply ? std::move(*reply) : Status::Timeout("GetConsumerIds: no completion in time");
      ok = r.ok();
      if (!ok && running_ && IsTransportFailure(r.status())) reach_.MarkUnreachable(addr);
      if (ok && r->version() != known) {
        if (known >= 0) {
          std::lock_guard lock(wake_mu_);
          wake_ = true;
          wake_cv_.notify_all();
        }
        known = r->version();
      }
    }
    if (!ok && running_) {
      std::unique_lock lock(wake_mu_);
      wake_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return !running_.load(); });
    }
  }
}

void PushConsumerImpl::RebalanceOnce() {
  std::lock_guard guard(rebalance_mu_);
  for (const auto& [topic, f] : subscriptions_) {
    if (!running_) return;
    auto route = client_->GetRoute(topic);
    if (!route.ok()) {
      // The broker creates the group's retry topic on the first heartbeat; until its route
      // reaches the NameServer there is simply nothing to consume from it.
      if (!(IsRetryTopic(topic) && route.status().IsNotFound())) {
        MQ_LOG_WARN(Logger("client"), "rebalance {}: {}", topic, route.status().ToString());
      }
      continue;
    }
    auto all = SubscribeQueues(topic, *route);
    if (options_.model == MessageModel::kBroadcasting) {
      UpdateQueues(topic, *route, all);
      continue;
    }
    std::vector<std::string> cids;
    bool got = false;
    std::set<std::string> tried;
    for (const auto& q : all) {
      if (!tried.insert(q.broker_name).second) continue;
      mq::v1::GetConsumerIdsRequest req;
      req.set_consumer_group(options_.group);
      // Any node of the set knows the members (consumers heartbeat to slaves too).
      auto r = CallWithFailover<Result<mq::v1::GetConsumerIdsResponse>>(
          ReadCandidates(*route, q.broker_name, 0, reach_), reach_, "consumer ids of " + options_.group,
          [&](const std::string& addr) {
            auto stub = client_->Broker(addr);
            return BlockingCall<mq::v1::GetConsumerIdsResponse>(
                options_.client.rpc_timeout_ms,
                [&](auto* c, auto* resp) { return stub->GetConsumerIds(c, req, resp); });
          });
      if (r.ok() && !r->client_ids().empty()) {
        cids.assign(r->client_ids().begin(), r->client_ids().end());
        got = true;
        break;
      }
    }
    if (!got) continue;  // keep the current assignment
    UpdateQueues(topic, *route, AllocateAveragely(all, cids, client_->client_id()));
  }
}

void PushConsumerImpl::UpdateQueues(const std::string& topic, const mq::v1::TopicRouteData& route,
                                    const std::vector<MessageQueue>& mine) {
  std::set<MessageQueue> wanted(mine.begin(), mine.end());
  std::vector<std::shared_ptr<ProcessQueue>> drop;
  std::vector<MessageQueue> add;
  bool retry_soon = false;
  // RocketMQ's RebalancePushImpl.messageQueueChanged: a per-topic limit is split over the
  // queues of the new assignment.
  const int64_t held = std::max<int64_t>(1, static_cast<int64_t>(mine.size()));
  const int64_t max_msgs = options_.pull_threshold_for_topic == -1
                               ? options_.pull_threshold_for_queue
                               : std::max<int64_t>(1, options_.pull_threshold_for_topic / held);
  const int64_t max_mib = options_.pull_threshold_size_for_topic == -1
                              ? options_.pull_threshold_size_for_queue
                              : std::max<int64_t>(1, options_.pull_threshold_size_for_topic / held);
  const int64_t max_bytes = max_mib * 1024 * 1024;
  {
    std::lock_guard lock(mu_);
    for (auto it = queues_.begin(); it != queues_.end();) {
      if (it->first.topic == topic && wanted.count(it->first) == 0) {
        drop.push_back(it->second);
        it = queues_.erase(it);
      } else {
        if (it->first.topic == topic) {
          it->second->max_cached_msgs = max_msgs;
          it->second->max_cached_bytes = max_bytes;
        }
        ++it;
      }
    }
    for (const auto& q : mine) {
      if (queues_.count(q) != 0) continue;
      if (handing_over_.count(q) != 0) {
        retry_soon = true;  // its listener call of an earlier ownership still runs
        continue;
      }
      add.push_back(q);
    }
  }
  for (auto& pq : drop) Drop(pq, LocksQueues());
  for (const auto& q : add) {
    if (!running_) return;
    // Orderly queues need the master: their locks live there (RocketMQ locks on the master
    // only), so they pause while it is away.
    std::string addr = MasterAddress(route, q.broker_name);
    int64_t lock_sent_ms = 0;
    if (LocksQueues()) {
      if (addr.empty()) {
        retry_soon = true;
        continue;
      }
      const int64_t sent_ms = MonotonicMillis();
      auto locked = LockQueues(*client_, addr, options_.group, {q}, false);
      if (!locked.ok() || locked->empty()) {
        retry_soon = true;  // the previous owner may still hold it
        continue;
      }
      lock_sent_ms = sent_ms;
    }
    // A new assignment starts from the stored offset (broker or file), never from a value left
    // in memory by an earlier ownership (RocketMQ removeDirtyOffset).
    store_->Remove(q);
    auto offset = StartOffset(q);
    if (!offset.ok()) {
      MQ_LOG_WARN(Logger("client"), "start offset of {}: {}", q.ToString(), offset.status().ToString());
      retry_soon = true;
      continue;
    }
    auto pq = std::make_shared<ProcessQueue>();
    pq->mq = q;
    pq->master_addr = addr;
    pq->next_offset = *offset;
    pq->locked = options_.orderly;
    pq->lock_sent_ms = lock_sent_ms;
    pq->max_cached_msgs = max_msgs;
    pq->max_cached_bytes = max_bytes;
    store_->Update(q, *offset);
    {
      std::lock_guard lock(mu_);
      queues_[q] = pq;
    }
    Pull(pq);
  }
  if (retry_soon) RebalanceSoon();
}

void PushConsumerImpl::RebalanceSoon() {
  if (!running_) return;
  client_->internal().ScheduleAfter(std::chrono::milliseconds(1000), [this] {
    std::lock_guard lock(wake_mu_);
    wake_ = true;
    wake_cv_.notify_all();
  });
}

Result<std::vector<std::string>> PushConsumerImpl::Candidates(const MessageQueue& q, int64_t preferred_id) {
  MQ_ASSIGN_OR_RETURN(auto route, client_->GetRoute(q.topic));
  return ReadCandidates(route, q.broker_name, preferred_id, reach_);
}

Result<std::vector<std::string>> PushConsumerImpl::CachedCandidates(const MessageQueue& q,
                                                                    int64_t preferred_id) {
  auto route = client_->CachedRoute(q.topic);
  if (!route) {
    client_->RefreshRoute(q.topic);
    return Status::Unavailable("route of '" + q.topic + "': not cached yet");
  }
  return ReadCandidates(*route, q.broker_name, preferred_id, reach_);
}

Result<int64_t> PushConsumerImpl::StartOffset(const MessageQueue& q) {
  auto stored = store_->Read(q);
  if (stored.ok() || !stored.status().IsNotFound()) return stored;
  MQ_ASSIGN_OR_RETURN(auto addrs, Candidates(q, 0));
  const std::string what = "start offset of " + q.ToString();
  if (options_.consume_from_where == ConsumeFromWhere::kTimestamp && !IsRetryTopic(q.topic)) {
    int64_t ts =
        options_.consume_timestamp_ms > 0 ? options_.consume_timestamp_ms : WallMillis() - 30 * 60 * 1000;
    return CallWithFailover<Result<int64_t>>(
        addrs, reach_, what, [&](const std::string& addr) { return SearchOffset(*client_, addr, q, ts); });
  }
  MQ_ASSIGN_OR_RETURN(auto mm,
                      CallWithFailover<Result<MinMax>>(addrs, reach_, what, [&](const std::string& addr) {
                        return QueueMinMax(*client_, addr, q);
                      }));
  // A retry queue holds only this group's messages sent back and not consumed yet: it is read
  // from its start whatever consume_from_where says (RocketMQ starts it at 0 too), or what was
  // sent back before the group first took the queue would be skipped for good.
  if (IsRetryTopic(q.topic)) return mm.first;
  return options_.consume_from_where == ConsumeFromWhere::kFirstOffset ? mm.first : mm.second;
}

void PushConsumerImpl::Drop(const std::shared_ptr<ProcessQueue>& pq, bool unlock) {
  {
    std::lock_guard lock(pq->mu);
    pq->dropped = true;  // from here on no consume batch writes this queue's offset
    if (pq->cancel_pull) pq->cancel_pull();
  }
  if (unlock) {
    // Not unlocked under a running listener call: the next owner would consume the queue
    // beside it. The flag and the set go first, so whichever of this and the call's end holds
    // the consume lock next finds them.
    {
      std::lock_guard lock(mu_);
      handing_over_.insert(pq->mq);
    }
    pq->hand_over = true;
    std::unique_lock consuming(pq->consume_lock, std::defer_lock);
    if (!consuming.try_lock_for(std::chrono::seconds(1))) return;  // ConsumeOrderly hands it over
    if (!pq->hand_over.exchange(false)) return;                    // it already did
  }
  Release(pq, unlock);
}

void PushConsumerImpl::Release(const std::shared_ptr<ProcessQueue>& pq, bool unlock) {
  // Batches still in flight are not done: the hand-over commits below them, so the next owner
  // delivers them again (at least once) rather than skipping them.
  UpdateStore(pq, /*even_if_dropped=*/true);
  Status s = store_->Persist({pq->mq});
  if (!s.ok()) MQ_LOG_WARN(Logger("client"), "commit {} on drop: {}", pq->mq.ToString(), s.ToString());
  store_->Remove(pq->mq);
  if (!unlock) return;
  (void)LockQueues(*client_, pq->master_addr, options_.group, {pq->mq}, true);
  std::lock_guard lock(mu_);
  handing_over_.erase(pq->mq);
}

void PushConsumerImpl::Relock() {
  std::map<std::string, std::vector<std::shared_ptr<ProcessQueue>>> by_broker;
  {
    std::lock_guard lock(mu_);
    for (const auto& [q, pq] : queues_) by_broker[pq->master_addr].push_back(pq);
  }
  for (auto& [addr, pqs] : by_broker) {
    std::vector<MessageQueue> qs;
    for (const auto& pq : pqs) qs.push_back(pq->mq);
    const int64_t sent_ms = MonotonicMillis();
    auto locked = LockQueues(*client_, addr, options_.group, qs, false);
    if (!locked.ok()) {
      // No answer is no refusal: the queues stay, consumed until their locks expire locally
      // (a drop here would redeliver what was consumed since the last commit, and the next
      // owner would be this client again anyway).
      MQ_LOG_WARN(Logger("client"), "renewing {} orderly lock(s) on {}: {}", qs.size(), addr,
                  locked.status().ToString());
      RebalanceSoon();
      continue;
    }
    std::set<MessageQueue> held(locked->begin(), locked->end());
    for (const auto& pq : pqs) {
      if (held.count(pq->mq) > 0) {
        pq->lock_sent_ms = sent_ms;
        ConsumeOrderlySoon(pq);  // it may have stopped at an expired lock
        continue;
      }
      MQ_LOG_WARN(Logger("client"), "lost the lock of {}; giving it up", pq->mq.ToString());
      pq->locked = false;
      {
        std::lock_guard lock(mu_);
        queues_.erase(pq->mq);
      }
      Drop(pq, false);
    }
  }
}

}  // namespace mq::client
