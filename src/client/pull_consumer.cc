// PullConsumer: blocking pulls issued from Poll(); positions per queue; broker-side commits.
// Reads and commits go to the master of a queue's broker set, or to a slave while the master is
// absent from the route or unreachable (read_target.h). Poll()'s auto-commits are sent without
// waiting for their answers (over the node's fast port when it has one, else gRPC), one at a
// time per queue so they land in order; Commit() and Shutdown() wait for those, then commit
// what is left and wait.
#include "mq/client/pull_consumer.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>

#include "broker_ops.h"
#include "client_instance.h"
#include "common/naming.h"
#include "convert.h"
#include "fast_send_connection.h"
#include "pull_reply.h"
#include "read_target.h"
#include "result_slot.h"
#include "route_info.h"

namespace mq::client {
namespace {

using MinMax = std::pair<int64_t, int64_t>;  // a queue's (min offset, max offset)

// What Poll acts on of one pull's reply, over either port.
struct Pulled {
  mq::v1::PullStatus status = mq::v1::FOUND;
  int64_t next_begin_offset = 0;
  int64_t max_offset = 0;
  int64_t suggest_which_broker_id = 0;
  std::vector<ReceivedMessage> messages;  // a FOUND reply's, before the tag filter
};

// `found` takes a FOUND reply's messages out of it.
template <typename Found>
Result<Pulled> PulledOf(const PullReplyView& reply, const Found& found) {
  Pulled out{reply.status, reply.next_begin_offset, reply.max_offset, reply.suggest_which_broker_id, {}};
  if (reply.status == mq::v1::FOUND) {
    MQ_ASSIGN_OR_RETURN(out.messages, found());
  }
  return out;
}

}  // namespace

class PullConsumerImpl {
 public:
  explicit PullConsumerImpl(PullConsumerOptions options)
      : options_(std::move(options)), client_(std::make_unique<ClientInstance>(options_.client, 1)) {}

  Status Start() {
    MQ_RETURN_IF_ERROR(ValidateName("group", options_.group));
    if (options_.pull_batch_size <= 0) return Status::InvalidArgument("pull_batch_size: must be positive");
    std::lock_guard lock(mu_);
    MQ_RETURN_IF_ERROR(client_->Start());
    running_ = true;
    return Status::OK();
  }

  void Shutdown() {
    std::lock_guard lock(mu_);
    if (!running_) return;
    if (options_.auto_commit) (void)CommitLocked();
    running_ = false;
    client_->Shutdown({}, {});
  }

  Result<std::vector<MessageQueue>> FetchQueues(const std::string& topic) {
    MQ_RETURN_IF_ERROR(ValidateName("topic", topic));
    MQ_ASSIGN_OR_RETURN(auto route, client_->GetRoute(topic));
    return SubscribeQueues(topic, route);
  }

  Status Subscribe(const std::string& topic, const MessageSelector& selector) {
    MQ_ASSIGN_OR_RETURN(filter_, ParseSelector(selector));
    MQ_ASSIGN_OR_RETURN(auto queues, FetchQueues(topic));
    return Assign(queues);
  }

  Status Assign(const std::vector<MessageQueue>& queues) {
    std::lock_guard lock(mu_);
    if (!running_) return Status::FailedPrecondition("consumer: not started");
    std::map<MessageQueue, Position> next;
    for (const auto& q : queues) {
      if (auto it = positions_.find(q); it != positions_.end()) {
        next.insert(*it);
        continue;
      }
      MQ_ASSIGN_OR_RETURN(auto route, client_->GetRoute(q.topic));
      auto addrs = OffsetCandidates(route, q.broker_name, reach_);
      if (addrs.empty()) return Status::NotFound("queue: " + q.ToString() + " has no broker in the route");
      auto offset = CallWithFailover<Result<int64_t>>(
          addrs, reach_, "query offset of " + q.ToString(),
          [&](const std::string& addr) { return QueryCommittedOffset(*client_, addr, options_.group, q); });
      if (!offset.ok()) {
        if (!offset.status().IsNotFound()) return offset.status();
        MQ_ASSIGN_OR_RETURN(auto mm,
                            CallWithFailover<Result<MinMax>>(
                                addrs, reach_, "offsets of " + q.ToString(),
                                [&](const std::string& addr) { return QueueMinMax(*client_, addr, q); }));
        offset = options_.consume_from_where == ConsumeFromWhere::kFirstOffset ? mm.first : mm.second;
      }
      next[q] = Position{*offset, 0, std::make_shared<CommitTrack>(*offset)};
    }
    positions_ = std::move(next);
    return Status::OK();
  }

