// A store write failure in the real mqbroker is never silent: once a consume queue cannot be
// written (a real ENOSPC on a small tmpfs), sends get UNAVAILABLE naming the cause and
// brokerStatus (GetBrokerRuntimeInfo) shows it as storeStatus.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "broker_fixture.h"
#include "grpc_test_util.h"
#include "testutil/temp_dir.h"
#include "testutil/tmpfs_mount.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

TEST(BrokerStoreErrorTest, ConsumeQueueEnospcRefusesSendsAndShowsInBrokerStatus) {
  TempDir dir;
  TmpfsMount tmpfs(dir.Sub("tmpfs"), 32 * 1024 * 1024);
  if (!tmpfs.mounted()) GTEST_SKIP() << tmpfs.skip_reason();
  // Two 4 MiB commit log segments fit; a 40 MB consume queue segment cannot, while the disk
  // stays far below the diskSpaceWarningLevelRatio guard (that one refuses puts on its own).
  BrokerProcess broker({"", tmpfs.dir() + "/store", "broker-a", {"mappedFileSizeConsumeQueue=40000000"}});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  EXPECT_EQ(RuntimeValue(broker.admin(), "storeStatus"), "OK");

  // Acknowledged: the record is in the commit log. Its consume queue cannot be created.
  ASSERT_GRPC_OK(Send(broker.messaging(), "Full", 0, {TextMessage("acked")}));
  std::string status;
  ASSERT_TRUE(WaitUntil([&] {
    status = RuntimeValue(broker.admin(), "storeStatus");
    return !status.empty() && status != "OK";
  })) << "storeStatus stayed '"
      << status << "'";
  EXPECT_NE(status.find("consume queue Full-0"), std::string::npos) << status;
  EXPECT_NE(status.find(std::strerror(ENOSPC)), std::string::npos) << status;

  grpc::Status s = Send(broker.messaging(), "Other", 1, {TextMessage("refused")});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(s.error_message().rfind("store:", 0), 0u) << s.error_message();
  EXPECT_NE(s.error_message().find("consume queue Full-0"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find(std::strerror(ENOSPC)), std::string::npos) << s.error_message();

  // Stopping a latched broker is orderly (it leaves the abort marker for recovery).
  EXPECT_EQ(broker.Stop(), 0);
}

}  // namespace
}  // namespace mq::testing
