#include "fault/powercut/powercut_mount.h"

#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "testutil/wait.h"

namespace mq::testing {

PowercutMount::PowercutMount(const std::string& dir)
    : mountpoint_(std::filesystem::absolute(dir + "/mnt").string()),
      control_(dir + "/powercut.sock"),
      ready_(dir + "/powercut.ready") {
  if (::access("/dev/fuse", R_OK | W_OK) != 0) {
    skip_reason_ = std::string("FUSE unusable: /dev/fuse: ") + std::strerror(errno);
    return;
  }
  std::filesystem::create_directories(mountpoint_);
  if (!process_.Start(BinaryPath("mq_powercut_fs"),
                      {"--mount", mountpoint_, "--control", control_, "--ready-file", ready_},
                      dir + "/powercut.log")) {
    skip_reason_ = "cannot start mq_powercut_fs";
    return;
  }
  auto ready = WaitForReadyFile(ready_, std::chrono::seconds(10));
  if (!ready) {
    skip_reason_ = "mq_powercut_fs did not come up: " + process_.ReadLog();
    return;
  }
  if (*ready != "ok") {
    skip_reason_ = "FUSE unusable: " + *ready + " " + process_.ReadLog();
    return;
  }
  mounted_ = true;
}

PowercutMount::~PowercutMount() {
  if (process_.pid() > 0) {
    Command("quit");
    if (!process_.Wait(std::chrono::seconds(10))) process_.Kill();
  }
  // A daemon that died leaves a dead mount ("transport endpoint is not connected").
  ::umount2(mountpoint_.c_str(), MNT_DETACH);
}

std::string PowercutMount::Command(const std::string& line) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("err socket: ") + std::strerror(errno);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, control_.c_str(), sizeof(addr.sun_path) - 1);
  // The longest command (remount) is bounded by the daemon's own deadlines (~25 s).
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::string err = std::string("err connect: ") + std::strerror(errno);
    ::close(fd);
    return err;
  }
  std::string request = line + "\n", reply;
  if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return "err write";
  }
  char ch;
  while (::read(fd, &ch, 1) == 1 && ch != '\n') reply.push_back(ch);
  ::close(fd);
  return reply.empty() ? "err no reply" : reply;
}

bool PowercutMount::WaitFrozen(std::chrono::milliseconds timeout) {
  return WaitUntil([&] { return Command("status").find(" frozen=1") != std::string::npos; }, timeout);
}

}  // namespace mq::testing
