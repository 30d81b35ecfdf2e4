// The libfuse3 (high-level, path-based) operation table that forwards every call to a
// VolatileFs. No caching tricks: no direct_io (so MAP_SHARED mmap works and msync arrives as
// WRITE + FSYNC), no writeback cache (so each write(2) reaches the model when it returns).
// Unlinked files stay usable through their handles (hard_remove + nullpath_ok).
#pragma once

#define FUSE_USE_VERSION 35
#include <fuse3/fuse.h>

namespace mq::powercut {

// The table; the VolatileFs is passed as fuse_new()'s user data.
const fuse_operations& PowercutOperations();

}  // namespace mq::powercut
