#include "fault/powercut/powercut_daemon.h"

#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <vector>

#include "fault/powercut/fuse_ops.h"

namespace mq::powercut {
namespace {

constexpr char kFuseCtl[] = "/sys/fs/fuse/connections";

// The "major:minor" of the mount at `mountpoint`, read from mountinfo: stat() on the mount
// itself would ask this very process, which is not serving yet.
std::string ConnectionId(const std::string& mountpoint) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line, found;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point == mountpoint) found = dev.substr(dev.find(':') + 1);  // the last one is on top
  }
  return found;
}

}  // namespace

PowercutDaemon::PowercutDaemon(std::string mountpoint) : mountpoint_(std::move(mountpoint)) {
  fs_.SetOnCut([this] {
    pid_t victim = victim_.load();
    if (victim > 0) ::kill(victim, SIGKILL);
  });
}

bool PowercutDaemon::Run(std::string* error, const std::function<void()>& on_first_mount) {
  bool first = true;
  while (true) {
    std::vector<std::string> argv_storage = {"mq_powercut_fs", "-o",
                                             "fsname=mq_powercut,subtype=mq_powercut"};
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
    fuse* f = fuse_new(&args, &PowercutOperations(), sizeof(fuse_operations), &fs_);
    if (!f) {
      *error = "fuse_new failed";
      return false;
    }
    if (fuse_mount(f, mountpoint_.c_str()) != 0) {
      fuse_destroy(f);
      *error = "cannot mount FUSE on " + mountpoint_ + " (see the log for libfuse's reason)";
      return false;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++generation_;
      loop_running_ = true;
      connection_id_ = ConnectionId(mountpoint_);
    }
    cv_.notify_all();
    if (first && on_first_mount) on_first_mount();
    first = false;
    fuse_loop(f);
    fuse_unmount(f);
    fuse_destroy(f);
    std::unique_lock<std::mutex> lock(mu_);
    loop_running_ = false;
    cv_.notify_all();
    cv_.wait(lock, [&] { return want_mount_ || quit_; });
    if (quit_) return true;
    want_mount_ = false;
  }
}

bool PowercutDaemon::WaitLoopEnded(int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return !loop_running_; });
}

void PowercutDaemon::AbortConnection() {
  std::string id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = connection_id_;
  }
  if (id.empty()) return;
  struct stat st {};
  if (::stat((std::string(kFuseCtl) + "/" + id).c_str(), &st) != 0) {
    ::mount("fusectl", kFuseCtl, "fusectl", 0, nullptr);  // best effort; absent in some sandboxes
  }
  std::ofstream(std::string(kFuseCtl) + "/" + id + "/abort") << "1";
}

bool PowercutDaemon::Detach(std::string* error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!loop_running_) return true;
  }
  // Lazy: processes of the test may still hold the directory; the superblock (and with it
  // every cached page) goes when the last reference does, which ends the session loop.
  ::umount2(mountpoint_.c_str(), MNT_DETACH);
  if (WaitLoopEnded(2000)) return true;
  AbortConnection();
  if (WaitLoopEnded(10000)) return true;
  *error = "old mount still in use (a process keeps files open on it)";
  return false;
}

void PowercutDaemon::Quit() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  std::string ignored;
  Detach(&ignored);
}

std::string PowercutDaemon::Handle(const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  if (cmd == "status") {
    std::lock_guard<std::mutex> lock(mu_);
    return "ok gen=" + std::to_string(generation_) + " " + fs_.Status();
  }
  if (cmd == "cut") {
    fs_.Cut();
    return "ok";
  }
  if (cmd == "remount") {
    std::string error;
    if (!Detach(&error)) return "err " + error;
    fs_.Thaw();
    int before;
    {
      std::unique_lock<std::mutex> lock(mu_);
      before = generation_;
      want_mount_ = true;
      cv_.notify_all();
      if (!cv_.wait_for(lock, std::chrono::seconds(10),
                        [&] { return generation_ > before && loop_running_; })) {
        return "err remount did not complete";
      }
      return "ok gen=" + std::to_string(generation_);
    }
  }
  if (cmd == "victim") {
    pid_t pid = 0;
    if (!(in >> pid)) return "err usage: victim <pid>";
    victim_.store(pid);
    return "ok";
  }
  if (cmd == "arm" || cmd == "fail") {
    std::string op, glob;
    int64_t nth = 1;
    if (!(in >> op >> glob) || (cmd == "arm" && !(in >> nth)) || nth < 1) {
      return "err usage: arm <op> <glob> <n> | fail <op> <glob>";
    }
    if (!VolatileFs::IsKnownOp(op)) return "err unknown op '" + op + "'";
    if (cmd == "arm") {
      fs_.Arm(op, glob, nth);
    } else {
      fs_.Fail(op, glob);
    }
    return "ok";
  }
  if (cmd == "heal") {
    fs_.Heal();
    return "ok";
  }
  if (cmd == "quit") {
    Quit();
    return "ok";
  }
  return "err unknown command '" + cmd + "'";
}

}  // namespace mq::powercut
