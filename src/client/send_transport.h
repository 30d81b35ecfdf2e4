// StartSendRequest: carries one attempt of a send (its request header and the messages' wire
// bytes in SendContext::messages) to a broker: over the broker's fast send port when the route
// names one and the client can use it (ClientInstance::FastSend), else as a gRPC SendMessage on
// the broker's send connections. The producer decides what to send and where; this only moves
// the bytes and reads the reply.
// `done(status, reply)` runs once, on the thread the reply came on (the fast connection's reader
// or gRPC's callback thread), so it must not block; `reply` points into bytes that live only
// during the call. The call counts in the client's in-flight calls until `done` has returned.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "client_instance.h"
#include "common/status.h"
#include "send_context.h"
#include "send_reply.h"

namespace mq::client {

using SendReplyDone = std::function<void(const Status&, const SendReply&)>;

// `fast_addr` empty: gRPC. `ctx` keeps the request's bytes alive until the reply.
void StartSendRequest(ClientInstance& client, const std::string& addr, const std::string& fast_addr,
                      const std::string& header, const std::shared_ptr<SendContext>& ctx, int64_t timeout_ms,
                      SendReplyDone done);

}  // namespace mq::client
