// A failing disk (EIO injected by the FUSE layer on write or fsync of chosen files): the
// store's error latch trips, every later send is refused with UNAVAILABLE naming the cause,
// nothing is acknowledged after the failure, and brokerStatus shows it. Acknowledged
// messages stay readable.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "fault/powercut/crash_harness.h"
#include "grpc_test_util.h"
#include "testutil/process.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

std::string RunMqadmin(const std::string& args) {
  std::string cmd = BinaryPath("mqadmin") + " " + args + " 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

struct Injection {
  const char* name;
  const char* op;
  const char* glob;
  const char* expect_in_cause;  // a piece of the latched status
};
void PrintTo(const Injection& i, std::ostream* os) { *os << i.name; }

class FailingDiskTest : public ::testing::TestWithParam<Injection> {};

TEST_P(FailingDiskTest, LatchRefusesSendsWithTheCauseAndBrokerStatusShowsIt) {
  const Injection& inj = GetParam();
  CrashHarness h(/*sync_flush=*/true);
  if (!h.usable()) GTEST_SKIP() << h.skip_reason();
  ASSERT_TRUE(h.StartBroker());
  ASSERT_EQ(RuntimeValue(h.broker().admin(), "storeStatus"), "OK");
  for (int i = 0; i < 20; ++i) {
    ASSERT_GRPC_OK(Send(h.broker().messaging(), CrashHarness::kTopic, 0,
                        {TextMessage(CrashBody("pre" + std::to_string(i)))}));
  }
  ASSERT_TRUE(h.mount().Fail(inj.op, inj.glob));

  // Keep sending until the failing path is hit (consume queues flush on a 1 s timer), then
  // 20 more: from the first refusal on, nothing may be acknowledged. Bounded in count and time.
  bool refused = false;
  int after_refusal = 0;
  std::string first_error;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (int i = 0; i < 20000 && after_refusal < 20 && std::chrono::steady_clock::now() < deadline; ++i) {
    grpc::Status s = Send(h.broker().messaging(), CrashHarness::kTopic, i % CrashHarness::kQueues,
                          {TextMessage(CrashBody("post" + std::to_string(i)))});
    if (!s.ok()) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
      if (!refused) first_error = s.error_message();
      refused = true;
    } else {
      ASSERT_FALSE(refused) << "send " << i << " acknowledged after a refusal: " << first_error;
    }
    after_refusal += refused ? 1 : 0;
  }
  ASSERT_TRUE(refused) << "no send failed; fs: " << h.mount().Command("status");
  std::string status;
  ASSERT_TRUE(WaitUntil([&] {
    status = RuntimeValue(h.broker().admin(), "storeStatus");
    return !status.empty() && status != "OK";
  }));
  EXPECT_NE(status.find(std::strerror(EIO)), std::string::npos) << status;
  EXPECT_NE(status.find(inj.expect_in_cause), std::string::npos) << status;

  // The latch is sticky: a healed disk does not make the store writable again by itself.
  ASSERT_TRUE(h.mount().Heal());
  grpc::Status s = Send(h.broker().messaging(), CrashHarness::kTopic, 1, {TextMessage("after heal")});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message().rfind("store:", 0), 0u) << s.error_message();
  EXPECT_NE(s.error_message().find(std::strerror(EIO)), std::string::npos) << s.error_message();

  std::string admin_out = RunMqadmin("brokerStatus -b " + h.broker().address());
  EXPECT_NE(admin_out.find("storeStatus"), std::string::npos) << admin_out;
  EXPECT_NE(admin_out.find(std::strerror(EIO)), std::string::npos) << admin_out;

  // What was acknowledged before the failure is still served.
  mq::v1::PullMessageResponse pulled;
  ASSERT_GRPC_OK(Pull(h.broker().messaging(), "g", CrashHarness::kTopic, 0, 0, &pulled));
  ASSERT_GE(pulled.messages_size(), 20);
  EXPECT_EQ(pulled.messages(0).message().body(), CrashBody("pre0"));
}

INSTANTIATE_TEST_SUITE_P(
    Injections, FailingDiskTest,
    ::testing::Values(Injection{"CommitLogFsync", "fsync", "*/commitlog/*", "commitlog"},
                      Injection{"CommitLogWrite", "write", "*/commitlog/*", "commitlog"},
                      Injection{"ConsumeQueueFsync", "fsync", "*/consumequeue/*", "consumequeue"},
                      Injection{"ConsumeQueueWrite", "write", "*/consumequeue/*", "consumequeue"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace mq::testing
