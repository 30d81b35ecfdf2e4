// Gate: holds the test's callbacks and listeners until Open().
#pragma once

#include <future>
#include <mutex>

namespace mq::testing {

// Holds callbacks/listeners until Open(). Opens on destruction too, so a failing assertion
// never leaves a library thread blocked (declare it after the client it blocks).
class Gate {
 public:
  Gate() : future_(promise_.get_future().share()) {}
  ~Gate() { Open(); }
  void Open() {
    std::call_once(once_, [this] { promise_.set_value(); });
  }
  std::shared_future<void> future() const { return future_; }

 private:
  std::promise<void> promise_;
  std::shared_future<void> future_;
  std::once_flag once_;
};

}  // namespace mq::testing
