// Master/Slave replication with real processes: 1 NameServer, a master and 1-2 slaves
// (ASYNC_MASTER / SYNC_MASTER), kill -9 and restarts. See docs/replication.md.
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
#include "process_pause.h"
#include "testutil/proc_status.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;
using Stub = mq::v1::Messaging::Stub;

std::map<std::string, std::string> RuntimeInfo(BrokerProcess& b) {
  mq::v1::GetBrokerRuntimeInfoResponse resp;
  grpc::Status s = Call(b.admin(), &mq::v1::BrokerAdmin::Stub::GetBrokerRuntimeInfo,
                        mq::v1::GetBrokerRuntimeInfoRequest(), &resp);
  if (!s.ok()) {
    std::printf("runtime info of %s: %s\n", b.address().c_str(), s.error_message().c_str());
    return {};
  }
  return {resp.table().begin(), resp.table().end()};
}

std::string Info(BrokerProcess& b, const std::string& key) {
  auto t = RuntimeInfo(b);
  auto it = t.find(key);
  return it == t.end() ? "" : it->second;
}

// Pulls queue `queue_id` from `from` until `count` messages arrived (or 10 s passed). Pulls
// back to back while messages come; polls only while the queue has nothing new.
std::vector<mq::v1::MessageExt> PullN(Stub* stub, const std::string& topic, int32_t queue_id, int64_t from,
                                      size_t count) {
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

std::optional<int64_t> QueryOffset(BrokerProcess& b, const std::string& group, const std::string& topic,
                                   int32_t queue_id) {
  mq::v1::QueryConsumerOffsetRequest req;
  req.set_consumer_group(group);
  req.mutable_queue()->set_topic(topic);
  req.mutable_queue()->set_queue_id(queue_id);
  mq::v1::QueryConsumerOffsetResponse resp;
  if (!Call(b.messaging(), &Stub::QueryConsumerOffset, req, &resp).ok()) return std::nullopt;
  return resp.offset();
}

grpc::Status CommitOffset(BrokerProcess& b, const std::string& group, const std::string& topic,
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
    mq::v1::SendMessageRequest req;
    req.set_producer_group("txn_group");
    req.set_topic(topic);
    req.set_queue_id(0);
    req.set_transaction_prepared(true);
    *req.add_messages() = TextMessage(body, "TagA", "k1");
    mq::v1::SendMessageResponse sent;
    mq::v1::EndTransactionRequest end;
    grpc::Status s = Call(master.messaging(), &Stub::SendMessage, req, &sent);
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

TEST_F(ReplicationTest, AsyncMasterReplicatesLagDrainsAndKilledSlaveCatchesUp) {
  auto master = StartMaster();
  auto slave = StartSlave(slave1_dir_, 1);
  ASSERT_TRUE(WaitSlaves(*master, 1)) << slave->process().ReadLog();
  auto stream_threads = [&] { return ThreadNames(master->process().pid())["mq-ha-stream"]; };
  EXPECT_EQ(stream_threads(), 1);
  LatencyOfSequentialSends(*master, "ASYNC_MASTER, 1 slave");

  // ~12 MiB in 1 KiB messages: crosses several 4 MiB commit log segments.
  auto t0 = std::chrono::steady_clock::now();
  auto sent = SendBatches(*master, "ReplAsync", 400, 32, 1024, 4, "a");
  ASSERT_EQ(sent.size(), 400u);
  EXPECT_EQ(sent.front().response.status(), mq::v1::SEND_OK);
  const std::string master_max = Info(*master, "commitLogMaxOffset");
  ASSERT_TRUE(WaitUntil([&] { return Info(*slave, "commitLogMaxOffset") == master_max; }, 20s));
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ replication ] %s bytes sent and replicated in %.2f s (%.1f MB/s end to end)\n",
              master_max.c_str(), secs, std::stod(master_max) / secs / 1e6);
  ASSERT_TRUE(WaitUntil([&] { return Info(*master, "haLagBytes_1") == "0"; }));
  EXPECT_EQ(Info(*master, "haSlaveAckOffset_1"), master_max);
  EXPECT_EQ(Info(*master, "haLagTimeMills_1"), "0");
  ASSERT_TRUE(WaitUntil([&] { return Info(*slave, "haLagBytes") == "0"; }));
  EXPECT_EQ(Info(*slave, "haConnected"), "true");
  EXPECT_FALSE(Info(*slave, "haMasterAddress").empty());
  ASSERT_TRUE(WaitUntil([&] { return HasTopic(*slave, "ReplAsync"); }));
  ExpectAllReadable(*slave, "ReplAsync", sent);

  // kill -9 the slave, keep writing, restart it: it resumes from its own offset.
  slave->process().Kill();
  ASSERT_TRUE(WaitSlaves(*master, 0));
  EXPECT_TRUE(WaitUntil([&] { return stream_threads() == 0; })) << "the dead slave's stream thread stayed";
  auto more = SendBatches(*master, "ReplAsync", 200, 32, 1024, 4, "b");
  const std::string master_max2 = Info(*master, "commitLogMaxOffset");
  ASSERT_TRUE(slave->Start()) << slave->process().ReadLog();
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitUntil([&] { return Info(*slave, "commitLogMaxOffset") == master_max2; }, 20s))
      << slave->process().ReadLog();
  secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  const double backlog = std::stod(master_max2) - std::stod(master_max);
  std::printf("[ replication ] restarted slave caught up %.0f bytes in %.2f s (%.1f MB/s)\n", backlog, secs,
              backlog / secs / 1e6);
  sent.insert(sent.end(), more.begin(), more.end());
  ExpectAllReadable(*slave, "ReplAsync", sent);
  ASSERT_TRUE(WaitUntil([&] { return Info(*master, "haLagBytes_1") == "0"; }));
}

