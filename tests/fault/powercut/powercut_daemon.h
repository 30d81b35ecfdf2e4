// PowercutDaemon: keeps one VolatileFs mounted on a directory across power cuts. A cut drops
// the model's volatile state at once (and SIGKILLs the registered victim, as a power cut
// would); Remount() then detaches the old mount, whose kernel page cache (dirty mmap pages
// included) dies with it, and mounts the surviving durable state fresh.
//
// Threads: Run() owns the FUSE session loop (one thread; the model serialises anyway).
// Handle() is called from the control thread; mu_ guards the generation state below.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>

#include "fault/powercut/volatile_fs.h"

namespace mq::powercut {

class PowercutDaemon {
 public:
  explicit PowercutDaemon(std::string mountpoint);
  PowercutDaemon(const PowercutDaemon&) = delete;
  PowercutDaemon& operator=(const PowercutDaemon&) = delete;

  // Mounts and serves generation after generation until Quit. Returns false (with *error) if
  // the first mount fails; `on_first_mount` runs once the first mount serves requests.
  bool Run(std::string* error, const std::function<void()>& on_first_mount);
  // One control command, one reply line ("ok ..." or "err ..."). See main.cc for the list.
  std::string Handle(const std::string& line);
  void Quit();

 private:
  // Detaches the current mount and waits for its session loop to end.
  bool Detach(std::string* error);
  bool WaitLoopEnded(int timeout_ms);
  void AbortConnection();

  VolatileFs fs_;
  const std::string mountpoint_;
  std::atomic<pid_t> victim_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  int generation_ = 0;         // GUARDED_BY(mu_)
  bool loop_running_ = false;  // GUARDED_BY(mu_)
  bool want_mount_ = false;    // GUARDED_BY(mu_)
  bool quit_ = false;          // GUARDED_BY(mu_)
  std::string connection_id_;  // GUARDED_BY(mu_): minor device number of the live mount
};

}  // namespace mq::powercut
