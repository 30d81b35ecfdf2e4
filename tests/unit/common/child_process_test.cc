// ChildProcess (tests/testutil): the daemons a test starts do not outlive the test process, even
// when it dies without running destructors (an abort, a crash, ctest's SIGKILL at a timeout).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "testutil/process.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

// Gone, or a zombie waiting for whoever adopted it to reap it.
bool Dead(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

TEST(ChildProcessTest, DiesWithTheTestProcessThatStartedIt) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t runner = ::fork();  // stands in for a test process
  ASSERT_GE(runner, 0);
  if (runner == 0) {
    ::close(fds[0]);
    ChildProcess daemon;
    if (!daemon.Start("/bin/sleep", {"60"}, "/dev/null")) ::_exit(1);
    const pid_t pid = daemon.pid();
    if (::write(fds[1], &pid, sizeof pid) != sizeof pid) ::_exit(1);
    ::_exit(0);  // no destructors, as when a test process crashes
  }
  ::close(fds[1]);
  pid_t daemon = 0;
  ASSERT_EQ(::read(fds[0], &daemon, sizeof daemon), static_cast<ssize_t>(sizeof daemon));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(runner, &status, 0), runner);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const bool died = WaitUntil([&] { return Dead(daemon); }, std::chrono::seconds(10));
  if (!died) ::kill(daemon, SIGKILL);
  EXPECT_TRUE(died) << "pid " << daemon << " outlived the process that started it";
}

}  // namespace
}  // namespace mq::testing