TEST_F(ReplicationTest, SlaveRefusesWrites) {
  auto master = StartMaster();
  auto slave = StartSlave(slave1_dir_, 1);
  mq::v1::SendMessageResponse resp;
  EXPECT_GRPC_ERROR(Send(slave->messaging(), "ToSlave", 0, {TextMessage("x")}, &resp),
                    grpc::StatusCode::PERMISSION_DENIED, "broker: broker-a (brokerId 1) is a SLAVE");
}

TEST_F(ReplicationTest, SlaveWithStaticMasterAddressNeedsNoNameServer) {
  auto master = StartMaster();
  CreateTopic(*master, "Pinned", 1);
  auto sent = SendBatches(*master, "Pinned", 3, 10, 256, 1, "pin");
  // A slave with no NameServer at all, told where the master's replication port is.
  const std::string ha = "127.0.0.1:" + Info(*master, "haListenPort");
  BrokerProcess slave(BrokerOptions{
      "", slave1_dir_.path(), "broker-a", {"brokerRole=SLAVE", "brokerId=1", "haMasterAddress=" + ha}});
  ASSERT_TRUE(slave.Start()) << slave.process().ReadLog();
  ASSERT_TRUE(WaitSlaves(*master, 1, &slave));
  ASSERT_TRUE(WaitForMaxOffset(slave.messaging(), "Pinned", 0, 30)) << slave.process().ReadLog();
  ExpectAllReadable(slave, "Pinned", sent);
}

TEST_F(ReplicationTest, SyncMasterWithoutSlaveFailsEverySend) {
  auto master = StartMaster("SYNC_MASTER");
  ExpectEverySendFails(*master, "NoSlave");

  // A slave makes sends succeed; once it is killed, every send fails again.
  ExpectSendsFailOnceTheSlaveIsGone(*master, "NoSlave");
}

TEST_F(ReplicationTest, SyncMasterAckedMessagesSurviveMasterKill) {
  auto master = StartMaster("SYNC_MASTER");
  auto slave1 = StartSlave(slave1_dir_, 1);
  auto slave2 = StartSlave(slave2_dir_, 2);
  ASSERT_TRUE(WaitSlaves(*master, 2));
  CreateTopic(*master, "ReplSync", 4);
  ASSERT_TRUE(WaitUntil([&] { return HasTopic(*slave1, "ReplSync") && HasTopic(*slave2, "ReplSync"); }));

  LatencyOfSequentialSends(*master, "SYNC_MASTER, 2 slaves");
  auto sent = SendBatches(*master, "ReplSync", 200, 1, 1024, 4, "s");
  ASSERT_EQ(sent.size(), 200u);
  for (const auto& s : sent) ASSERT_EQ(s.response.status(), mq::v1::SEND_OK);

  master->process().Kill();
  ExpectAllReadable(*slave1, "ReplSync", sent);
  ExpectAllReadable(*slave2, "ReplSync", sent);
}

