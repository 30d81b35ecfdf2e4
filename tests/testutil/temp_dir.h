// TempDir: a fresh directory under $TMPDIR (or /tmp), removed with its contents on
// destruction unless MQ_KEEP_TEST_DIRS is set. Not thread-safe; one per test.
#pragma once

#include <string>

namespace mq::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace mq::testing
