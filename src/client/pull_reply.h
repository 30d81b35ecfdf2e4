// PullReplyView: the parts of a PullMessageResponse a consumer acts on, read from its wire
// bytes without copying the stored records (the fast send port's reply frame) or taken from a
// parsed response (gRPC). Pure functions; any thread. A view lives no longer than the bytes or
// the response it was read from.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "common/result.h"
#include "mq/v1/broker.pb.h"

namespace mq::client {

struct PullReplyView {
  mq::v1::PullStatus status = mq::v1::FOUND;
  int64_t next_begin_offset = 0;
  int64_t min_offset = 0;
  int64_t max_offset = 0;
  int64_t suggest_which_broker_id = 0;
  std::string_view records;  // the found messages as stored (accept_records), back to back
  // A parsed reply whose `messages` carry the found messages (a broker that sends no
  // records), else null.
  mq::v1::PullMessageResponse* messages_from = nullptr;
};

// Reads a PullMessageResponse's wire bytes. False when they are malformed, carry a field this
// reader does not know, or carry `messages`: parse those with protobuf (PullReplyViewOf).
bool ReadPullReply(std::string_view bytes, PullReplyView* out);
// The view of a parsed reply (its records and messages stay in `reply`).
PullReplyView PullReplyViewOf(mq::v1::PullMessageResponse* reply);
// The view a consumer acts on, from a reply's wire bytes: ReadPullReply's, or, for what that
// reader leaves to protobuf (a MessageExt list, an unknown field), the view of *parsed, which
// this fills with protobuf's parse. Internal when protobuf refuses the bytes too.
Result<PullReplyView> ReadPullReplyOrParse(std::string_view bytes,
                                           std::unique_ptr<mq::v1::PullMessageResponse>* parsed);

}  // namespace mq::client
