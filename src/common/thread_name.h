// Names the calling thread, as `top -H`, `ps -L`, perf and gdb show it. Every long-lived thread
// of the daemons and the client names itself after its job (RocketMQ names its service threads
// the same way: AllocateMappedFileService, ReputMessageService, ...). Linux keeps 15 bytes;
// longer names are cut there.
#pragma once

#include <string>
#include <string_view>

namespace mq {

void SetCurrentThreadName(std::string_view name);
// The calling thread's name ("" when it cannot be read).
std::string CurrentThreadName();

}  // namespace mq
