// What clients can make a real mqbroker hold in memory: a flood of 4 MiB sends and parked
// pulls against the broker's memory quotas (issue 10 item 5; docs/broker.md "Bounds").
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker_fixture.h"
#include "common/naming.h"
#include "common/rpc/grpc_defaults.h"
#include "grpc_test_util.h"
#include "testutil/proc_status.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;
using Stub = mq::v1::Messaging::Stub;

// Keeps `in_flight` async sends of `body` going on one channel until `total` completed.
class SendFlood {
 public:
  SendFlood(const std::string& target, std::string topic, std::string body, int in_flight, int total)
      : stub_(mq::v1::Messaging::NewStub(rpc::CreateChannel(target))), remaining_(total), total_(total) {
    req_.set_producer_group("flood");
    req_.set_topic(std::move(topic));
    req_.set_queue_id(0);
    *req_.add_messages() = TextMessage(body);
    for (int i = 0; i < in_flight; ++i) Launch();
  }
  ~SendFlood() {
    WaitUntil([this] { return finished_ == started_; }, 60s);
  }
  bool Done(std::chrono::milliseconds timeout) {
    return WaitUntil([this] { return finished_ == started_ && remaining_ <= 0; }, timeout);
  }
  int ok() const { return ok_; }
  int refused() const { return refused_; }
  int over_send_budget() const { return over_send_budget_; }

 private:
  struct Call {
    grpc::ClientContext ctx;
    mq::v1::SendMessageResponse resp;
  };
  void Launch() {
    if (remaining_.fetch_sub(1) <= 0) return;
    ++started_;
    auto* call = new Call();
    call->ctx.set_deadline(std::chrono::system_clock::now() + 60s);
    stub_->async()->SendMessage(&call->ctx, &req_, &call->resp, [this, call](grpc::Status s) {
      delete call;
      if (s.ok()) {
        ++ok_;
      } else {
        ++refused_;  // RESOURCE_EXHAUSTED / CANCELLED when gRPC sheds load
        if (s.error_message().find("sendRequestMemoryQuota") != std::string::npos) ++over_send_budget_;
      }
      Launch();
      ++finished_;
    });
  }

  std::unique_ptr<Stub> stub_;
  mq::v1::SendMessageRequest req_;  // shared by every call: read-only while in flight
  std::atomic<int> remaining_;
  const int total_;
  std::atomic<int> started_{0};
  std::atomic<int> over_send_budget_{0};
  std::atomic<int> finished_{0};
  std::atomic<int> ok_{0};
  std::atomic<int> refused_{0};
};

// `count` consumers that keep a long-polling pull parked on queue 0 of `topic`, re-pulling
// at once after each answer, until destroyed.
class PullStorm {
 public:
  PullStorm(const std::string& target, std::string topic, int count)
      : stub_(mq::v1::Messaging::NewStub(rpc::CreateChannel(target))), topic_(std::move(topic)) {
    for (int i = 0; i < count; ++i) Launch(0);
    retrier_ = std::thread([this] {
      for (int round = 0; round < 100000 && !stop_; ++round) {
        std::vector<int64_t> offsets;
        {
          std::lock_guard lock(mu_);
          offsets.swap(retry_);
        }
        for (int64_t offset : offsets) Launch(offset);
        std::this_thread::sleep_for(50ms);  // backoff pacing, not synchronisation
      }
    });
  }
  ~PullStorm() {
    stop_ = true;
    retrier_.join();
    {
      std::lock_guard lock(mu_);
      for (auto* c : calls_) c->ctx.TryCancel();
    }
    WaitUntil([this] { return active_ == 0; }, 30s);
  }
  int found() const { return found_; }
  int refused() const { return refused_; }

 private:
  struct Call {
    grpc::ClientContext ctx;
    mq::v1::PullMessageRequest req;
    mq::v1::PullMessageResponse resp;
  };
  void Launch(int64_t offset) {
    if (stop_) return;
    auto* call = new Call();
    call->req.set_consumer_group("storm");
    call->req.set_topic(topic_);
    call->req.set_queue_id(0);
    call->req.set_queue_offset(offset);
    call->req.set_max_msg_nums(32);
    call->req.set_suspend_timeout_millis(5000);
    call->ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    {
      std::lock_guard lock(mu_);
      calls_.insert(call);
    }
    ++active_;
    stub_->async()->PullMessage(&call->ctx, &call->req, &call->resp, [this, call](grpc::Status s) {
      int64_t next = call->req.queue_offset();
      if (s.ok()) {
        if (call->resp.status() == mq::v1::FOUND) ++found_;
        next = call->resp.next_begin_offset();
      } else {
        ++refused_;
      }
      {
        std::lock_guard lock(mu_);
        calls_.erase(call);
      }
      delete call;
      if (s.ok()) {
        Launch(next);
      } else {
        // A refused pull is retried a moment later by the retry thread, as a consumer backs off.
        std::lock_guard lock(mu_);
        retry_.push_back(next);
      }
      --active_;
    });
  }

  std::unique_ptr<Stub> stub_;
  const std::string topic_;
  std::atomic<bool> stop_{false};
  std::atomic<int> active_{0};
  std::atomic<int> found_{0};
  std::atomic<int> refused_{0};
  std::mutex mu_;
  std::set<Call*> calls_;       // guarded by mu_
  std::vector<int64_t> retry_;  // guarded by mu_
  std::thread retrier_;
};