// SYNC_MASTER + SYNC_FLUSH: replication starts at the append and overlaps the fsync, yet an
// ack still means both: every SEND_OK message is on the slave after the master is killed,
// and without an in-sync slave no send is acknowledged although each one is durable locally.
TEST_F(ReplicationTest, SyncMasterWithSyncFlushAcksOnlyWhatTheSlaveHolds) {
  auto master = StartBroker(master_dir_.path(), "SYNC_MASTER", 0, {"flushDiskType=SYNC_FLUSH"});
  ExpectEverySendFails(*master, "DurableNoSlave");
  auto slave = StartSlave(slave1_dir_, 1);
  ASSERT_TRUE(WaitSlaves(*master, 1, slave.get()));
  CreateTopic(*master, "ReplDurable", 4);
  ASSERT_TRUE(WaitUntil([&] { return HasTopic(*slave, "ReplDurable"); }));

  LatencyOfSequentialSends(*master, "SYNC_MASTER + SYNC_FLUSH, 1 slave");
  auto sent = SendBatches(*master, "ReplDurable", 100, 1, 1024, 4, "d");
  auto batches = SendBatches(*master, "ReplDurable", 20, 8, 512, 4, "db");
  ASSERT_EQ(sent.size(), 100u);
  ASSERT_EQ(batches.size(), 20u);
  for (const auto& s : sent) ASSERT_EQ(s.response.status(), mq::v1::SEND_OK);
  for (const auto& s : batches) ASSERT_EQ(s.response.status(), mq::v1::SEND_OK);
  sent.insert(sent.end(), batches.begin(), batches.end());

  master->process().Kill();
  ExpectAllReadable(*slave, "ReplDurable", sent);
}

TEST_F(ReplicationTest, SyncMasterWithSyncFlushFailsEverySendOnceTheSlaveIsGone) {
  auto master = StartBroker(master_dir_.path(), "SYNC_MASTER", 0, {"flushDiskType=SYNC_FLUSH"});
  ExpectSendsFailOnceTheSlaveIsGone(*master, "DurableGone");
}

TEST_F(ReplicationTest, MetadataReachesSlave) {
  auto master = StartMaster();
  auto slave = StartSlave(slave1_dir_, 1);
  ASSERT_TRUE(WaitSlaves(*master, 1, slave.get()));
  CreateTopic(*master, "MetaTopic", 2);
  mq::v1::CreateSubscriptionGroupRequest group;
  group.mutable_config()->set_group_name("meta_group");
  group.mutable_config()->set_consume_enable(true);
  group.mutable_config()->set_retry_max_times(7);
  group.mutable_config()->set_which_broker_when_consume_slowly(1);
  mq::v1::CreateSubscriptionGroupResponse group_resp;
  ASSERT_GRPC_OK(
      Call(master->admin(), &mq::v1::BrokerAdmin::Stub::CreateSubscriptionGroup, group, &group_resp));
  ASSERT_GRPC_OK(CommitOffset(*master, "meta_group", "MetaTopic", 1, 42));

  EXPECT_TRUE(WaitUntil([&] { return HasTopic(*slave, "MetaTopic"); }));
  EXPECT_TRUE(WaitUntil([&] {
    mq::v1::GetSubscriptionGroupsRequest req;
    req.set_group("meta_group");
    mq::v1::GetSubscriptionGroupsResponse resp;
    return Call(slave->admin(), &mq::v1::BrokerAdmin::Stub::GetSubscriptionGroups, req, &resp).ok() &&
           resp.configs_size() == 1 && resp.configs(0).retry_max_times() == 7;
  }));
  EXPECT_TRUE(WaitUntil([&] { return QueryOffset(*slave, "meta_group", "MetaTopic", 1) == 42; }));
}

// The transaction check-back scan's positions reach the slave, so a slave promoted (restarted
// as the master) resumes the scan about where its master was.
TEST_F(ReplicationTest, TransactionScanPositionsReachTheSlave) {
  auto master = StartMaster();
  auto slave = StartSlave(slave1_dir_, 1);
  ASSERT_TRUE(WaitSlaves(*master, 1, slave.get()));
  CreateTopic(*master, "TxnRepl", 1);
  const mq::v1::EndTransactionRequest end = SendHalf(*master, "TxnRepl", "half");
  mq::v1::EndTransactionResponse ended;
  ASSERT_GRPC_OK(Call(master->messaging(), &Stub::EndTransaction, end, &ended));
  // The master's scan passes the ended half and writes its positions; the slave takes them.
  const std::string master_file = master_dir_.path() + "/store/config/transactionProgress";
  const std::string slave_file = slave1_dir_.path() + "/store/config/transactionProgress";
  auto content = [](const std::string& path) -> std::string {
    auto r = ReadFileToString(path);
    return r.ok() ? *r : "(none)";
  };
  EXPECT_TRUE(WaitUntil([&] { return content(slave_file).find("halfOffset=1\n") != std::string::npos; }, 20s))
      << "master: " << content(master_file) << " slave: " << content(slave_file);
}

