#include "broker/v2/deliver_convert.h"

#include <google/protobuf/util/time_util.h>

#include "broker/processor/message_convert.h"
#include "broker/v2/send_convert.h"

namespace mq::broker::v2 {

void ToV2Message(const pop::PoppedMessage& popped, std::string_view name_space,
                 apache::rocketmq::v2::Message* out) {
  mq::v1::MessageExt ext;
  ToMessageExt(popped.message, "", &ext);
  ToV2Message(ext, name_space, out);
  auto* sys = out->mutable_system_properties();
  sys->set_queue_id(popped.queue_id);
  sys->set_queue_offset(popped.queue_offset);
  sys->set_delivery_attempt(popped.delivery_attempt);
  sys->set_receipt_handle(popped.receipt_handle);
  *sys->mutable_invisible_duration() =
      google::protobuf::util::TimeUtil::MillisecondsToDuration(popped.invisible_ms);
}

}  // namespace mq::broker::v2
