// Names the calling thread, as `top -H`, `ps -L`, perf and gdb show it. Every long-lived thread
// of the daemons and the client names itself after its job (RocketMQ names its service threads
// the same way: AllocateMappedFileService, ReputMessageService, ...). Linux keeps 15 bytes;
// longer names are cut there.
#pragma once

#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace mq {

void SetCurrentThreadName(std::string_view name);
// The calling thread's name ("" when it cannot be read).
std::string CurrentThreadName();

// A std::thread (or std::jthread) that names itself `name`, then runs `body` with `args`.
template <typename Thread = std::thread, typename Body, typename... Args>
Thread StartNamedThread(std::string name, Body&& body, Args&&... args) {
  return Thread(
      [name = std::move(name), body = std::forward<Body>(body)](auto&&... a) mutable {
        SetCurrentThreadName(name);
        body(std::forward<decltype(a)>(a)...);
      },
      std::forward<Args>(args)...);
}

}  // namespace mq
