#include "testutil/tmpfs_mount.h"

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace mq::testing {

TmpfsMount::TmpfsMount(const std::string& dir, int64_t size_bytes) : dir_(dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    skip_reason_ = "cannot create mount point " + dir + ": " + ec.message();
    return;
  }
  std::string opts = "size=" + std::to_string(size_bytes) + ",mode=0755";
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
    skip_reason_ = "cannot mount a tmpfs on " + dir + " (" + std::strerror(errno) +
                   "); this test needs CAP_SYS_ADMIN to run the store into a real ENOSPC";
    return;
  }
  mounted_ = true;
}

TmpfsMount::~TmpfsMount() {
  if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
}

}  // namespace mq::testing
