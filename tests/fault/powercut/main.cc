// mq_powercut_fs: a test-only FUSE filesystem that loses, on command, everything not made
// durable (see volatile_fs.h for the rules). Usage:
//   mq_powercut_fs --mount DIR --control SOCKET [--ready-file FILE]
// The ready file gets "ok" once DIR serves requests, or "error: <reason>" (exit 3) if FUSE
// cannot be mounted here, so tests can skip with the reason.
// Control: connect to SOCKET, send one line, read one reply line ("ok ..." / "err ...").
//   status                      generation, frozen flag, counts, where the last cut hit
//   cut                         power cut now: volatile state gone, every operation EIO
//   remount                     detach the old mount (its page cache dies) and mount afresh
//   victim <pid>                SIGKILL this process at every cut (0: none)
//   arm <op> <glob> <n>         cut at the n-th <op> whose mount-relative path matches <glob>
//   fail <op> <glob>            matching operations fail with EIO (a failing disk)
//   heal                        drop all arms and failures
//   quit                        unmount and exit (SIGTERM does the same)
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "fault/powercut/powercut_daemon.h"

namespace {

void WriteReady(const std::string& path, const std::string& text) {
  if (path.empty()) return;
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text << "\n";
  std::rename(tmp.c_str(), path.c_str());
}

int Listen(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (fd < 0 || path.size() >= sizeof(addr.sun_path)) return -1;
  std::strcpy(addr.sun_path, path.c_str());
  ::unlink(path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 8) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// One command per connection: read a line, answer a line.
void Serve(int listen_fd, mq::powercut::PowercutDaemon* daemon) {
  while (true) {
    int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR) continue;
      return;
    }
    std::string line;
    char ch;
    while (line.size() < 4096 && ::read(c, &ch, 1) == 1 && ch != '\n') line.push_back(ch);
    // quit answers first: once it runs, the process exits.
    bool quit = line == "quit";
    std::string reply = (quit ? std::string("ok") : daemon->Handle(line)) + "\n";
    (void)!::write(c, reply.data(), reply.size());
    ::close(c);
    if (quit) daemon->Quit();
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string mountpoint, control, ready;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--mount") {
      mountpoint = argv[i + 1];
    } else if (flag == "--control") {
      control = argv[i + 1];
    } else if (flag == "--ready-file") {
      ready = argv[i + 1];
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (mountpoint.empty() || control.empty() || mountpoint[0] != '/') {
    std::fprintf(stderr, "usage: mq_powercut_fs --mount ABS_DIR --control SOCKET [--ready-file FILE]\n");
    return 2;
  }
  int probe = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (probe < 0) {
    WriteReady(ready, std::string("error: cannot open /dev/fuse: ") + std::strerror(errno));
    return 3;
  }
  ::close(probe);
  ::mkdir(mountpoint.c_str(), 0755);

  // Signals go to one thread; the FUSE loop and the control server never see them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  mq::powercut::PowercutDaemon daemon(mountpoint);
  int listen_fd = Listen(control);
  if (listen_fd < 0) {
    WriteReady(ready, "error: cannot listen on control socket " + control + ": " + std::strerror(errno));
    return 3;
  }
  std::thread([listen_fd, &daemon] { Serve(listen_fd, &daemon); }).detach();
  std::thread([set, &daemon] {
    int sig = 0;
    sigwait(&set, &sig);
    daemon.Quit();
  }).detach();

  std::string error;
  bool ok = daemon.Run(&error, [&] { WriteReady(ready, "ok"); });
  if (!ok) {
    std::fprintf(stderr, "mq_powercut_fs: %s\n", error.c_str());
    WriteReady(ready, "error: " + error);
    return 3;
  }
  ::unlink(control.c_str());
  std::fflush(nullptr);
  ::_exit(0);  // the detached control and signal threads may still be blocked
}