// The bound stated in docs/broker.md: a broker's anonymous memory grows by at most
// grpcMemoryQuota + 2 x sendRequestMemoryQuota (a decoded request and its encoded record)
// + 2 x pullResponseMemoryQuota (a built response and its serialized copy) + 192 MiB of
// allocator slack and gRPC's own state (its quota reclaims asynchronously, so a starved
// broker overshoots it for a moment), whatever its clients do. Without the limits the same
// flood takes 0.8-1.7 GiB (docs/benchmarks.md), so the bound still tells the two apart.
TEST(BrokerMemoryTest, FloodOf4MiBSendsAndParkedPullsKeepsAnonymousRssBounded) {
  constexpr int64_t kMiB = 1024 * 1024;
  constexpr int64_t kGrpcQuota = 64 * kMiB;
  constexpr int64_t kPullQuota = 32 * kMiB;
  constexpr int64_t kSendQuota = 32 * kMiB;
  const int64_t bound = kGrpcQuota + 2 * kSendQuota + 2 * kPullQuota + 192 * kMiB;
  TempDir dir;
  std::vector<std::string> sets = {"maxMessageSize=4194304",
                                   "mappedFileSizeCommitLog=134217728",
                                   "grpcMemoryQuota=" + std::to_string(kGrpcQuota),
                                   "pullResponseMemoryQuota=" + std::to_string(kPullQuota),
                                   "sendRequestMemoryQuota=" + std::to_string(kSendQuota),
                                   "maxSuspendedPullRequests=64"};
  // docs/benchmarks.md reruns this test with the limits lifted through this variable
  // (comma-separated key=value pairs that override the ones above).
  if (const char* extra = std::getenv("MQ_FLOOD_EXTRA_SETS")) {
    for (auto& kv : SplitList(extra, ',')) sets.push_back(kv);
  }
  BrokerProcess broker({"", dir.path(), "broker-a", sets});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  const std::string target = "127.0.0.1" + broker.address().substr(broker.address().rfind(':'));
  ASSERT_GRPC_OK(Send(broker.messaging(), "Flood", 0, {TextMessage("warm")}));
  ASSERT_TRUE(WaitForMaxOffset(broker.messaging(), "Flood", 0, 1));
  const pid_t pid = broker.process().pid();
  const int64_t baseline = ProcStatusBytes(pid, "RssAnon");
  ASSERT_GT(baseline, 0);

  std::atomic<bool> sampling{true};
  std::atomic<int64_t> peak{baseline};
  std::thread sampler([&] {
    for (int i = 0; i < 60000 && sampling; ++i) {
      int64_t rss = ProcStatusBytes(pid, "RssAnon");
      if (rss > peak) peak = rss;
      std::this_thread::sleep_for(2ms);
    }
  });
  {
    PullStorm pulls(target, "Flood", 96);  // 64 park, the rest are refused and retry
    std::vector<std::unique_ptr<SendFlood>> floods;
    const std::string body(4 * kMiB, 'f');
    for (int c = 0; c < 4; ++c) floods.push_back(std::make_unique<SendFlood>(target, "Flood", body, 16, 40));
    int ok = 0;
    int over_send_budget = 0;
    for (auto& f : floods) {
      EXPECT_TRUE(f->Done(120s));
      ok += f->ok();
      over_send_budget += f->over_send_budget();
    }
    EXPECT_GT(ok, 0);
    std::printf("flood: sends ok=%d refused=%d (sendRequestMemoryQuota: %d) pulls found=%d refused=%d\n", ok,
                160 - ok, over_send_budget, pulls.found(), pulls.refused());
  }
  sampling = false;
  sampler.join();
  std::printf("broker RssAnon baseline=%lld MiB peak=%lld MiB bound=+%lld MiB\n",
              static_cast<long long>(baseline / kMiB), static_cast<long long>(peak / kMiB),
              static_cast<long long>(bound / kMiB));
#if defined(__SANITIZE_ADDRESS__) || defined(MQ_TSAN)
  // Under a sanitizer (ThreadSanitizer's shadow and history likewise) the figure is the sanitizer's, not the
  // broker's: its allocator ignores mallopt, and shadow memory stays resident for every address range a 4 MiB
  // buffer ever used (measured +263..289 MiB even with quarantine_size_mb=0, +600 MiB with the default
  // quarantine). The flood still runs for the sanitizer's checks; the bound is asserted by the Release build.
  std::printf("sanitizer build: anonymous RSS bound not asserted\n");
#else
  EXPECT_LT(peak - baseline, bound);
  // Once the flood is over, the freed heap goes back to the kernel (the broker trims it every
  // 3 s); glibc alone kept 80-220 MiB of it resident.
  int64_t settled = 0;
  EXPECT_TRUE(
      WaitUntil([&] { return (settled = ProcStatusBytes(pid, "RssAnon")) - baseline < 48 * kMiB; }, 15s))
      << "RssAnon stays at " << settled / kMiB << " MiB after the flood";
#endif
  // Still serving afterwards, once the cancelled pulls' response budget has been released.
  mq::v1::PullMessageResponse r;
  EXPECT_TRUE(WaitUntil([&] { return Pull(broker.messaging(), "after", "Flood", 0, 0, &r).ok(); }, 10s));
  EXPECT_EQ(r.status(), mq::v1::FOUND);
}

}  // namespace
}  // namespace mq::testing
