// PowercutMount: runs mq_powercut_fs on `dir`/mnt for one test and talks to its control
// socket. When FUSE cannot be used here, mounted() is false and skip_reason() says why
// (tests GTEST_SKIP). The destructor asks the daemon to quit and lazily unmounts as a
// backstop, so a failed test leaves no mount behind. Not thread-safe; one per test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "testutil/process.h"

namespace mq::testing {

class PowercutMount {
 public:
  explicit PowercutMount(const std::string& dir);
  ~PowercutMount();
  PowercutMount(const PowercutMount&) = delete;
  PowercutMount& operator=(const PowercutMount&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& skip_reason() const { return skip_reason_; }
  const std::string& root() const { return mountpoint_; }  // absolute mount directory

  // One control command (see mq_powercut_fs's main.cc); returns the reply line, or
  // "err <why>" when the daemon cannot be reached.
  std::string Command(const std::string& line);
  bool Cut() { return Command("cut") == "ok"; }
  // Detaches the old mount and mounts the durable state afresh.
  bool Remount() { return Command("remount").rfind("ok", 0) == 0; }
  bool SetVictim(pid_t pid) { return Command("victim " + std::to_string(pid)) == "ok"; }
  bool Arm(const std::string& op, const std::string& glob, int64_t nth) {
    return Command("arm " + op + " " + glob + " " + std::to_string(nth)) == "ok";
  }
  bool Fail(const std::string& op, const std::string& glob) {
    return Command("fail " + op + " " + glob) == "ok";
  }
  bool Heal() { return Command("heal") == "ok"; }
  // True once a cut (armed or commanded) has happened and the mount is frozen.
  bool WaitFrozen(std::chrono::milliseconds timeout);
  std::string Log() const { return process_.ReadLog(); }

 private:
  std::string mountpoint_, control_, ready_;
  ChildProcess process_;
  bool mounted_ = false;
  std::string skip_reason_;
};

}  // namespace mq::testing
