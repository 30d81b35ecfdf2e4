// WaitUntil: polls a condition until it holds or a deadline passes. Tests synchronise on
// conditions with deadlines, never on bare sleeps.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace mq::testing {

inline bool WaitUntil(const std::function<bool()>& condition,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10),
                      std::chrono::milliseconds poll = std::chrono::milliseconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(poll);
  }
  return condition();
}

}  // namespace mq::testing
