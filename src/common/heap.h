// Allocator policy: glibc's malloc tuned for message-sized buffers. No-ops on other C
// libraries and under sanitizers' allocators (which ignore mallopt). Thread-safe.
//
// Why: glibc hands the free top of a heap back to the kernel (madvise) as soon as it exceeds
// 128 KiB once its thresholds are fixed, which mallopt(M_MMAP_THRESHOLD) does. Every freed
// pull reply or gRPC read buffer then cost an madvise with a TLB shoot-down on every CPU and
// page faults to map the memory again: 40 % of a backlog consumer's CPU and a third of the
// broker's on this project's 2-core VM (docs/benchmarks.md, "malloc keeps freed buffers").
#pragma once

namespace mq {

// For daemons; call once at the top of main(), before any thread starts. Buffers of 1 MiB and
// more are mmapped and unmapped when freed (glibc otherwise raises its mmap threshold after
// the first such free and keeps later ones in the heap), the heap uses at most 2 arenas unless
// MALLOC_ARENA_MAX says otherwise (gRPC's transport buffers are small allocations made on
// whichever thread reads, and with glibc's default 8 arenas per core each arena kept its own
// high-water mark of freed buffers: docs/benchmarks.md, "Memory under a hostile client"), and
// up to kKeptFreeTopBytes of free heap top stays mapped between the periodic ReleaseFreeHeap()
// calls. A threshold the user set through MALLOC_*_ or GLIBC_TUNABLES is left alone.
void TuneAllocatorForLargeMessages();

// For a process that runs clients (called by the first client that starts unless its options
// say otherwise): freed buffers below 4 MiB stay in the heap and up to kKeptFreeTopBytes of
// free heap top stays mapped, the way a JVM keeps its heap. Idempotent; leaves alone the
// thresholds the user set through MALLOC_*_ or GLIBC_TUNABLES.
void TuneAllocatorForClients();

// Free heap top that glibc keeps mapped instead of returning it at every free.
inline constexpr int kKeptFreeTopBytes = 8 * 1024 * 1024;

// True when the environment already sets glibc's malloc threshold named `glibc_name`
// ("trim_threshold", "mmap_threshold"): MALLOC_TRIM_THRESHOLD_ / MALLOC_MMAP_THRESHOLD_ or a
// glibc.malloc.<name> entry of GLIBC_TUNABLES. Pure; takes the variables' values (or null).
bool UserSetMallocThreshold(const char* legacy_env_value, const char* tunables, const char* glibc_name);

// Returns free heap pages to the kernel (malloc_trim). Cheap when little is free; run it
// periodically so a burst's peak does not stay resident.
void ReleaseFreeHeap();

}  // namespace mq
