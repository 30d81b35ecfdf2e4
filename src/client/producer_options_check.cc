#include "producer_options_check.h"

#include "common/naming.h"

namespace mq::client {

Status ValidateProducerOptions(const ProducerOptions& o) {
  MQ_RETURN_IF_ERROR(ValidateName("group", o.group));
  if (o.send_timeout_ms <= 0) return Status::InvalidArgument("send_timeout_ms: must be positive");
  if (o.retry_times < 0) return Status::InvalidArgument("retry_times: must not be negative");
  if (o.back_pressure_for_async_send_num <= 0)
    return Status::InvalidArgument("back_pressure_for_async_send_num: must be positive");
  if (o.back_pressure_for_async_send_size <= 0)
    return Status::InvalidArgument("back_pressure_for_async_send_size: must be positive");
  if (o.auto_batch_max_in_flight <= 0)
    return Status::InvalidArgument("auto_batch_max_in_flight: must be positive");
  if (o.auto_batch_max_messages <= 0 || o.auto_batch_max_messages > 1024)
    return Status::InvalidArgument("auto_batch_max_messages: must be 1..1024 (the broker's batch limit)");
  if (o.auto_batch_max_bytes <= 0) return Status::InvalidArgument("auto_batch_max_bytes: must be positive");
  if (o.auto_batch_linger_us < 0 || o.auto_batch_linger_us > 1'000'000)
    return Status::InvalidArgument("auto_batch_linger_us: must be 0..1000000 (at most 1 s)");
  return Status::OK();
}

}  // namespace mq::client
