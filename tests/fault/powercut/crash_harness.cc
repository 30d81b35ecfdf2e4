#include "fault/powercut/crash_harness.h"

#include <grpcpp/grpcpp.h>
#include <sys/wait.h>

#include <algorithm>
#include <random>

#include "grpc_test_util.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using Admin = mq::v1::BrokerAdmin::Stub;
using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;

}  // namespace

std::string CrashBody(const std::string& id) {
  std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>()(id)));
  std::string body = id + "|";
  size_t filler = 64 + rng() % 700;  // varying sizes so records straddle pages and segments
  for (size_t i = 0; i < filler; ++i) body.push_back(static_cast<char>('a' + rng() % 26));
  return body;
}

std::string CheckCrashBody(const std::string& body) {
  size_t bar = body.find('|');
  if (bar == std::string::npos) return "no id in body of " + std::to_string(body.size()) + " bytes";
  return CrashBody(body.substr(0, bar)) == body ? "" : "torn or corrupt body of " + body.substr(0, bar);
}

CrashHarness::CrashHarness(bool sync_flush, std::vector<std::string> extra_sets)
    : mount_(dir_.path()), sync_flush_(sync_flush) {
  std::vector<std::string> sets = {
      std::string("flushDiskType=") + (sync_flush ? "SYNC_FLUSH" : "ASYNC_FLUSH"),
      // Small segments: commit log and consume queues roll every few hundred messages.
      "mappedFileSizeCommitLog=131072", "mappedFileSizeConsumeQueue=2000", "maxMessageSize=2048",
      "flushIntervalCommitLog=100", "autoCreateTopicEnable=false",
      // Index syncs within a run, and cuts that find the index unsynced for several checkpoints.
      "flushIntervalIndex=1000"};
  sets.insert(sets.end(), extra_sets.begin(), extra_sets.end());
  BrokerOptions options{"", dir_.Sub("broker"), "broker-a", sets};
  options.store_path = store_root();
  broker_ = std::make_unique<BrokerProcess>(options);
}

CrashHarness::~CrashHarness() {
  StopLoad();
  broker_->process().Kill();
}

AssertionResult CrashHarness::StartBroker() {
  // A second start would orphan the running broker (and keep the old mount busy).
  if (broker_->process().running()) return AssertionFailure() << "broker already running";
  if (!broker_->Start())
    return AssertionFailure() << "broker did not start:\n" << broker_->process().ReadLog();
  if (!mount_.SetVictim(broker_->process().pid())) return AssertionFailure() << "cannot set the cut's victim";
  if (!topic_created_) {
    mq::v1::CreateTopicRequest req;
    req.mutable_config()->set_topic_name(kTopic);
    req.mutable_config()->set_read_queue_nums(kQueues);
    req.mutable_config()->set_write_queue_nums(kQueues);
    req.mutable_config()->set_perm(6);
    mq::v1::CreateTopicResponse resp;
    grpc::Status s = Call(broker_->admin(), &Admin::CreateTopic, req, &resp);
    if (!s.ok()) return AssertionFailure() << "CreateTopic: " << s.error_message();
    topic_created_ = true;
  }
  return AssertionSuccess();
}

void CrashHarness::StartLoad(int threads) {
  stop_ = false;
  ++round_;
  for (int t = 0; t < threads; ++t) producers_.emplace_back([this, t] { Produce(t); });
}

void CrashHarness::StopLoad() {
  stop_ = true;
  for (auto& t : producers_) t.join();
  producers_.clear();
}

size_t CrashHarness::acked_count() {
  std::lock_guard<std::mutex> lock(mu_);
  return acked_.size();
}

void CrashHarness::Produce(int thread_index) {
  // Bounded: a producer stops at the cut (sends fail) or after 20000 sends.
  for (int i = 0; i < 20000 && !stop_; ++i) {
    std::string id =
        "r" + std::to_string(round_) + "-t" + std::to_string(thread_index) + "-" + std::to_string(i);
    int32_t queue = static_cast<int32_t>((i + thread_index) % kQueues);
    mq::v1::SendMessageResponse resp;
    grpc::Status s =
        Send(broker_->messaging(), kTopic, queue, {TextMessage(CrashBody(id), "tag", id)}, &resp);
    if (!s.ok() || resp.status() != mq::v1::SEND_OK || resp.entries_size() != 1) {
      ++refused_;
      continue;
    }
    AckedMessage a{queue,
                   resp.entries(0).queue_offset(),
                   resp.entries(0).msg_id(),
                   resp.entries(0).offset_msg_id(),
                   CrashBody(id),
                   std::chrono::steady_clock::now()};
    std::lock_guard<std::mutex> lock(mu_);
    acked_.push_back(std::move(a));
  }
}

