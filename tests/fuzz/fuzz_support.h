// Helpers shared by the libFuzzer targets in tests/fuzz and their g++ replay tests.
//
// A target defines LLVMFuzzerTestOneInput() and nothing else; the same source links either
// with libFuzzer (-DMQ_FUZZ=ON, clang) or with replay_test.cc (normal build, ctest).
// A broken property is reported with MQ_FUZZ_CHECK, which prints what failed and aborts, so
// libFuzzer saves the input as a crash and the replay test dies with the message.
// Single-threaded use from the fuzzing thread; nothing here is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace mq::fuzz {

[[noreturn]] void Fail(const char* condition, const std::string& detail, const char* file, int line);

#define MQ_FUZZ_CHECK(cond, detail)                                     \
  do {                                                                  \
    if (!(cond)) ::mq::fuzz::Fail(#cond, (detail), __FILE__, __LINE__); \
  } while (0)

// Turns the daemons' loggers off: corrupt input is expected and logging it would dominate
// the run time. Idempotent.
void QuietLogging();

// A refusal must explain itself: a non-OK status carries a message (house rule: bad input
// gets a clear error).
void CheckClearError(const Status& status, std::string_view what);

// A directory for one fuzzing process, on tmpfs (/dev/shm) when there is one so that file
// based targets run at memory speed. Removed with its contents on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  // Empties the directory (keeps it).
  void Clear() const;

 private:
  std::string path_;
};

// Writes bytes to path (creating parent directories); aborts on I/O failure, which is a
// problem of the machine, not a finding.
void WriteFileOrDie(const std::string& path, std::string_view bytes);

// Splits fuzz input into typed pieces (FuzzedDataProvider in miniature, no clang header).
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(reinterpret_cast<const char*>(data), size) {}
  uint8_t Byte() {
    if (data_.empty()) return 0;
    auto b = static_cast<uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return b;
  }
  // A length-prefixed piece: one byte of length (0..255), then that many bytes or fewer.
  std::string_view Piece() {
    const size_t want = Byte();  // read before data_.size(): Byte() shrinks data_
    const size_t n = std::min(want, data_.size());
    std::string_view out = data_.substr(0, n);
    data_.remove_prefix(n);
    return out;
  }
  std::string_view Rest() {
    std::string_view out = data_;
    data_ = {};
    return out;
  }
  bool empty() const { return data_.empty(); }

 private:
  std::string_view data_;
};

}  // namespace mq::fuzz
