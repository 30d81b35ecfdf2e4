// TmpfsMount: a size-limited tmpfs mounted on a directory for the lifetime of the object, so a
// test can run the store into a real ENOSPC. Needs CAP_SYS_ADMIN (root in the dev VM); when
// mounting is impossible, mounted() is false and skip_reason() says why (tests GTEST_SKIP).
// Not thread-safe; one per test. The destructor detaches the mount (MNT_DETACH), so a
// process that still has files open there does not keep the test from finishing.
#pragma once

#include <cstdint>
#include <string>

namespace mq::testing {

class TmpfsMount {
 public:
  // Creates `dir` if needed and mounts a tmpfs of `size_bytes` on it.
  TmpfsMount(const std::string& dir, int64_t size_bytes);
  ~TmpfsMount();
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& skip_reason() const { return skip_reason_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string skip_reason_;
};

}  // namespace mq::testing
