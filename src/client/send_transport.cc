#include "send_transport.h"

#include <grpcpp/support/byte_buffer.h>

#include <string_view>
#include <utility>

#include "common/frame.h"
#include "rpc_call.h"

namespace mq::client {

void StartSendRequest(ClientInstance& client, const std::string& addr, const std::string& fast_addr,
                      const std::string& header, const std::shared_ptr<SendContext>& ctx, int64_t timeout_ms,
                      SendReplyDone done) {
  if (auto fast = fast_addr.empty() ? nullptr : client.FastSend(fast_addr)) {
    auto inflight = client.inflight();
    inflight->count.fetch_add(1);
    const std::string_view messages(reinterpret_cast<const char*>(ctx->messages.begin()),
                                    ctx->messages.size());
    fast->Call(frame::Method::kSendMessage, {header, messages}, timeout_ms,
               [done = std::move(done), inflight](Result<std::string_view> r) {
                 SendReplyBuffer buffer;
                 SendReply reply;
                 const Status failed = r.ok() ? DecodeSendReply(*r, &buffer, &reply) : r.status();
                 done(failed, reply);
                 inflight->count.fetch_sub(1);
               });
    return;
  }
  auto [stub, lease] = client.BrokerPreEncodedSend(addr);
  auto on_reply = [done = std::move(done), lease = lease](Result<grpc::ByteBuffer> r) mutable {
    // The connection is free before anyone hears of the reply: a sender that sends again at
    // once must find it idle, not open another.
    lease.reset();
    SendReplyBuffer buffer;
    SendReply reply;
    const Status failed = r.ok() ? DecodeSendReply(*r, &buffer, &reply) : r.status();
    done(failed, reply);
  };
  const grpc::Slice parts[] = {grpc::Slice(header), ctx->messages};
  ctx->request = grpc::ByteBuffer(parts, 2);
  StartCallWithRequestOf<grpc::ByteBuffer, grpc::ByteBuffer>(
      [stub = stub](auto* c, auto* q, auto* r, auto cb) {
        stub->UnaryCall(c, "/mq.v1.Messaging/SendMessage", grpc::StubOptions(), q, r, std::move(cb));
      },
      ctx, &ctx->request, timeout_ms, kOnGrpcThread, client.inflight(), std::move(on_reply));
}

}  // namespace mq::client
