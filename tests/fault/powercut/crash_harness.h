// CrashHarness: the real mqbroker with its store on a PowercutMount, producers that record
// every acknowledged send, power cuts, restarts, and the checks that follow a cut.
//
// Message bodies verify themselves: "<id>|<filler derived from id>", so any served message
// can be checked byte for byte, acknowledged or not (a send whose ack was lost in the cut may
// legitimately survive). Each message also carries its id as a key, for the index check.
//
// Threads: the producer threads (StartLoad..StopLoad) only append to acked_ under mu_;
// everything else runs on the test thread. One harness per test.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker_fixture.h"
#include "fault/powercut/powercut_mount.h"
#include "testutil/temp_dir.h"

namespace mq::testing {

struct AckedMessage {
  int32_t queue_id = 0;
  int64_t queue_offset = 0;
  std::string msg_id, offset_msg_id, body;
  std::chrono::steady_clock::time_point acked_at;
};

// A named moment to cut at: just before the `nth` operation `op` on a path matching `glob`
// (PowercutMount::Arm). A test parameter of the crash tests.
struct CutMoment {
  const char* name;
  const char* op;
  const char* glob;
  int nth;
};
void PrintTo(const CutMoment& m, std::ostream* os);
// The test name suffix of a CutMoment parameter.
std::string CutMomentName(const ::testing::TestParamInfo<CutMoment>& info);

class CrashHarness {
 public:
  static constexpr int kQueues = 4;
  static constexpr char kTopic[] = "PowerCut";

  explicit CrashHarness(bool sync_flush, std::vector<std::string> extra_sets = {});
  ~CrashHarness();

  bool usable() const { return mount_.mounted(); }
  const std::string& skip_reason() const { return mount_.skip_reason(); }
  PowercutMount& mount() { return mount_; }
  BrokerProcess& broker() { return *broker_; }
  std::string store_root() const { return mount_.root() + "/store"; }

  // Starts (or restarts) the broker and makes it the cut's victim; the first start creates
  // the topic through the admin API (so it is durable before any send).
  ::testing::AssertionResult StartBroker();
  void StartLoad(int threads);
  void StopLoad();
  size_t acked_count();
  // Cuts now (unless a cut already happened, e.g. an armed one), reaps the broker, remounts.
  ::testing::AssertionResult PowerCut();
  // Arms the moment, runs `load_threads` producers until it is reached, cuts and restarts.
  ::testing::AssertionResult CutUnderLoadAt(const CutMoment& m, int load_threads);

  // SYNC_FLUSH: every acknowledged message is served at its queue offset, byte-exact, with
  // its msgId and offsetMsgId; every served message is intact.
  ::testing::AssertionResult VerifyEveryAckPresent();
  // ASYNC_FLUSH: each queue is a gap-free run of intact messages; what survived of the acked
  // messages is a prefix per queue; messages acked `durable_after` before the cut survived;
  // everything seen after earlier cuts is still there; the index finds survivors by key.
  ::testing::AssertionResult VerifyConsistentPrefix(std::chrono::milliseconds durable_after);

  int64_t sends_refused() const { return refused_.load(); }
  // ASYNC_FLUSH: acknowledged messages the cuts took (allowed, within the flush bound).
  int64_t lost_acked() const { return lost_acked_; }

 private:
  void Produce(int thread_index);
  // Everything the broker serves for a queue, from its min offset up.
  ::testing::AssertionResult PullAll(int32_t queue_id, std::vector<mq::v1::MessageExt>* out);

  TempDir dir_;
  PowercutMount mount_;
  bool sync_flush_;
  std::unique_ptr<BrokerProcess> broker_;
  bool topic_created_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> refused_{0};
  std::vector<std::thread> producers_;
  std::mutex mu_;
  std::vector<AckedMessage> acked_;  // GUARDED_BY(mu_)
  int round_ = 0;
  std::chrono::steady_clock::time_point cut_at_;
  // ASYNC_FLUSH: per queue, the bodies found after the previous cut.
  std::map<int32_t, std::vector<std::string>> survived_;
  int64_t lost_acked_ = 0;
};

// The self-verifying body for `id`.
std::string CrashBody(const std::string& id);
// Empty if `body` is intact, else what is wrong.
std::string CheckCrashBody(const std::string& body);

}  // namespace mq::testing