  Result<std::vector<ReceivedMessage>> Poll(int64_t timeout_ms) {
    std::lock_guard lock(mu_);
    if (!running_) return Status::FailedPrecondition("consumer: not started");
    if (positions_.empty()) return Status::FailedPrecondition("consumer: no queue assigned");
    if (options_.auto_commit) CommitMovedAsyncLocked();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    size_t tried = 0;
    while (true) {
      auto it = positions_.upper_bound(last_);
      if (it == positions_.end()) it = positions_.begin();
      last_ = it->first;
      int64_t left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
              .count();
      // A quick look at every queue first, then long polls of up to 1 s each.
      int64_t hold = ++tried <= positions_.size() ? 0 : std::clamp<int64_t>(left, 0, 1000);
      mq::v1::PullMessageRequest req;
      req.set_consumer_group(options_.group);
      req.set_topic(it->first.topic);
      req.set_queue_id(it->first.queue_id);
      req.set_queue_offset(it->second.next);
      req.set_max_msg_nums(options_.pull_batch_size);
      req.set_subscription(filter_.expression());
      req.set_expression_type(filter_.expression_type());
      req.set_suspend_timeout_millis(hold);
      req.set_client_id(client_->client_id());
      req.set_accept_records(true);
      MQ_ASSIGN_OR_RETURN(auto route, client_->GetRoute(it->first.topic));
      auto addrs = ReadCandidates(route, it->first.broker_name, it->second.suggested, reach_);
      if (addrs.empty())
        return Status::Unavailable("pull " + it->first.ToString() + ": no broker in the route");
      // A node that is down or hung (a dead master) hands the pull to the next one (a slave).
      std::string addr;
      auto r = CallWithFailover<Result<Pulled>>(
          addrs, reach_, "pull " + it->first.ToString(), [&](const std::string& a) {
            addr = a;
            return PullFrom(route, a, req, it->first.broker_name, hold + options_.client.rpc_timeout_ms);
          });
      if (!r.ok()) return r.status().WithContext("pull " + it->first.ToString() + " from " + addr);
      it->second.suggested = r->suggest_which_broker_id;
      std::vector<ReceivedMessage> out;
      if (r->status == mq::v1::OFFSET_ILLEGAL && it->second.next > r->max_offset &&
          MasterAddress(route, it->first.broker_name) != addr) {
        // A slave behind its master lacks our position; its correction would rewind us. Keep
        // the position (RocketMQ's slaves do not correct either) and return what we have.
        return out;
      }
      for (auto& m : r->messages) {
        if (filter_.Matches(m.message.tags)) out.push_back(std::move(m));
      }
      if (r->next_begin_offset >= 0) it->second.next = r->next_begin_offset;
      if (!out.empty() || left <= 0) return out;
    }
  }

  Status Seek(const MessageQueue& q, int64_t offset) {
    std::lock_guard lock(mu_);
    auto it = positions_.find(q);
    if (it == positions_.end()) return Status::NotFound("queue: " + q.ToString() + " is not assigned");
    if (offset < 0) return Status::InvalidArgument("offset: must not be negative");
    it->second.next = offset;
    return Status::OK();
  }

  Status Commit() {
    std::lock_guard lock(mu_);
    return CommitLocked();
  }

  std::vector<MessageQueue> Assignment() {
    std::lock_guard lock(mu_);
    std::vector<MessageQueue> out;
    for (const auto& [q, p] : positions_) out.push_back(q);
    return out;
  }

