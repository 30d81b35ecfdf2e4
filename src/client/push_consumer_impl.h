// PushConsumerImpl: rebalance (rebalance.cc) + long-poll pulling and consumption
// (push_consumer.cc).
//
// Reads (pulls, offset queries, membership) go to the master of a queue's broker set, or to a
// slave while the master is absent from the route or unreachable (read_target.h); orderly
// queues stay on the master, where their locks are.
//
// Threads: pull completions run on the thread their reply arrived on (the fast port's
// mq-fast-send, or gRPC's callback thread), offset-commit ticks and delayed pulls on the
// client's internal executor; none blocks (offsets ride on pulls, has_commit_offset, plus an
// asynchronous periodic flush); listener calls on consume_ (consume_threads), or, for a
// listener proven fast, on the reply's thread (listener_meter_); rebalance and relock on
// rebalance_thread_; the membership long-poll (GetConsumerIds) on watch_thread_.
// Locks: mu_ guards queues_ (the ProcessQueue map); ProcessQueue::mu guards its message table.
// Lock order: mu_ before ProcessQueue::mu before the offset store's lock; rebalance_mu_
// serialises rebalance passes and is taken before mu_. No lock is held across an RPC or a
// listener call.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "call_meter.h"
#include "client_instance.h"
#include "deferred_shutdown.h"
#include "mq/client/push_consumer.h"
#include "offset_store.h"
#include "pull_reply.h"
#include "read_target.h"
#include "route_info.h"

namespace mq::client {

struct ProcessQueue {
  MessageQueue mq;
  std::string master_addr;  // the master when assigned: orderly locks live there
  // The broker's suggest_which_broker_id from the last pull (RocketMQ pullFromWhichNodeTable):
  // the next pull prefers that node of the set (read_target.h).
  std::atomic<int64_t> suggested_broker_id{0};
  // Set under mu (also read without it as a hint): once set, consume batches of this queue no
  // longer record progress (UpdateStore), so a late batch cannot rewind its next owner.
  std::atomic<bool> dropped{false};
  std::atomic<bool> locked{false};  // orderly mode: the broker lock is held
  // Orderly clustering: steady-clock ms when the last lock request the broker granted was sent
  // (the broker's lock runs at least 60 s from then). The queue is consumed only within
  // orderly_lock_ttl_ms of it (RocketMQ ProcessQueue lastLockTimestamp / isLockExpired).
  std::atomic<int64_t> lock_sent_ms{0};
  // Orderly clustering: held across each listener call and the settle after it, so a hand-over
  // never unlocks the queue for the next owner while a call of this one is still running
  // (RocketMQ's ProcessQueue consumeLock).
  std::timed_mutex consume_lock;
  // Set by a Drop that must unlock: whoever holds consume_lock next and clears it (the Drop, or
  // the listener call it waited for) commits and unlocks the queue.
  std::atomic<bool> hand_over{false};

  // Offset last sent to the broker (piggy-backed on a pull or flushed); -1 before the first.
  std::atomic<int64_t> reported_offset{-1};
  // Flow-control limits of this queue's cache (the per-queue options, or the per-topic ones
  // split over the topic's queues); set by the rebalance.
  std::atomic<int64_t> max_cached_msgs{0};
  std::atomic<int64_t> max_cached_bytes{0};

  // A pulled message not yet consumed. While a listener call has it (lent), `message` is empty
  // (moved out, not copied) and the entry only holds its offset and its bytes' place.
  struct CachedMessage {
    ReceivedMessage message;
    int64_t body_bytes = 0;
    bool lent = false;
  };
  using Table = std::map<int64_t, CachedMessage>;

  // Consumed messages in their table entries, kept for the next pull reply of this queue, which
  // decodes its messages into them (Reuse: a steady consumer allocates about nothing per message)
  // and destroys the rest on the thread that decoded them. glibc's malloc frees a block of another
  // thread's arena under that arena's lock: with the consume threads freeing what the reply
  // thread allocated, both fought over one lock per allocation, and the backlog consumer spent
  // more than half of its CPU in futex waits (docs/client.md). At most about two pulls' messages
  // wait here once the queue goes idle, until its long poll returns (pull_suspend_ms).
  struct Settled {
    std::vector<Table::node_type> entries;

