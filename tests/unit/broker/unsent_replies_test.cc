// UnsentReplies over a real socket pair whose peer does not read: what the socket does not take
// is queued, a pull reply's lease stays held until its last byte was written, other queued bytes
// count against the send budget, and draining or clearing gives everything back.
#include "broker/fast/unsent_replies.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace mq::broker {
namespace {

class UnsentRepliesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
    const int small = 4096;
    ::setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ::setsockopt(fds_[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }
  void TearDown() override {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  // Reads everything the peer has been sent so far.
  size_t ReadAll() {
    size_t total = 0;
    char buf[65536];
    for (ssize_t n; (n = ::recv(fds_[1], buf, sizeof buf, MSG_DONTWAIT)) > 0;)
      total += static_cast<size_t>(n);
    return total;
  }

  int fds_[2] = {-1, -1};
  ByteBudget send_budget_{1 << 30};
  ByteBudget pull_budget_{1 << 30};
};

TEST_F(UnsentRepliesTest, APullReplyHoldsItsLeaseUntilWrittenAndOtherBytesTheSendBudget) {
  UnsentReplies unsent(&send_budget_);
  const std::string pull_reply(1 << 20, 'p');
  const std::string_view pull_pieces[] = {pull_reply};
  auto lease = pull_budget_.TryAcquire(static_cast<int64_t>(pull_reply.size()));
  ASSERT_TRUE(lease.has_value());
  ASSERT_EQ(unsent.WriteOrQueue(fds_[0], pull_pieces, &*lease), frame::WriteOutcome::kQueued);
  const size_t queued_pull = unsent.size();
  EXPECT_GT(queued_pull, 0u);
  EXPECT_EQ(pull_budget_.used(), static_cast<int64_t>(pull_reply.size()));  // kept, not released
  EXPECT_EQ(send_budget_.used(), 0);

  const std::string send_reply(1000, 's');
  const std::string_view send_pieces[] = {send_reply};
  ASSERT_EQ(unsent.WriteOrQueue(fds_[0], send_pieces, nullptr), frame::WriteOutcome::kQueued);
  EXPECT_EQ(unsent.size(), queued_pull + send_reply.size());
  EXPECT_EQ(send_budget_.used(), static_cast<int64_t>(send_reply.size()));

  size_t read = 0;
  frame::WriteOutcome drained = frame::WriteOutcome::kQueued;
  for (int i = 0; i < 100'000 && drained == frame::WriteOutcome::kQueued; ++i) {
    read += ReadAll();
    drained = unsent.Drain(fds_[0]);
    // The pull reply's lease goes only with its last byte.
    if (unsent.size() > send_reply.size()) {
      EXPECT_EQ(pull_budget_.used(), static_cast<int64_t>(pull_reply.size()));
    }
  }
  ASSERT_EQ(drained, frame::WriteOutcome::kWritten);
  read += ReadAll();
  EXPECT_EQ(read, pull_reply.size() + send_reply.size());
  EXPECT_EQ(unsent.size(), 0u);
  EXPECT_EQ(pull_budget_.used(), 0);
  EXPECT_EQ(send_budget_.used(), 0);
}

TEST_F(UnsentRepliesTest, ClearGivesEverythingBack) {
  UnsentReplies unsent(&send_budget_);
  const std::string reply(1 << 20, 'x');
  const std::string_view pieces[] = {reply};
  auto lease = pull_budget_.TryAcquire(static_cast<int64_t>(reply.size()));
  ASSERT_TRUE(lease.has_value());
  ASSERT_EQ(unsent.WriteOrQueue(fds_[0], pieces, &*lease), frame::WriteOutcome::kQueued);
  ASSERT_EQ(unsent.WriteOrQueue(fds_[0], pieces, nullptr), frame::WriteOutcome::kQueued);
  EXPECT_GT(send_budget_.used(), 0);
  unsent.Clear();
  EXPECT_EQ(unsent.size(), 0u);
  EXPECT_EQ(pull_budget_.used(), 0);
  EXPECT_EQ(send_budget_.used(), 0);
}

}  // namespace
}  // namespace mq::broker
