// CRC-32C (Castagnoli, polynomial 0x1EDC6F41 reflected 0x82F63B78), as used by leveldb and
// iSCSI. Uses the SSE4.2 crc32 instruction when the CPU has it (three interleaved streams over
// inputs of 384 bytes or more, joined by shift tables), a table otherwise.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mq::crc32c {

// Returns the crc32c of concat(A, data[0,n-1]) where init_crc is the crc32c of some string A.
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);

inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

}  // namespace mq::crc32c