    // A settled entry, keyed `offset` and holding a consumed message (its buffers to be
    // overwritten), or an empty node handle when none is left.
    Table::node_type Reuse(int64_t offset) {
      if (entries.empty()) return {};
      Table::node_type node = std::move(entries.back());
      entries.pop_back();
      node.key() = offset;
      node.mapped().lent = false;
      node.mapped().body_bytes = 0;
      return node;
    }
  };

  std::mutex mu;
  Table msgs;                         // pulled, not yet consumed; guarded by mu
  Settled settled;                    // guarded by mu
  int64_t cached_bytes = 0;           // body bytes of msgs; guarded by mu
  int64_t next_offset = 0;            // next offset to pull; guarded by mu
  bool consuming = false;             // orderly: a consume task owns the queue; guarded by mu
  std::function<void()> cancel_pull;  // cancels the pull in flight (gRPC or fast port); guarded by mu
  // Numbers the pulls: a pull whose reply came before its starter stored `pull` has already
  // started the next one, which must not be overwritten by the older context. Guarded by mu.
  uint64_t pull_generation = 0;
  // A standing pull's reply could not be decoded: its later replies are dropped and its last
  // one pulls again from next_offset. Guarded by mu.
  bool skip_standing = false;

  // Offset below which everything is consumed. Requires mu.
  int64_t CommitOffsetLocked() const { return msgs.empty() ? next_offset : msgs.begin()->first; }
  // Caches the messages of `arrived` (a pull reply's, decoded into their entries outside the
  // lock: the entries are spliced in, no message moves). An offset cached already keeps its
  // entry; the newcomer stays in `arrived`. Removes a message with EraseLocked. Both keep
  // cached_bytes in step. Require mu.
  void PutLocked(Table& arrived) {
    for (auto& [offset, entry] : arrived) {
      entry.body_bytes = static_cast<int64_t>(entry.message.message.body.size());
      cached_bytes += entry.body_bytes;
    }
    msgs.merge(arrived);
    for (const auto& [offset, entry] : arrived) cached_bytes -= entry.body_bytes;
  }
  void EraseLocked(Table::iterator it) {
    cached_bytes -= it->second.body_bytes;
    settled.entries.push_back(msgs.extract(it));
  }
  Settled TakeSettledLocked() { return std::exchange(settled, {}); }
  // Puts entries of `spare` (taken by a reply that needed fewer) back for the next reply, at
  // most `max_entries` waiting in all and `max_body_bytes` of body buffers among those put
  // back; the rest stay in spare for the caller to destroy outside the lock. Replies of varying
  // size would otherwise allocate what a smaller one before them destroyed. Requires mu.
  void KeepSpareLocked(Settled& spare, size_t max_entries, int64_t max_body_bytes) {
    int64_t kept_bytes = 0;
    while (settled.entries.size() < max_entries && !spare.entries.empty()) {
      Table::node_type& node = spare.entries.back();
      kept_bytes += static_cast<int64_t>(node.mapped().message.message.body.capacity());
      if (kept_bytes > max_body_bytes) break;
      settled.entries.push_back(std::move(node));
      spare.entries.pop_back();
    }
  }
  // Moves the message at `it` to the end of `batch` for a listener call; false (nothing moved)
  // if another call has it. It stays cached (offset, bytes) until EraseLocked, or until
  // ReturnLocked puts it back for another try. Require mu.
  bool LendLocked(Table::iterator it, std::vector<ReceivedMessage>* batch) {
    if (it->second.lent) return false;
    batch->push_back(std::move(it->second.message));
    it->second.lent = true;
    return true;
  }
  void ReturnLocked(Table::iterator it, ReceivedMessage m) {
    it->second.message = std::move(m);
    it->second.lent = false;
  }
  // After a listener call on the lent `batch`: erases each message whose offset `consumed`
  // accepts and returns the others with one more reconsume time. Require mu.
  template <typename Consumed>
  void SettleLocked(std::vector<ReceivedMessage>& batch, const Consumed& consumed) {
    for (auto& m : batch) {
      auto it = msgs.find(m.queue_offset);
      if (it == msgs.end()) continue;
      if (consumed(m.queue_offset)) {
        it->second.message = std::move(m);
        EraseLocked(it);
      } else {
        ++m.reconsume_times;
        ReturnLocked(it, std::move(m));
      }
    }
  }
};

class PushConsumerImpl {
 public:
  explicit PushConsumerImpl(PushConsumerOptions options);
  ~PushConsumerImpl();

