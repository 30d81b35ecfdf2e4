// ProtoMutator: seeded, reproducible mutations of serialized protobuf requests for the
// black-box request storm. Given a valid request and its message type it produces:
//   - structured mutations through protobuf reflection: a field (at any depth) set to an
//     extreme or random value (0, -1, INT64_MIN/MAX, huge lengths, invalid UTF-8, 0x01/0x02
//     separators, NULs, path tricks), repeated fields and maps grown or cleared, oneofs switched;
//   - unknown fields appended (field numbers the schema does not have);
//   - byte-level mutations of the encoding (flips, truncation, inserted and repeated bytes);
//   - raw garbage.
// Not thread-safe: one per thread. Strings may be invalid UTF-8, so the caller should silence
// protobuf's serialization warnings (google::protobuf::SetLogHandler).
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <cstdint>
#include <random>
#include <string>

namespace mq::testing {

class ProtoMutator {
 public:
  enum class Kind { kValid, kStructured, kUnknownFields, kBytes, kGarbage };

  explicit ProtoMutator(uint64_t seed) : rng_(seed) {}

  // Picks a mutation kind (weighted) and applies it to `valid` of message type `type`.
  std::string Mutate(const google::protobuf::Descriptor* type, const std::string& valid, Kind* kind);

  std::string Structured(const google::protobuf::Descriptor* type, const std::string& valid);
  std::string WithUnknownFields(const std::string& valid);
  std::string Bytes(std::string s);
  std::string Garbage();

  uint64_t Next() { return rng_(); }

 private:
  size_t Pick(size_t n) { return static_cast<size_t>(rng_() % n); }
  void MutateMessage(google::protobuf::Message* m, int depth);
  void MutateField(google::protobuf::Message* m, const google::protobuf::FieldDescriptor* f, int depth);
  // allow_big: may return 64-128 KiB (never for repeated elements, so that a request stays
  // within a few MiB: the test is about content, the size limits have their own tests).
  std::string WildString(bool allow_big);
  int64_t WildInt();

  std::mt19937_64 rng_;
};

}  // namespace mq::testing
