// Result<T>: a value or the Status that explains why there is none.
// Thread-compatible value type.
#pragma once

#include <optional>
#include <utility>

#include "common/check.h"
#include "common/status.h"

namespace mq {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    MQ_CHECK(!status_.ok(), "Result constructed from an OK status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    MQ_CHECK(ok(), "Result::value() on error: {}", status_.ToString());
    return *value_;
  }
  const T& value() const& {
    MQ_CHECK(ok(), "Result::value() on error: {}", status_.ToString());
    return *value_;
  }
  T&& value() && {
    MQ_CHECK(ok(), "Result::value() on error: {}", status_.ToString());
    return std::move(*value_);
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace mq

#define MQ_CONCAT_INNER_(a, b) a##b
#define MQ_CONCAT_(a, b) MQ_CONCAT_INNER_(a, b)
#define MQ_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
// MQ_ASSIGN_OR_RETURN(auto x, Compute()); returns the error Status from the enclosing function.
#define MQ_ASSIGN_OR_RETURN(lhs, expr) \
  MQ_ASSIGN_OR_RETURN_IMPL_(MQ_CONCAT_(mq_result_tmp_, __LINE__), lhs, expr)