// Before: on a SYNC_MASTER a transaction's commit was answered before the slaves held the
// committed message (only sends waited for them), so a master lost right after the answer could
// take the message with it. Now the answer waits for the slave (here: paused, then resumed).
TEST_F(ReplicationTest, SyncMasterAnswersACommitOnceTheSlaveHoldsTheMessage) {
  auto master = StartBroker(master_dir_.path(), "SYNC_MASTER", 0, {"syncFlushTimeout=20000"});
  auto slave = StartSlave(slave1_dir_, 1);
  ASSERT_TRUE(WaitSlaves(*master, 1, slave.get()));
  CreateTopic(*master, "TxnSync", 1);
  const mq::v1::EndTransactionRequest end = SendHalf(*master, "TxnSync", "committed");

  ProcessPause pause({&slave->process()});
  std::atomic<bool> answered{false};
  grpc::Status end_status;
  std::thread ender([&] {
    mq::v1::EndTransactionResponse ended;
    end_status = Call(master->messaging(), &Stub::EndTransaction, end, &ended);
    answered = true;
  });
  // The master stores the committed message at once; the answer must wait for the slave.
  EXPECT_TRUE(WaitUntil([&] { return !PullN(master->messaging(), "TxnSync", 0, 0, 1).empty(); }));
  EXPECT_FALSE(WaitUntil([&] { return answered.load(); }, 1s)) << "answered while the slave was paused";
  pause.Resume();
  ASSERT_TRUE(WaitUntil([&] { return answered.load(); }, 20s));
  ender.join();
  ASSERT_TRUE(end_status.ok()) << end_status.error_message();
  master->process().Kill();
  auto got = PullN(slave->messaging(), "TxnSync", 0, 0, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message().body(), "committed");
}

// What mqadmin deleteTopic and deleteSubGroup --removeOffsets remove on the master goes from the
// slave too, and later syncs do not bring the offsets back to the master.
TEST_F(ReplicationTest, DeletionsOnTheMasterReachTheSlaveAndStay) {
  auto master = StartMaster();
  auto slave = StartSlave(slave1_dir_, 1);
  ASSERT_TRUE(WaitSlaves(*master, 1, slave.get()));
  CreateTopic(*master, "Doomed", 1);
  CreateTopic(*master, "Live", 1);
  mq::v1::CreateSubscriptionGroupRequest group;
  group.mutable_config()->set_group_name("doomed_group");
  group.mutable_config()->set_consume_enable(true);
  mq::v1::CreateSubscriptionGroupResponse group_resp;
  ASSERT_GRPC_OK(
      Call(master->admin(), &mq::v1::BrokerAdmin::Stub::CreateSubscriptionGroup, group, &group_resp));
  ASSERT_GRPC_OK(CommitOffset(*master, "doomed_group", "Live", 0, 42));
  auto slave_has_group = [&] {
    mq::v1::GetSubscriptionGroupsRequest req;
    req.set_group("doomed_group");
    mq::v1::GetSubscriptionGroupsResponse resp;
    return Call(slave->admin(), &mq::v1::BrokerAdmin::Stub::GetSubscriptionGroups, req, &resp).ok() &&
           resp.configs_size() == 1;
  };
  ASSERT_TRUE(WaitUntil([&] {
    return HasTopic(*slave, "Doomed") && slave_has_group() &&
           QueryOffset(*slave, "doomed_group", "Live", 0) == 42;
  }));

  mq::v1::DeleteTopicOnBrokerRequest del_topic;
  del_topic.set_topic("Doomed");
  mq::v1::DeleteTopicOnBrokerResponse del_topic_resp;
  ASSERT_GRPC_OK(Call(master->admin(), &mq::v1::BrokerAdmin::Stub::DeleteTopic, del_topic, &del_topic_resp));
  mq::v1::DeleteSubscriptionGroupRequest del_group;
  del_group.set_group("doomed_group");
  del_group.set_remove_offsets(true);
  mq::v1::DeleteSubscriptionGroupResponse del_group_resp;
  ASSERT_GRPC_OK(
      Call(master->admin(), &mq::v1::BrokerAdmin::Stub::DeleteSubscriptionGroup, del_group, &del_group_resp));
  EXPECT_TRUE(WaitUntil([&] {
    return !HasTopic(*slave, "Doomed") && !slave_has_group() &&
           !QueryOffset(*slave, "doomed_group", "Live", 0).has_value();
  })) << slave->process().ReadLog();

  // Two more syncs, each prompted by a commit that changes the master's metadata: the slave
  // offered the deleted offsets back as its own at the second sync after a delete.
  for (int64_t probe = 1; probe <= 2; ++probe) {
    ASSERT_GRPC_OK(CommitOffset(*master, "probe_group", "Live", 0, probe));
    ASSERT_TRUE(WaitUntil([&] { return QueryOffset(*slave, "probe_group", "Live", 0) == probe; }));
  }
  EXPECT_FALSE(QueryOffset(*master, "doomed_group", "Live", 0).has_value());
  EXPECT_FALSE(QueryOffset(*slave, "doomed_group", "Live", 0).has_value());
}

