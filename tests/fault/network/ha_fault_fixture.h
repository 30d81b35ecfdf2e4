// HaFaultTest: a NameServer, a master and one slave as real processes, with a TcpProxy
// between the slave and the master's replication port (the slave's haMasterAddress points at
// the proxy; everything else is direct). Helpers send, read back and compare what the two
// brokers hold. Not thread-safe; one per test.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "fault/network/tcp_proxy.h"
#include "namesrv_fixture.h"
#include "testutil/temp_dir.h"

namespace mq::testing {

// A message a broker acknowledged (or refused): where it went and what it was.
struct SentMessage {
  int32_t queue_id = 0;
  int64_t queue_offset = -1;
  std::string body;
  std::string msg_id;
  mq::v1::SendStatus status = mq::v1::SEND_OK;
};

std::string Info(BrokerProcess& b, const std::string& key);
int64_t InfoInt(BrokerProcess& b, const std::string& key);                             // 0 when absent
int64_t QueueMaxOffset(BrokerProcess& b, const std::string& topic, int32_t queue_id);  // -1 on error
// Sends one message of `body` to topic/queue; nullopt on a transport error.
std::optional<SentMessage> SendOne(BrokerProcess& b, const std::string& topic, int32_t queue_id,
                                   const std::string& body);
// Every message of the queue from offset 0 to its max, in order (empty plus a failure on error),
// read once the max reached `at_least` (waits up to 10 s: the dispatcher indexes after the ack).
std::vector<mq::v1::MessageExt> ReadQueue(BrokerProcess& b, const std::string& topic, int32_t queue_id,
                                          int64_t at_least = 0);
// Every acknowledged message is on `b` at its queue offset with the same body and id.
void ExpectHolds(BrokerProcess& b, const std::string& topic, const std::vector<SentMessage>& acked);
// Each queue holds offsets 0..max-1 exactly once on both brokers, message for message equal,
// and no body appears twice.
void ExpectQueuesIdentical(BrokerProcess& master, BrokerProcess& slave, const std::string& topic, int queues);
// The commit log files under the two store dirs hold the same bytes in [0, end).
void ExpectCommitLogsEqual(const std::string& master_store, const std::string& slave_store, int64_t end);

class HaFaultTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // role: SYNC_MASTER or ASYNC_MASTER. syncFlushTimeout=1000 keeps failing sends short.
  void StartMaster(const std::string& role);
  // Starts the proxy to the master's HA port and the slave behind it; waits for the stream.
  void StartSlaveBehindProxy();
  bool WaitSlaveInSync(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  bool WaitCaughtUp(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  std::string master_store() const { return master_dir_.Sub("store"); }
  std::string slave_store() const { return slave_dir_.Sub("store"); }

  NamesrvProcess namesrv_;
  TempDir master_dir_;
  TempDir slave_dir_;
  std::unique_ptr<BrokerProcess> master_;
  std::unique_ptr<TcpProxy> proxy_;
  std::unique_ptr<BrokerProcess> slave_;
};

}  // namespace mq::testing