 private:
  // One pull from the node at `addr`: over its broker's fast port when the route names one and
  // the client may use it (ClientOptions::fast_send), else over gRPC.
  Result<Pulled> PullFrom(const mq::v1::TopicRouteData& route, const std::string& addr,
                          const mq::v1::PullMessageRequest& req, const std::string& broker_name,
                          int64_t timeout_ms) {
    std::shared_ptr<FastSendConnection> fast = client_->FastSendTo(route, addr);
    if (!fast) {
      auto stub = client_->Broker(addr);
      auto reply = BlockingCall<mq::v1::PullMessageResponse>(
          timeout_ms, [&](auto* c, auto* resp) { return stub->PullMessage(c, req, resp); });
      if (!reply.ok()) return reply.status();
      return PulledOf(PullReplyViewOf(&*reply), [&] { return TakePulledMessages(&*reply, broker_name); });
    }
    // The reply frame is valid only while the callback runs, on the connection's IO thread: the
    // messages are decoded there.
    auto slot = std::make_shared<ResultSlot<Result<Pulled>>>();
    const std::string bytes = req.SerializeAsString();
    fast->Call(frame::Method::kPullMessage, {bytes}, timeout_ms,
               [slot, broker_name](Result<std::string_view> r) {
                 std::unique_ptr<mq::v1::PullMessageResponse> parsed;
                 Result<PullReplyView> read = r.ok() ? ReadPullReplyOrParse(*r, &parsed) : r.status();
                 slot->Set(read.ok() ? PulledOf(*read, [&] { return TakePulledMessages(*read, broker_name); })
                                     : Result<Pulled>(read.status()));
               });
    // The connection fails a call without a reply after timeout_ms; this only guards against a
    // stuck IO thread.
    auto got = slot->WaitFor(std::chrono::milliseconds(timeout_ms + 5'000));
    if (!got) return Status::Timeout("pull: no reply from " + fast->addr() + " in time");
    return std::move(*got);
  }

  // A queue's commits: the position the broker last acknowledged, and whether an auto-commit
  // is on its way. Shared with that commit's callback (an internal thread), hence atomics.
  struct CommitTrack {
    explicit CommitTrack(int64_t offset) : acked(offset) {}
    std::atomic<int64_t> acked;
    std::atomic<bool> in_flight{false};
  };

  struct Position {
    int64_t next = 0;       // next offset to pull
    int64_t suggested = 0;  // the broker's suggest_which_broker_id from the last pull
    std::shared_ptr<CommitTrack> commit;
  };

  // Poll()'s auto-commit: sends each moved position to the queue's offset node without waiting
  // for the answer, unless the queue's previous one is still on its way (the next Poll sends
  // the newer position then). A failed one is sent again at the next Poll.
  void CommitMovedAsyncLocked() {
    for (auto& entry : positions_) {
      const auto& q = entry.first;
      const Position& p = entry.second;
      if (p.next == p.commit->acked.load() || p.commit->in_flight.exchange(true)) continue;
      auto route = client_->GetRoute(q.topic);
      auto addrs = route.ok() ? OffsetCandidates(*route, q.broker_name, reach_) : std::vector<std::string>{};
      if (addrs.empty()) {
        p.commit->in_flight.store(false);
        continue;
      }
      {
        std::lock_guard lock(commits_mu_);
        ++commits_in_flight_;
      }
      const std::string addr = addrs.front();
      CommitOffsetAsync(
          *client_, addr, options_.group, q, p.next,
          [this, track = p.commit, offset = p.next, addr](Status s) {
            if (s.ok()) {
              reach_.MarkReachable(addr);
              track->acked.store(offset);
            } else if (IsTransportFailure(s)) {
              reach_.MarkUnreachable(addr);
            }
            track->in_flight.store(false);
            std::lock_guard lock(commits_mu_);
            --commits_in_flight_;
            commits_cv_.notify_all();
          },
          client_->FastSendTo(*route, addr));
    }
  }

  // Waits for Poll()'s auto-commits still on their way, then commits every position the broker
  // has not acknowledged, and waits for each.
  Status CommitLocked() {
    {
      std::unique_lock lock(commits_mu_);
      // Each has an RPC deadline; this only guards against a stuck executor.
      commits_cv_.wait_for(lock, std::chrono::milliseconds(options_.client.rpc_timeout_ms + 5'000),
                           [&] { return commits_in_flight_ == 0; });
    }
    Status first;
    for (auto& entry : positions_) {  // not a structured binding: clang 14 cannot capture one
      const auto& q = entry.first;
      auto& p = entry.second;
      if (p.next == p.commit->acked.load()) continue;
      auto route = client_->GetRoute(q.topic);
      Status s = route.status();
      if (route.ok()) {
        s = CallWithFailover<Status>(
            OffsetCandidates(*route, q.broker_name, reach_), reach_, "commit offset of " + q.ToString(),
            [&](const std::string& addr) { return CommitOffset(*client_, addr, options_.group, q, p.next); });
      }
      if (s.ok()) {
        p.commit->acked.store(p.next);
      } else if (first.ok()) {
        first = s;
      }
    }
    return first;
  }

  const PullConsumerOptions options_;
  std::unique_ptr<ClientInstance> client_;
  mutable std::mutex mu_;
  bool running_ = false;                        // guarded by mu_
  TagFilter filter_;                            // set by Subscribe
  std::map<MessageQueue, Position> positions_;  // guarded by mu_
  MessageQueue last_;                           // round-robin cursor; guarded by mu_
  Reachability reach_;                          // nodes whose calls failed in transport
  std::mutex commits_mu_;                       // guards commits_in_flight_; pairs with commits_cv_
  std::condition_variable commits_cv_;
  int commits_in_flight_ = 0;  // Poll()'s auto-commits not answered yet
};

PullConsumer::PullConsumer(PullConsumerOptions options)
    : impl_(std::make_unique<PullConsumerImpl>(std::move(options))) {}
PullConsumer::~PullConsumer() { Shutdown(); }
Status PullConsumer::Start() { return impl_->Start(); }
void PullConsumer::Shutdown() { impl_->Shutdown(); }
Status PullConsumer::Subscribe(const std::string& topic, const std::string& expression) {
  return impl_->Subscribe(topic, MessageSelector::ByTag(expression));
}
Status PullConsumer::Subscribe(const std::string& topic, const MessageSelector& selector) {
  return impl_->Subscribe(topic, selector);
}
Status PullConsumer::Assign(const std::vector<MessageQueue>& queues) { return impl_->Assign(queues); }
Result<std::vector<MessageQueue>> PullConsumer::FetchQueues(const std::string& topic) {
  return impl_->FetchQueues(topic);
}
Result<std::vector<ReceivedMessage>> PullConsumer::Poll(int64_t timeout_ms) {
  return impl_->Poll(timeout_ms);
}
Status PullConsumer::Seek(const MessageQueue& q, int64_t offset) { return impl_->Seek(q, offset); }
Status PullConsumer::Commit() { return impl_->Commit(); }
std::vector<MessageQueue> PullConsumer::Assignment() const { return impl_->Assignment(); }

}  // namespace mq::client