TEST_F(ReplicationTest, ConsumerReadsFromSlaveWhileMasterIsDownAndKeepsItsOffsets) {
  auto master = StartMaster();
  auto slave = StartSlave(slave1_dir_, 1);
  ASSERT_TRUE(WaitSlaves(*master, 1));
  CreateTopic(*master, "Failover", 1);
  auto sent = SendBatches(*master, "Failover", 1, 20, 100, 1, "f");
  ASSERT_GRPC_OK(CommitOffset(*master, "fo_group", "Failover", 0, 5));
  ASSERT_TRUE(WaitUntil([&] { return QueryOffset(*slave, "fo_group", "Failover", 0) == 5; }));
  ASSERT_TRUE(WaitForMaxOffset(slave->messaging(), "Failover", 0, 20));

  master->process().Kill();
  // The consumer resumes on the slave from the replicated offset and commits there.
  auto got = PullN(slave->messaging(), "Failover", 0, *QueryOffset(*slave, "fo_group", "Failover", 0), 15);
  ASSERT_EQ(got.size(), 15u);
  EXPECT_EQ(got.front().queue_offset(), 5);
  EXPECT_EQ(got.front().message().body(), sent[0].bodies[5]);
  ASSERT_GRPC_OK(CommitOffset(*slave, "fo_group", "Failover", 0, 20));
  EXPECT_EQ(QueryOffset(*slave, "fo_group", "Failover", 0), 20);

  // The master returns: the slave's commit is adopted, not overwritten by the master's 5.
  ASSERT_TRUE(master->Start()) << master->process().ReadLog();
  EXPECT_TRUE(WaitUntil([&] { return QueryOffset(*master, "fo_group", "Failover", 0) == 20; }, 20s))
      << slave->process().ReadLog();
  EXPECT_TRUE(WaitUntil([&] { return Info(*master, "haSlaveCount") == "1"; }, 15s));
  EXPECT_EQ(QueryOffset(*slave, "fo_group", "Failover", 0), 20);
}

TEST_F(ReplicationTest, PullSuggestsTheBrokerByRocketMqsRule) {
  auto master = StartMaster();
  auto slave = StartBroker(slave1_dir_.path(), "SLAVE", 1, {"slaveReadEnable=true"});
  ASSERT_TRUE(WaitSlaves(*master, 1));
  CreateTopic(*master, "Suggest", 1);
  mq::v1::CreateSubscriptionGroupRequest group;
  group.mutable_config()->set_group_name("suggest_group");
  group.mutable_config()->set_consume_enable(true);
  group.mutable_config()->set_broker_id(1);
  group.mutable_config()->set_which_broker_when_consume_slowly(1);
  mq::v1::CreateSubscriptionGroupResponse group_resp;
  ASSERT_GRPC_OK(
      Call(master->admin(), &mq::v1::BrokerAdmin::Stub::CreateSubscriptionGroup, group, &group_resp));
  SendBatches(*master, "Suggest", 1, 5, 100, 1, "g");
  ASSERT_TRUE(WaitForMaxOffset(master->messaging(), "Suggest", 0, 5));

  // slaveReadEnable=false (the master's default): the group's brokerId.
  mq::v1::PullMessageResponse resp;
  ASSERT_GRPC_OK(Pull(master->messaging(), "suggest_group", "Suggest", 0, 0, &resp));
  EXPECT_EQ(resp.status(), mq::v1::FOUND);
  EXPECT_EQ(resp.suggest_which_broker_id(), 1);

  // slaveReadEnable=true and the consumer is far from RAM-sized lag: back to the master.
  ASSERT_TRUE(WaitUntil([&] { return HasTopic(*slave, "Suggest"); }));
  ASSERT_TRUE(WaitForMaxOffset(slave->messaging(), "Suggest", 0, 5));
  ASSERT_TRUE(WaitUntil([&] {
    return Pull(slave->messaging(), "suggest_group", "Suggest", 0, 0, &resp).ok() &&
           resp.status() == mq::v1::FOUND;
  }));
  EXPECT_EQ(resp.messages_size(), 5);
  EXPECT_EQ(resp.suggest_which_broker_id(), 0);
}

