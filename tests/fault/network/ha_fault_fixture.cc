#include "fault/network/ha_fault_fixture.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "grpc_test_util.h"
#include "testutil/wait.h"

namespace mq::testing {

using namespace std::chrono_literals;

std::string Info(BrokerProcess& b, const std::string& key) { return RuntimeValue(b.admin(), key); }

int64_t InfoInt(BrokerProcess& b, const std::string& key) {
  const std::string v = Info(b, key);
  return v.empty() ? 0 : std::stoll(v);
}

int64_t QueueMaxOffset(BrokerProcess& b, const std::string& topic, int32_t queue_id) {
  mq::v1::GetQueueOffsetsRequest req;
  req.mutable_queue()->set_topic(topic);
  req.mutable_queue()->set_queue_id(queue_id);
  mq::v1::GetQueueOffsetsResponse resp;
  if (!Call(b.messaging(), &mq::v1::Messaging::Stub::GetQueueOffsets, req, &resp).ok()) return -1;
  return resp.max_offset();
}

std::optional<SentMessage> SendOne(BrokerProcess& b, const std::string& topic, int32_t queue_id,
                                   const std::string& body) {
  mq::v1::SendMessageResponse resp;
  if (!Send(b.messaging(), topic, queue_id, {TextMessage(body)}, &resp).ok()) return std::nullopt;
  SentMessage m;
  m.queue_id = queue_id;
  m.body = body;
  m.status = resp.status();
  if (resp.entries_size() == 1) {
    m.queue_offset = resp.entries(0).queue_offset();
    m.msg_id = resp.entries(0).msg_id();
  }
  return m;
}

std::vector<mq::v1::MessageExt> ReadQueue(BrokerProcess& b, const std::string& topic, int32_t queue_id,
                                          int64_t at_least) {
  // A commit log that caught up (or an ack) does not mean the dispatcher has indexed it yet.
  (void)WaitUntil([&] { return QueueMaxOffset(b, topic, queue_id) >= at_least; }, 10s);
  const int64_t max = QueueMaxOffset(b, topic, queue_id);
  EXPECT_GE(max, 0) << "queue offsets of " << topic << ":" << queue_id << " on " << b.address();
  std::vector<mq::v1::MessageExt> out;
  int64_t offset = 0;
  // Bounded: one pull per 32 messages plus slack for the consume queue still being built.
  for (int pulls = 0; offset < max && pulls < max / 16 + 100; ++pulls) {
    mq::v1::PullMessageResponse resp;
    if (!Pull(b.messaging(), "net_check", topic, queue_id, offset, &resp).ok()) break;
    if (resp.status() != mq::v1::FOUND) {
      (void)WaitUntil([&] { return QueueMaxOffset(b, topic, queue_id) >= max; }, 1s);
      continue;
    }
    for (const auto& m : resp.messages()) out.push_back(m);
    offset = resp.next_begin_offset();
  }
  EXPECT_GE(offset, max) << "could not read " << topic << ":" << queue_id << " up to " << max;
  return out;
}

void ExpectHolds(BrokerProcess& b, const std::string& topic, const std::vector<SentMessage>& acked) {
  std::map<int32_t, std::map<int64_t, const SentMessage*>> want;
  for (const auto& m : acked) want[m.queue_id][m.queue_offset] = &m;
  size_t checked = 0;
  for (const auto& [q, msgs] : want) {
    std::map<int64_t, const mq::v1::MessageExt*> got;
    auto read = ReadQueue(b, topic, q, msgs.rbegin()->first + 1);
    for (const auto& m : read) got[m.queue_offset()] = &m;
    for (const auto& [offset, sent] : msgs) {
      auto it = got.find(offset);
      ASSERT_NE(it, got.end()) << "acknowledged " << topic << ":" << q << "@" << offset << " missing on "
                               << b.address();
      EXPECT_EQ(it->second->message().body(), sent->body) << q << "@" << offset;
      EXPECT_EQ(it->second->msg_id(), sent->msg_id) << q << "@" << offset;
      ++checked;
    }
  }
  EXPECT_EQ(checked, acked.size());
}

void ExpectQueuesIdentical(BrokerProcess& master, BrokerProcess& slave, const std::string& topic,
                           int queues) {
  std::set<std::string> bodies;
  for (int q = 0; q < queues; ++q) {
    auto on_master = ReadQueue(master, topic, q);
    auto on_slave = ReadQueue(slave, topic, q, static_cast<int64_t>(on_master.size()));
    ASSERT_EQ(on_master.size(), on_slave.size()) << "queue " << q;
    for (size_t i = 0; i < on_master.size(); ++i) {
      ASSERT_EQ(on_slave[i].queue_offset(), static_cast<int64_t>(i)) << "gap or duplicate in queue " << q;
      EXPECT_EQ(on_slave[i].message().body(), on_master[i].message().body()) << q << "@" << i;
      EXPECT_EQ(on_slave[i].msg_id(), on_master[i].msg_id()) << q << "@" << i;
      EXPECT_EQ(on_slave[i].commit_log_offset(), on_master[i].commit_log_offset()) << q << "@" << i;
      EXPECT_TRUE(bodies.insert(on_slave[i].message().body()).second) << "body twice: " << q << "@" << i;
    }
  }
}

namespace {
// Reads [0, end) of the commit log under `store` (segments named by their start offset).
std::string ReadCommitLog(const std::string& store, int64_t end) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(store + "/commitlog")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::string out;
  for (const auto& f : files) {
    const int64_t start = std::stoll(f.filename().string());
    if (start >= end) break;
    if (static_cast<int64_t>(out.size()) != start) return out;  // a missing segment shows as a short read
    std::ifstream in(f, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    data.resize(static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(data.size()), end - start)));
    out += data;
  }
  return out;
}
}  // namespace