void PrintTo(const CutMoment& m, std::ostream* os) {
  *os << m.name << " (" << m.op << " " << m.glob << " #" << m.nth << ")";
}

std::string CutMomentName(const ::testing::TestParamInfo<CutMoment>& info) { return info.param.name; }

AssertionResult CrashHarness::CutUnderLoadAt(const CutMoment& m, int load_threads) {
  if (!mount_.Arm(m.op, m.glob, m.nth)) return ::testing::AssertionFailure() << m.name << ": arm failed";
  StartLoad(load_threads);
  if (!mount_.WaitFrozen(std::chrono::seconds(30))) {
    return ::testing::AssertionFailure()
           << m.name << " never reached: " << mount_.Command("status") << " acked=" << acked_count();
  }
  if (AssertionResult cut = PowerCut(); !cut) return cut << " (" << m.name << ")";
  if (AssertionResult up = StartBroker(); !up) return up << " (" << m.name << " restart)";
  return ::testing::AssertionSuccess();
}

AssertionResult CrashHarness::PowerCut() {
  stop_ = true;  // producers finish their in-flight send and stop
  if (mount_.Command("status").find(" frozen=1") == std::string::npos) {
    cut_at_ = std::chrono::steady_clock::now();
    if (!mount_.Cut()) return AssertionFailure() << "cut command failed";
  } else {
    cut_at_ = std::chrono::steady_clock::now();  // an armed cut happened at or before now
  }
  StopLoad();
  // The victim was SIGKILLed by the cut itself; reap it before the old mount can go.
  if (!broker_->process().Wait(std::chrono::seconds(20)))
    return AssertionFailure() << "broker survived the cut";
  mount_.Heal();
  if (!mount_.Remount()) return AssertionFailure() << "remount failed: " << mount_.Log();
  return AssertionSuccess();
}

AssertionResult CrashHarness::PullAll(int32_t queue_id, std::vector<mq::v1::MessageExt>* out) {
  mq::v1::GetQueueOffsetsRequest oreq;
  oreq.mutable_queue()->set_topic(kTopic);
  oreq.mutable_queue()->set_queue_id(queue_id);
  mq::v1::GetQueueOffsetsResponse offsets;
  grpc::Status s = Call(broker_->messaging(), &mq::v1::Messaging::Stub::GetQueueOffsets, oreq, &offsets);
  if (!s.ok()) return AssertionFailure() << "GetQueueOffsets: " << s.error_message();
  int64_t next = offsets.min_offset();
  // Bounded by the queue's size: each pull returns at least one message or ends the loop.
  while (next < offsets.max_offset()) {
    mq::v1::PullMessageResponse resp;
    s = Pull(broker_->messaging(), "verifier", kTopic, queue_id, next, &resp);
    if (!s.ok())
      return AssertionFailure() << "pull q" << queue_id << "@" << next << ": " << s.error_message();
    if (resp.status() != mq::v1::FOUND || resp.messages_size() == 0) {
      return AssertionFailure() << "q" << queue_id << "@" << next << " below max " << offsets.max_offset()
                                << " served status " << resp.status();
    }
    for (const auto& m : resp.messages()) out->push_back(m);
    next = resp.next_begin_offset();
  }
  return AssertionSuccess();
}

AssertionResult CrashHarness::VerifyEveryAckPresent() {
  std::map<int32_t, int64_t> needed;  // queue -> max acked offset + 1
  std::vector<AckedMessage> acked;
  {
    std::lock_guard<std::mutex> lock(mu_);
    acked = acked_;
  }
  for (const auto& a : acked) needed[a.queue_id] = std::max(needed[a.queue_id], a.queue_offset + 1);
  for (const auto& [q, n] : needed) {
    if (!WaitForMaxOffset(broker_->messaging(), kTopic, q, n)) {
      return AssertionFailure() << "queue " << q << " never reached the acknowledged offset " << n - 1;
    }
  }
  std::map<std::pair<int32_t, int64_t>, mq::v1::MessageExt> served;
  for (int32_t q = 0; q < kQueues; ++q) {
    std::vector<mq::v1::MessageExt> msgs;
    if (auto r = PullAll(q, &msgs); !r) return r;
    for (auto& m : msgs) {
      if (std::string bad = CheckCrashBody(m.message().body()); !bad.empty()) {
        return AssertionFailure() << "q" << q << "@" << m.queue_offset() << " served " << bad;
      }
      served[{q, m.queue_offset()}] = std::move(m);
    }
  }
  for (const auto& a : acked) {
    auto it = served.find({a.queue_id, a.queue_offset});
    if (it == served.end()) {
      return AssertionFailure() << "acknowledged message " << a.body.substr(0, a.body.find('|')) << " at q"
                                << a.queue_id << "@" << a.queue_offset << " is lost (" << acked.size()
                                << " acked in all)";
    }
    const auto& m = it->second;
    if (m.message().body() != a.body || m.msg_id() != a.msg_id || m.offset_msg_id() != a.offset_msg_id) {
      return AssertionFailure() << "q" << a.queue_id << "@" << a.queue_offset << " holds "
                                << m.message().body().substr(0, 20) << " msgId " << m.msg_id()
                                << ", acknowledged " << a.body.substr(0, 20) << " msgId " << a.msg_id;
    }
  }
  return AssertionSuccess();
}

