// TempDir: a fresh directory under $TMPDIR (or /tmp), removed with its contents on
// destruction unless MQ_KEEP_TEST_DIRS is set. Not thread-safe; one per test.
#pragma once

#include <string>
#include <vector>

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

// The regular files below `dir`, recursively, sorted by path; none when `dir` is missing.
std::vector<std::string> RegularFilesUnder(const std::string& dir);

}  // namespace mq::testing
