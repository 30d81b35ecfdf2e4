// ReplicationTest: a NameServer and helpers that start a master and slaves as real processes over
// temp dirs, send batches, read runtime info and offsets, and check what a broker holds. Shared
// by the replication integration tests.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "broker_fixture.h"
#include "common/file_util.h"
#include "grpc_test_util.h"
#include "namesrv_fixture.h"
#include "testutil/proc_status.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {

using namespace std::chrono_literals;
using Stub = mq::v1::Messaging::Stub;

inline std::map<std::string, std::string> RuntimeInfo(BrokerProcess& b) {
  mq::v1::GetBrokerRuntimeInfoResponse resp;
  grpc::Status s = Call(b.admin(), &mq::v1::BrokerAdmin::Stub::GetBrokerRuntimeInfo,
                        mq::v1::GetBrokerRuntimeInfoRequest(), &resp);
  if (!s.ok()) {
    std::printf("runtime info of %s: %s\n", b.address().c_str(), s.error_message().c_str());
    return {};
  }
  return {resp.table().begin(), resp.table().end()};
}

inline std::string Info(BrokerProcess& b, const std::string& key) {
  auto t = RuntimeInfo(b);
  auto it = t.find(key);
  return it == t.end() ? "" : it->second;
}

// Pulls queue `queue_id` from `from` until `count` messages arrived (or 10 s passed). Pulls
// back to back while messages come; polls only while the queue has nothing new.
inline std::vector<mq::v1::MessageExt> PullN(Stub* stub, const std::string& topic, int32_t queue_id,
                                             int64_t from, size_t count) {
  std::vector<mq::v1::MessageExt> out;
  int64_t offset = from;
  WaitUntil(
      [&] {
        while (out.size() < count) {
          mq::v1::PullMessageResponse resp;
          if (!Pull(stub, "repl_check", topic, queue_id, offset, &resp).ok()) return false;
          if (resp.status() != mq::v1::FOUND) return false;
          for (const auto& m : resp.messages()) out.push_back(m);
          offset = resp.next_begin_offset();
        }
        return true;
      },
      10s);
  return out;
}

inline std::optional<int64_t> QueryOffset(BrokerProcess& b, const std::string& group,
                                          const std::string& topic, int32_t queue_id) {
  mq::v1::QueryConsumerOffsetRequest req;
  req.set_consumer_group(group);
  req.mutable_queue()->set_topic(topic);
  req.mutable_queue()->set_queue_id(queue_id);
  mq::v1::QueryConsumerOffsetResponse resp;
  if (!Call(b.messaging(), &Stub::QueryConsumerOffset, req, &resp).ok()) return std::nullopt;
  return resp.offset();
}

inline grpc::Status CommitOffset(BrokerProcess& b, const std::string& group, const std::string& topic,
                                 int32_t queue_id, int64_t offset) {
  mq::v1::UpdateConsumerOffsetRequest req;
  req.set_consumer_group(group);
  req.mutable_queue()->set_topic(topic);
  req.mutable_queue()->set_queue_id(queue_id);
  req.set_offset(offset);
  mq::v1::UpdateConsumerOffsetResponse resp;
  return Call(b.messaging(), &Stub::UpdateConsumerOffset, req, &resp);
}

struct Sent {
  int32_t queue_id;
  mq::v1::SendMessageResponse response;
  std::vector<std::string> bodies;
};

class ReplicationTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(namesrv_.started()) << namesrv_.process().ReadLog(); }

  std::unique_ptr<BrokerProcess> StartBroker(const std::string& dir, const std::string& role, int id,
                                             std::vector<std::string> extra = {}) {
    std::vector<std::string> sets = {"brokerRole=" + role, "brokerId=" + std::to_string(id), "haListenPort=0",
                                     "syncFlushTimeout=3000"};
    sets.insert(sets.end(), extra.begin(), extra.end());
    auto b = std::make_unique<BrokerProcess>(BrokerOptions{namesrv_.address(), dir, "broker-a", sets});
    EXPECT_TRUE(b->Start()) << b->process().ReadLog();
    return b;
  }
  std::unique_ptr<BrokerProcess> StartMaster(const std::string& role = "ASYNC_MASTER") {
    return StartBroker(master_dir_.path(), role, 0);
  }
  std::unique_ptr<BrokerProcess> StartSlave(const TempDir& dir, int id) {
    return StartBroker(dir.path(), "SLAVE", id);
  }
  static bool WaitSlaves(BrokerProcess& master, int n, BrokerProcess* slave = nullptr) {
    bool ok = WaitUntil([&] { return Info(master, "haSlaveCount") == std::to_string(n); }, 15s);
    if (!ok) {
      for (const auto& [k, v] : RuntimeInfo(master)) std::printf("  master %s=%s\n", k.c_str(), v.c_str());
      std::printf("%s\n", master.process().ReadLog().c_str());
      if (slave != nullptr) std::printf("SLAVE:\n%s\n", slave->process().ReadLog().c_str());
    }
    return ok;
  }

  // Sends `batches` batches of `per_batch` messages of `size` bytes round-robin over `queues`.
  static std::vector<Sent> SendBatches(BrokerProcess& b, const std::string& topic, int batches, int per_batch,
                                       size_t size, int queues, const std::string& tag) {
    std::vector<Sent> out;
    for (int i = 0; i < batches; ++i) {
      Sent s;
      s.queue_id = i % queues;
      std::vector<mq::v1::Message> msgs;
      for (int j = 0; j < per_batch; ++j) {
        std::string body = tag + "-" + std::to_string(i) + "-" + std::to_string(j) + "-";
        body.resize(std::max(size, body.size()), 'x');
        s.bodies.push_back(body);
        msgs.push_back(TextMessage(body, tag));
      }
      grpc::Status st = Send(b.messaging(), topic, s.queue_id, msgs, &s.response);
      EXPECT_TRUE(st.ok()) << st.error_message();
      if (!st.ok()) break;
      out.push_back(std::move(s));
    }
    return out;
  }

  // Runs a stand-alone master on `dir` that stores `batches` x `per_batch` messages of `size`
  // bytes of `fill` on topic "Seed" queue 0, stops it and returns its commit log end.
  std::string SeedStandalone(const TempDir& dir, int batches, int per_batch, size_t size, char fill) {
    BrokerProcess standalone(BrokerOptions{"", dir.path(), "broker-a", {"haListenPort=0"}});
    EXPECT_TRUE(standalone.Start()) << standalone.process().ReadLog();
    for (int i = 0; i < batches; ++i) {
      std::vector<mq::v1::Message> msgs(static_cast<size_t>(per_batch), TextMessage(std::string(size, fill)));
      mq::v1::SendMessageResponse resp;
      EXPECT_TRUE(Send(standalone.messaging(), "Seed", 0, msgs, &resp).ok());
      EXPECT_EQ(resp.status(), mq::v1::SEND_OK);
    }
    std::string end = Info(standalone, "commitLogMaxOffset");
    EXPECT_EQ(standalone.Stop(), 0);
    std::filesystem::remove(dir.Sub("ready.1"));  // the fixture numbers ready files per process
    return end;
  }
  // `n` single sends shaped as SeedStandalone's with per_batch = 1; a SYNC_MASTER without an
  // in-sync slave stores them and answers SLAVE_NOT_AVAILABLE.
  static void SendShaped(BrokerProcess& b, int n, size_t size, char fill) {
    for (int i = 0; i < n; ++i) {
      mq::v1::SendMessageResponse resp;
      ASSERT_GRPC_OK(Send(b.messaging(), "Seed", 0, {TextMessage(std::string(size, fill))}, &resp));
      EXPECT_EQ(resp.status(), mq::v1::SLAVE_NOT_AVAILABLE);
    }
  }
  // Waits until the master reports slave 1 refused for `status`; checks the slave reports the
  // same and holds no stream. Returns the master's reason.
  static std::string WaitRefused(BrokerProcess& master, BrokerProcess& slave, const std::string& status) {
    const bool refused =
        WaitUntil([&] { return Info(master, "haRefusedReason_1").rfind(status + ": ", 0) == 0; }, 15s);
    if (!refused) {
      for (const auto& [k, v] : RuntimeInfo(master)) std::printf("  master %s=%s\n", k.c_str(), v.c_str());
      std::printf("SLAVE:\n%s\n", slave.process().ReadLog().c_str());
    }
    EXPECT_TRUE(refused) << "no " << status << " refusal";
    EXPECT_EQ(Info(master, "haSlaveCount"), "0");
    EXPECT_FALSE(Info(master, "haRefusedAddr_1").empty());
    EXPECT_TRUE(WaitUntil([&] { return Info(slave, "haRefused").rfind(status + ": ", 0) == 0; }))
        << Info(slave, "haRefused");
    return Info(master, "haRefusedReason_1");
  }
  // With a slave 1 a send succeeds; once it is killed and the master has dropped it, every
  // send fails.
  void ExpectSendsFailOnceTheSlaveIsGone(BrokerProcess& master, const std::string& topic) {
    auto slave = StartSlave(slave1_dir_, 1);
    ASSERT_TRUE(WaitSlaves(master, 1, slave.get()));
    mq::v1::SendMessageResponse resp;
    ASSERT_GRPC_OK(Send(master.messaging(), topic, 0, {TextMessage("held")}, &resp));
    EXPECT_EQ(resp.status(), mq::v1::SEND_OK);
    slave->process().Kill();
    ASSERT_TRUE(WaitSlaves(master, 0));
    ExpectEverySendFails(master, topic);
  }
  // Every send fails (SLAVE_NOT_AVAILABLE): singles and a batch.
  static void ExpectEverySendFails(BrokerProcess& master, const std::string& topic) {
    for (int i = 0; i < 3; ++i) {
      mq::v1::SendMessageResponse resp;
      ASSERT_GRPC_OK(Send(master.messaging(), topic, 0, {TextMessage("x" + std::to_string(i))}, &resp));
      EXPECT_EQ(resp.status(), mq::v1::SLAVE_NOT_AVAILABLE);
    }
    mq::v1::SendMessageResponse resp;
    ASSERT_GRPC_OK(Send(master.messaging(), topic, 1, {TextMessage("b1"), TextMessage("b2")}, &resp));
    EXPECT_EQ(resp.status(), mq::v1::SLAVE_NOT_AVAILABLE);
  }
  // Keeps sending small messages while the refused slave 1 reconnects twice more; none may
  // be acknowledged (bounded: at most 200 sends / 15 s).
  static void ExpectSendsFailAcrossRefusals(BrokerProcess& master, const std::string& topic) {
    const int64_t before = std::stoll("0" + Info(master, "haRefusedCount_1"));
    int sends = 0;
    int acknowledged = 0;
    const bool reconnected = WaitUntil(
        [&] {
          if (sends < 200) {
            mq::v1::SendMessageResponse resp;
            if (Send(master.messaging(), topic, 0, {TextMessage("t")}, &resp).ok()) {
              ++sends;
              if (resp.status() != mq::v1::SLAVE_NOT_AVAILABLE) ++acknowledged;
            }
          }
          return std::stoll("0" + Info(master, "haRefusedCount_1")) >= before + 2;
        },
        15s, 20ms);
    EXPECT_TRUE(reconnected) << "refused count stayed at " << before;
    EXPECT_GT(sends, 0);
    EXPECT_EQ(acknowledged, 0) << "of " << sends << " sends";
  }

  // Prints mean and p99 latency of 500 sequential 1 KiB sends (informational).
  static void LatencyOfSequentialSends(BrokerProcess& b, const char* what) {
    std::vector<double> ms;
    for (int i = 0; i < 500; ++i) {
      auto t = std::chrono::steady_clock::now();
      mq::v1::SendMessageResponse resp;
      ASSERT_GRPC_OK(Send(b.messaging(), "Latency", 0, {TextMessage(std::string(1024, 'l'))}, &resp));
      ASSERT_EQ(resp.status(), mq::v1::SEND_OK);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
    }
    double sum = 0;
    for (double v : ms) sum += v;
    std::sort(ms.begin(), ms.end());
    std::printf("[ replication ] %s: 500 sequential 1 KiB sends, mean %.2f ms, p99 %.2f ms\n", what,
                sum / static_cast<double>(ms.size()), ms[ms.size() * 99 / 100]);
  }

  // Every acknowledged message is on `b` with the same body, ids and queue offset.
  static void ExpectAllReadable(BrokerProcess& b, const std::string& topic, const std::vector<Sent>& sent) {
    std::map<int32_t, std::map<int64_t, std::pair<std::string, std::string>>> want;  // q -> off -> body,id
    for (const auto& s : sent) {
      for (int i = 0; i < s.response.entries_size(); ++i) {
        want[s.queue_id][s.response.entries(i).queue_offset()] = {s.bodies[static_cast<size_t>(i)],
                                                                  s.response.entries(i).msg_id()};
      }
    }
    for (const auto& [q, msgs] : want) {
      auto got = PullN(b.messaging(), topic, q, 0, msgs.size());
      ASSERT_GE(got.size(), msgs.size()) << "queue " << q << " on " << b.address();
      for (const auto& m : got) {
        auto it = msgs.find(m.queue_offset());
        ASSERT_NE(it, msgs.end()) << "unexpected queue offset " << m.queue_offset();
        EXPECT_EQ(m.message().body(), it->second.first);
        EXPECT_EQ(m.msg_id(), it->second.second);
      }
    }
  }

  // Sends a prepared (half) message `body` to queue 0 of `topic` on `master` and returns the
  // request that commits it.
  static mq::v1::EndTransactionRequest SendHalf(BrokerProcess& master, const std::string& topic,
                                                const std::string& body) {
    mq::v1::SendMessageResponse sent;
    mq::v1::EndTransactionRequest end;
    grpc::Status s =
        SendPrepared(master.messaging(), "txn_group", topic, TextMessage(body, "TagA", "k1"), &sent);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(sent.status(), mq::v1::SEND_OK);
    if (sent.entries_size() != 1) {
      ADD_FAILURE() << "the half was not stored";
      return end;
    }
    end.set_producer_group("txn_group");
    end.set_transaction_id(sent.entries(0).msg_id());
    end.set_commit_log_offset(sent.entries(0).commit_log_offset());
    end.set_resolution(mq::v1::TRANSACTION_COMMIT);
    return end;
  }

  NamesrvProcess namesrv_;
  TempDir master_dir_;
  TempDir slave1_dir_;
  TempDir slave2_dir_;
};

}  // namespace mq::testing
