// StoreCheckpoint: the recovery start points, persisted as <root>/checkpoint.
//
// File format (text, one "key=value" per line, replaced atomically by write-temp + fsync +
// rename + fsync(dir), so it is never torn):
//   physic_offset=<commit log offset known durable; clean shutdown: the exact end>
//   logic_offset=<commit log offset below which consume queues and index are durable>
//   physic_timestamp=<ms>     logic_timestamp=<ms>
//   crc=<crc32c of the preceding lines>
// Thread-compatible value type; the owner serialises Save().
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace mq::store {

struct StoreCheckpoint {
  int64_t physic_offset = -1;  // -1: unknown
  int64_t logic_offset = -1;
  int64_t physic_timestamp = 0;
  int64_t logic_timestamp = 0;

  // NotFound when the file does not exist, Corruption when it does not parse.
  static Result<StoreCheckpoint> Load(const std::string& path);
  Status Save(const std::string& path) const;
};

}  // namespace mq::store
