// Signal-driven graceful shutdown for daemons. BlockShutdownSignals() must run first in
// main(), before any thread exists, so SIGINT/SIGTERM are only ever delivered to the thread
// that calls WaitForShutdownSignal(). No async-signal-unsafe work happens in a handler.
#pragma once

namespace mq {

void BlockShutdownSignals();
// Blocks until SIGINT or SIGTERM arrives; returns the signal number.
int WaitForShutdownSignal();

}  // namespace mq
