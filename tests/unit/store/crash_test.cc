// Crash test: a forked child appends in SYNC_FLUSH mode from several threads and reports
// every acknowledged put through a pipe; the parent SIGKILLs it at random moments, reopens
// the store and checks that every acknowledged record is present, intact and reachable
// through its consume queue, and that no garbage is visible.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "broker/store/message_store.h"
#include "store_test_util.h"
#include "testutil/temp_dir.h"

namespace mq::store {
namespace {

struct Ack {
  int32_t queue_id;
  int32_t round;
  int32_t seq;
  int32_t pad;
  int64_t queue_offset;
  int64_t physical_offset;
};

[[noreturn]] void RunChild(const std::string& dir, int round, int fd) {
  StoreOptions options = testing::SmallOptions(dir);
  options.flush_disk_type = FlushDiskType::kSyncFlush;
  options.mapped_file_size_commit_log = 256 * 1024;
  MessageStore store(options);
  if (!store.Start().ok()) _exit(3);
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      for (int seq = t;; seq += 8) {
        int32_t qid = seq % 4;
        auto r = testing::PutSync(
            store,
            testing::Msg("Crash", qid, fmt::format("r{}-s{}-{}", round, seq, std::string(seq % 700, 'p')), "",
                         "", fmt::format("r{}-s{}", round, seq)));
        if (!r.ok()) _exit(4);
        Ack ack{qid, round, seq, 0, r.queue_offset, r.physical_offset};
        if (::write(fd, &ack, sizeof(ack)) != static_cast<ssize_t>(sizeof(ack))) _exit(5);
      }
    });
  }
  for (auto& w : writers) w.join();
  _exit(0);
}

TEST(StoreCrashTest, AcknowledgedSyncFlushPutsSurviveKill9) {
  mq::testing::TempDir dir;
  std::mt19937 rng(12345);
  std::vector<Ack> acked;
  const int kRounds = 12;
  for (int round = 0; round < kRounds; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      RunChild(dir.path(), round, fds[1]);
    }
    ::close(fds[1]);
    int kill_after_ms = std::uniform_int_distribution<int>(30, 400)(rng);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kill_after_ms);
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    auto drain = [&] {
      Ack ack;
      while (::read(fds[0], &ack, sizeof(ack)) == static_cast<ssize_t>(sizeof(ack))) acked.push_back(ack);
    };
    while (std::chrono::steady_clock::now() < deadline) {
      drain();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::kill(pid, SIGKILL);
    int wstatus = 0;
    ::waitpid(pid, &wstatus, 0);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited early with status " << WEXITSTATUS(wstatus);
    drain();
    ::close(fds[0]);

    // Reopen and verify.
    StoreOptions options = testing::SmallOptions(dir.path());
    options.mapped_file_size_commit_log = 256 * 1024;
    MessageStore store(options);
    Status s = store.Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (const Ack& ack : acked) {
      auto r = store.GetMessages("g", "Crash", ack.queue_id, ack.queue_offset, 1, 1 << 20);
      ASSERT_EQ(r.status, GetMessageStatus::kFound)
          << "round " << round << " lost acked r" << ack.round << "-s" << ack.seq << " at queue offset "
          << ack.queue_offset << ": " << GetMessageStatusName(r.status);
      auto view = DecodeRecord(r.messages[0], true, ack.physical_offset);
      ASSERT_TRUE(view.ok()) << view.status().ToString();
      ASSERT_EQ(FindProperty(view->properties, "UNIQ_KEY"), fmt::format("r{}-s{}", ack.round, ack.seq));
    }
    // Nothing visible is garbage: every unit of every queue decodes and matches its queue.
    for (int32_t qid = 0; qid < 4; ++qid) {
      int64_t max = store.MaxOffsetInQueue("Crash", qid);
      for (int64_t off = store.MinOffsetInQueue("Crash", qid); off < max;) {
        auto r = store.GetMessages("g", "Crash", qid, off, 64, 1 << 22);
        ASSERT_EQ(r.status, GetMessageStatus::kFound);
        for (size_t i = 0; i < r.messages.size(); ++i) {
          auto view = DecodeRecord(r.messages[i], true);
          ASSERT_TRUE(view.ok()) << view.status().ToString();
          ASSERT_EQ(view->queue_id, qid);
          ASSERT_EQ(view->queue_offset, r.queue_offsets[i]);
        }
        off = r.next_begin_offset;
      }
    }
    store.Shutdown();
  }
  EXPECT_GT(acked.size(), 100u);
  std::printf("crash test: %d rounds, %zu acknowledged puts verified\n", kRounds, acked.size());
}

}  // namespace
}  // namespace mq::store