  Status Subscribe(const std::string& topic, const MessageSelector& selector);
  void RegisterListener(MessageListener listener) { listener_ = std::move(listener); }
  Status Start();
  // From a listener call (one of our own threads, which the shutdown joins) it runs on a thread
  // of its own, joined by the next Shutdown() from elsewhere or the destructor.
  void Shutdown();
  std::vector<MessageQueue> AssignedQueues();
  std::vector<ProcessQueueInfo> ProcessQueueInfos();
  const std::string& client_id() const { return client_->client_id(); }

 private:
  // rebalance.cc
  void RebalanceLoop();
  void WatchLoop();
  void RebalanceOnce();
  void UpdateQueues(const std::string& topic, const mq::v1::TopicRouteData& route,
                    const std::vector<MessageQueue>& mine);
  Result<int64_t> StartOffset(const MessageQueue& q);
  // Addresses of q's broker set to read from, best first (read_target.h ReadCandidates).
  Result<std::vector<std::string>> Candidates(const MessageQueue& q, int64_t preferred_id);
  // The same from the cached route only, for the internal executor (never waits for a route
  // query; a missing route is re-queried in the background and the caller retries later).
  Result<std::vector<std::string>> CachedCandidates(const MessageQueue& q, int64_t preferred_id);
  // Stops consuming pq and commits its progress. unlock (orderly clustering): also unlocks it
  // on the broker, once no listener call of it runs (waits up to 1 s, then leaves that to the
  // call's end).
  void Drop(const std::shared_ptr<ProcessQueue>& pq, bool unlock);
  // Commits pq's progress (dropped), forgets its offset and, if `unlock`, unlocks it.
  void Release(const std::shared_ptr<ProcessQueue>& pq, bool unlock);
  // Under pq->consume_lock (orderly): true when pq was dropped, after handing it over if its
  // Drop left that to this consume task.
  bool HandedOver(const std::shared_ptr<ProcessQueue>& pq);
  // Renews the locks of the orderly queues on their masters. A queue the broker refuses is
  // given up; a broker that does not answer leaves its queues as they are (consumed until their
  // local lock expires) and the renewal is tried again within a second.
  void Relock();
  // Wakes the rebalance loop in about a second (a queue to retry, a lock to renew).
  void RebalanceSoon();
  // Orderly clustering: true while pq's lock is fresh enough to consume it (always true for
  // consumers that do not lock).
  bool LockFresh(const ProcessQueue& pq) const;
  // Orderly: starts a consume task for pq unless one runs or nothing is cached.
  void ConsumeOrderlySoon(const std::shared_ptr<ProcessQueue>& pq);
  void ShutdownNow();
  // Orderly clustering consumers lock their queues on the broker; broadcasting ones consume every
  // queue, each member on its own, so there is nothing to exclude (RocketMQ #8772).
  bool LocksQueues() const { return options_.orderly && options_.model == MessageModel::kClustering; }
  std::chrono::milliseconds RebalancePeriod() const {
    return std::chrono::milliseconds(std::clamp<int64_t>(options_.rebalance_interval_ms, 10, 20'000));
  }
  void FillHeartbeat(mq::v1::HeartbeatRequest* req);
  // RocketMQ's checkClientInBroker: the first broker of each SQL92-subscribed topic sees our
  // heartbeat now, so a broker that refuses the selector fails Start() with its reason.
  Status CheckSqlSubscriptions();

  // push_consumer.cc
  void Pull(std::shared_ptr<ProcessQueue> pq);
  void PullLater(std::shared_ptr<ProcessQueue> pq, int64_t delay_ms);
  bool IsMaster(const MessageQueue& q, const std::string& addr);
  // `more`: a standing pull's reply with more to come (the broker pulls on; no next pull here).
  void OnPulled(const std::shared_ptr<ProcessQueue>& pq, const std::string& addr, int64_t offset,
                Result<PullReplyView> reply, bool more = false);
  // The fresh messages of one pull response, consumed by one or more pool tasks that take
  // consume_batch_max of them at a time.
  struct ConsumeRun {
    std::shared_ptr<ProcessQueue> pq;
    std::vector<int64_t> offsets;
    std::atomic<size_t> next{0};  // index of the first offset no task has taken yet
    std::atomic<int> workers{0};
  };
  // Consumes what is left of `run`. On a consume thread, before each listener call it posts
  // one more task (up to consume_threads in all) if the calls left after it would take, at the
  // listener's mean time per call, longer than kHelperWorthNs: a fast listener consumes a
  // pull's messages on one thread (one wake-up per pull), a slow one fans out over the pool.
  // On the pull reply's thread (on_reply_thread) it hands the rest to the pool as soon as the
  // calls left would hold that thread longer than kHelperWorthNs. A pull's calls start on
  // its reply's thread when listener_meter_ allows them all there (a listener measured fast,
  // no I/O): a wake-up per pull, and the messages read again on another CPU, cost more than
  // such a run (docs/client.md).
  void ConsumeRunTask(std::shared_ptr<ConsumeRun> run, bool on_reply_thread);
  // About what waking another consume thread costs, in latency, on a loaded machine.
  static constexpr int64_t kHelperWorthNs = CallMeter::kMostNsOnReplyThread;
  // Lends the messages at `offsets` of pq to one listener call and settles them. A failed call's
  // send-back (blocking RPCs) never runs on the reply thread: it goes to the pool.
  void ConsumeConcurrently(const std::shared_ptr<ProcessQueue>& pq, std::span<const int64_t> offsets,
                           bool on_reply_thread = false);
  // After a listener call on the lent `batch`: settles it, sending a failed batch back first.
  void SettleConcurrent(const std::shared_ptr<ProcessQueue>& pq, std::vector<ReceivedMessage>& batch,
                        bool ok);
  void ConsumeOrderly(std::shared_ptr<ProcessQueue> pq);
  bool RunListener(std::vector<ReceivedMessage>& batch);
  void CommitAll();
  // Records pq's consume progress in the offset store, unless pq was dropped (handed over or
  // lost): a batch that finishes after that must not write back. even_if_dropped is for the
  // owner of the drop (Drop, Shutdown), which records the final value itself.
  void UpdateStore(const std::shared_ptr<ProcessQueue>& pq, bool even_if_dropped = false);
  // UpdateStore's write for a caller that holds pq->mu already.
  void UpdateStoreLocked(ProcessQueue& pq, bool even_if_dropped = false);

  const PushConsumerOptions options_;
  std::unique_ptr<ClientInstance> client_;
  std::unique_ptr<IoExecutor> consume_;
  std::unique_ptr<OffsetStore> store_;
  Reachability reach_;  // brokers whose calls failed in transport; reads fail over from them
  MessageListener listener_;
  std::map<std::string, TagFilter> subscriptions_;  // set before Start()
  std::atomic<bool> running_{false};
  std::atomic<bool> started_once_{false};  // Start() got past its checks: never again
  CallMeter listener_meter_;               // the listener's time per call (RunListener)

  std::mutex mu_;
  std::map<MessageQueue, std::shared_ptr<ProcessQueue>> queues_;  // guarded by mu_
  // Orderly queues given away whose broker lock is kept until a listener call ends; not taken
  // again meanwhile (two consume tasks of one queue). Guarded by mu_.
  std::set<MessageQueue> handing_over_;

  static thread_local const PushConsumerImpl* tls_listener_of_;  // set during a listener call

  std::mutex rebalance_mu_;
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool wake_ = false;  // guarded by wake_mu_
  std::thread rebalance_thread_;
  std::thread watch_thread_;
  std::mutex watch_mu_;
  std::shared_ptr<grpc::ClientContext> watch_ctx_;        // guarded by watch_mu_
  DeferredShutdown shutdown_{[this] { ShutdownNow(); }};  // last: waited for before the rest goes
};

}  // namespace mq::client
