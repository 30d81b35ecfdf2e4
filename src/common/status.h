// Status: the outcome of an operation that can fail, leveldb-style. Cheap when OK
// (no allocation), carries a code and a human-readable message otherwise.
// Thread-compatible value type.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace mq {

// Families mirror gRPC canonical codes so adapters convert one-to-one.
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 3,
  kTimeout = 4,  // maps to DEADLINE_EXCEEDED
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kNotSupported = 12,  // maps to UNIMPLEMENTED
  kInternal = 13,
  kUnavailable = 14,
  kCorruption = 15,  // maps to DATA_LOSS
  kIoError = 100,    // maps to INTERNAL
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Timeout(std::string m) { return {StatusCode::kTimeout, std::move(m)}; }
  static Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
  static Status NotSupported(std::string m) { return {StatusCode::kNotSupported, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsInvalidArgument() const { return code_ == StatusCode::kInvalidArgument; }

  // "OK" or "<CodeName>: <message>".
  std::string ToString() const;

  // Returns a copy with "context: " prepended to the message.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

}  // namespace mq

#define MQ_RETURN_IF_ERROR(expr)                     \
  do {                                               \
    ::mq::Status mq_status_tmp_ = (expr);            \
    if (!mq_status_tmp_.ok()) return mq_status_tmp_; \
  } while (0)