void ExpectCommitLogsEqual(const std::string& master_store, const std::string& slave_store, int64_t end) {
  const std::string m = ReadCommitLog(master_store, end);
  const std::string s = ReadCommitLog(slave_store, end);
  ASSERT_EQ(static_cast<int64_t>(m.size()), end);
  ASSERT_EQ(static_cast<int64_t>(s.size()), end);
  if (m != s) {
    auto diff = std::mismatch(m.begin(), m.end(), s.begin());
    FAIL() << "commit logs differ from byte " << (diff.first - m.begin()) << " of " << end;
  }
}

void HaFaultTest::SetUp() { ASSERT_TRUE(namesrv_.started()) << namesrv_.process().ReadLog(); }

void HaFaultTest::TearDown() {
  if (HasFailure()) {
    if (master_) std::printf("MASTER LOG:\n%s\n", master_->process().ReadLog().c_str());
    if (slave_) std::printf("SLAVE LOG:\n%s\n", slave_->process().ReadLog().c_str());
  }
  slave_.reset();
  if (proxy_) proxy_->Stop();
  master_.reset();
}

void HaFaultTest::StartMaster(const std::string& role) {
  master_ = std::make_unique<BrokerProcess>(
      BrokerOptions{namesrv_.address(),
                    master_dir_.path(),
                    "broker-a",
                    {"brokerRole=" + role, "brokerId=0", "haListenPort=0", "syncFlushTimeout=1000"}});
  ASSERT_TRUE(master_->Start()) << master_->process().ReadLog();
}

void HaFaultTest::StartSlaveBehindProxy() {
  const std::string ha_port = Info(*master_, "haListenPort");
  ASSERT_FALSE(ha_port.empty());
  proxy_ = std::make_unique<TcpProxy>("127.0.0.1:" + ha_port);
  ASSERT_TRUE(proxy_->Start());
  slave_ = std::make_unique<BrokerProcess>(BrokerOptions{
      namesrv_.address(),
      slave_dir_.path(),
      "broker-a",
      {"brokerRole=SLAVE", "brokerId=1", "haListenPort=0", "haMasterAddress=" + proxy_->address()}});
  ASSERT_TRUE(slave_->Start()) << slave_->process().ReadLog();
  ASSERT_TRUE(WaitSlaveInSync());
  ASSERT_EQ(Info(*slave_, "haMasterAddress"), proxy_->address());
}

bool HaFaultTest::WaitSlaveInSync(std::chrono::milliseconds timeout) {
  return WaitUntil([&] { return Info(*master_, "haSlaveInSync_1") == "true"; }, timeout, 20ms);
}

bool HaFaultTest::WaitCaughtUp(std::chrono::milliseconds timeout) {
  return WaitUntil(
      [&] {
        const std::string m = Info(*master_, "commitLogMaxOffset");
        return !m.empty() && Info(*slave_, "commitLogMaxOffset") == m;
      },
      timeout, 20ms);
}

}  // namespace mq::testing