TEST_F(ReplicationTest, SlaveAheadOfItsMasterIsRefusedAndNeverAcknowledgesASend) {
  // Give the future slave's store more bytes than the master will have (the situation of a
  // master that crashed and lost an unflushed tail the slave had copied).
  const std::string slave_end = SeedStandalone(slave1_dir_, 5, 10, 1000, 'x');
  auto master = StartMaster("SYNC_MASTER");
  auto slave = StartSlave(slave1_dir_, 1);
  const std::string reason = WaitRefused(*master, *slave, "SLAVE_AHEAD");
  EXPECT_NE(reason.find("ends at offset " + slave_end), std::string::npos) << reason;
  EXPECT_NE(reason.find("master's max offset 0"), std::string::npos) << reason;
  EXPECT_EQ(Info(*slave, "haDiverged"), "true");
  EXPECT_EQ(Info(*slave, "haConnected"), "false");
  EXPECT_NE(slave->process().ReadLog().find("replication refused by the master: SLAVE_AHEAD"),
            std::string::npos);
  EXPECT_EQ(Info(*slave, "commitLogMaxOffset"), slave_end);  // nothing appended, nothing cut

  // Before the handshake a slave ahead counted as in sync for ~1 s per reconnect: sends across
  // several refused reconnects must all fail.
  ExpectSendsFailAcrossRefusals(*master, "Ahead");
  EXPECT_EQ(Info(*master, "haRefusedReason_1").rfind("SLAVE_AHEAD", 0), 0u);
}

TEST_F(ReplicationTest, SlaveWithAnotherHistoryEndingOnAMasterRecordBoundaryIsRefused) {
  // The slave's log and the master's first records have the same shape but other contents, so
  // the slave's end is a record boundary of the master's log: offsets alone cannot tell.
  const std::string slave_end = SeedStandalone(slave1_dir_, 3, 1, 300, 's');
  auto master = StartMaster("SYNC_MASTER");
  SendShaped(*master, 3, 300, 'm');
  ASSERT_EQ(Info(*master, "commitLogMaxOffset"), slave_end) << "precondition: equal record sizes";
  SendShaped(*master, 3, 300, 'm');  // the master has grown past the slave's end

  auto slave = StartSlave(slave1_dir_, 1);
  const std::string reason = WaitRefused(*master, *slave, "LOG_DIVERGED");
  EXPECT_NE(reason.find("ends at offset " + slave_end), std::string::npos) << reason;
  EXPECT_NE(reason.find("diverged"), std::string::npos) << reason;
  EXPECT_EQ(Info(*slave, "haDiverged"), "true");
  EXPECT_EQ(Info(*slave, "commitLogMaxOffset"), slave_end);  // no spliced history
  ExpectSendsFailAcrossRefusals(*master, "Diverged");
}

TEST_F(ReplicationTest, SlaveWithAnotherSegmentSizeIsRefused) {
  auto master = StartMaster("SYNC_MASTER");
  auto slave = StartBroker(slave1_dir_.path(), "SLAVE", 1, {"mappedFileSizeCommitLog=8388608"});
  const std::string reason = WaitRefused(*master, *slave, "SEGMENT_SIZE_MISMATCH");
  EXPECT_NE(reason.find("mappedFileSizeCommitLog=8388608"), std::string::npos) << reason;
  EXPECT_NE(reason.find("mappedFileSizeCommitLog=4194304"), std::string::npos) << reason;
  EXPECT_EQ(Info(*slave, "haDiverged"), "false");
  ExpectSendsFailAcrossRefusals(*master, "Segments");
  EXPECT_EQ(Info(*slave, "commitLogMaxOffset"), "0");
}

}  // namespace
}  // namespace mq::testing