AssertionResult CrashHarness::VerifyConsistentPrefix(std::chrono::milliseconds durable_after) {
  std::vector<AckedMessage> acked;
  {
    std::lock_guard<std::mutex> lock(mu_);
    acked.swap(acked_);  // the next round starts from what survived
  }
  // The dispatcher rebuilds queues from the recovered log; wait until it stops growing.
  std::map<int32_t, std::vector<mq::v1::MessageExt>> queues;
  for (int32_t q = 0; q < kQueues; ++q) {
    int64_t last = -1;
    if (!WaitUntil(
            [&] {
              std::vector<mq::v1::MessageExt> msgs;
              if (!PullAll(q, &msgs)) return false;
              int64_t n = static_cast<int64_t>(msgs.size());
              bool stable = n == last;
              last = n;
              if (stable) queues[q] = std::move(msgs);
              return stable;
            },
            std::chrono::seconds(10), std::chrono::milliseconds(200))) {
      return AssertionFailure() << "queue " << q << " did not settle after restart";
    }
  }
  for (auto& [q, msgs] : queues) {
    std::map<std::string, int64_t> offset_of;  // body -> served queue offset
    int64_t expect = msgs.empty() ? 0 : msgs.front().queue_offset();
    int64_t last_phys = -1;
    for (const auto& m : msgs) {
      if (m.queue_offset() != expect) return AssertionFailure() << "q" << q << " gap at " << expect;
      if (std::string bad = CheckCrashBody(m.message().body()); !bad.empty()) {
        return AssertionFailure() << "q" << q << "@" << m.queue_offset() << " served " << bad;
      }
      if (m.commit_log_offset() <= last_phys) return AssertionFailure() << "q" << q << " log order broken";
      last_phys = m.commit_log_offset();
      offset_of[m.message().body()] = m.queue_offset();
      ++expect;
    }
    const auto& before = survived_[q];
    for (size_t i = 0; i < before.size(); ++i) {
      if (i >= msgs.size() || msgs[i].message().body() != before[i]) {
        return AssertionFailure() << "q" << q << "@" << i << " survived an earlier cut but is gone now";
      }
    }
    // Acked messages of this round, in queue-offset order: the survivors are a prefix.
    std::vector<const AckedMessage*> mine;
    for (const auto& a : acked) {
      if (a.queue_id == q) mine.push_back(&a);
    }
    std::sort(mine.begin(), mine.end(), [](auto* x, auto* y) { return x->queue_offset < y->queue_offset; });
    bool lost_one = false;
    for (const auto* a : mine) {
      auto it = offset_of.find(a->body);
      bool present = it != offset_of.end();
      if (present && it->second != a->queue_offset) {
        return AssertionFailure() << "q" << q << ": acked at " << a->queue_offset << ", served at "
                                  << it->second;
      }
      if (present && lost_one) return AssertionFailure() << "q" << q << ": survivors are not a prefix";
      if (!present && cut_at_ - a->acked_at > durable_after) {
        return AssertionFailure()
               << "q" << q << "@" << a->queue_offset << " acked "
               << std::chrono::duration_cast<std::chrono::milliseconds>(cut_at_ - a->acked_at).count()
               << " ms before the cut is lost";
      }
      lost_one = lost_one || !present;
      lost_acked_ += present ? 0 : 1;
    }
    // The index agrees with the log: the newest survivor is found by its key.
    if (!msgs.empty()) {
      const std::string& body = msgs.back().message().body();
      mq::v1::QueryMessageRequest req;
      req.set_key(body.substr(0, body.find('|')));
      req.set_topic(kTopic);
      req.set_end_timestamp(INT64_MAX);
      mq::v1::QueryMessageResponse resp;
      grpc::Status s = Call(broker_->admin(), &Admin::QueryMessage, req, &resp);
      if (!s.ok() || resp.messages_size() != 1 || resp.messages(0).message().body() != body) {
        return AssertionFailure() << "index lookup of " << req.key() << ": " << s.error_message() << " found "
                                  << resp.messages_size();
      }
    }
    std::vector<std::string> bodies;
    for (const auto& m : msgs) bodies.push_back(m.message().body());
    survived_[q] = std::move(bodies);
  }
  return AssertionSuccess();
}

}  // namespace mq::testing
