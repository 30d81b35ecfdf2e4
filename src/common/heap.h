// Allocator policy for the daemons: glibc's malloc tuned for message-sized buffers, and the
// free heap handed back to the kernel after a burst. No-ops on other C libraries and under
// sanitizers' allocators (which ignore mallopt). Thread-safe.
#pragma once

namespace mq {

// Call once at the top of main(), before any thread starts. Buffers of 1 MiB and more are
// mmapped and unmapped when freed (glibc otherwise raises its mmap threshold after the first
// such free and keeps later ones in the heap), and the heap uses at most 2 arenas unless
// MALLOC_ARENA_MAX says otherwise: gRPC's transport buffers are small allocations made on
// whichever thread reads, and with glibc's default 8 arenas per core each arena kept its own
// high-water mark of freed buffers (docs/benchmarks.md, "Memory under a hostile client").
void TuneAllocatorForLargeMessages();

// Returns free heap pages to the kernel (malloc_trim). Cheap when little is free; run it
// periodically so a burst's peak does not stay resident.
void ReleaseFreeHeap();

}  // namespace mq
