// Calling gRPC callback-API handlers directly from a fuzz target: the request is parsed from
// fuzz bytes, the handler runs on a CallbackServerContext whose default reactor is bound to
// grpc's DefaultReactorTestPeer, and the answer must come within kHang and be well formed.
// Used from the fuzzing thread only.
#pragma once

#include <grpcpp/test/default_reactor_test_peer.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "fuzz_support.h"

namespace mq::fuzz {

inline constexpr auto kHang = std::chrono::seconds(10);

// OK, or a refusal that says why; never UNKNOWN (an unmapped error).
inline void CheckGrpc(const grpc::Status& s, std::string_view rpc) {
  if (s.ok()) return;
  MQ_FUZZ_CHECK(!s.error_message().empty(), std::string(rpc) + ": refusal without a message");
  MQ_FUZZ_CHECK(s.error_code() != grpc::StatusCode::UNKNOWN,
                std::string(rpc) + ": UNKNOWN " + s.error_message());
}

template <typename T>
T WaitOrDie(std::future<T>& f, std::string_view rpc) {
  MQ_FUZZ_CHECK(f.wait_for(kHang) == std::future_status::ready, std::string(rpc) + ": no answer within 10 s");
  return f.get();
}

template <typename Request>
bool Parse(std::string_view bytes, Request* r) {
  return r->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

// A unary handler answering through the context's default reactor.
template <typename Service, typename Request, typename Response>
void CallUnary(Service& service,
               grpc::ServerUnaryReactor* (Service::*method)(grpc::CallbackServerContext*, const Request*,
                                                            Response*),
               std::string_view bytes, std::string_view rpc) {
  Request request;
  if (!Parse(bytes, &request)) return;
  Response response;
  grpc::CallbackServerContext ctx;
  auto done = std::make_shared<std::promise<grpc::Status>>();
  auto future = done->get_future();
  grpc::testing::DefaultReactorTestPeer peer(&ctx, [done](grpc::Status s) { done->set_value(std::move(s)); });
  (service.*method)(&ctx, &request, &response);
  CheckGrpc(WaitOrDie(future, rpc), rpc);
  // The test reactor calls our callback before it marks itself finished; a handler finishing
  // on another thread (GetConsumerIds) may still be inside Finish(), so ctx must outlive it.
  while (!peer.test_status_set()) std::this_thread::yield();
}

}  // namespace mq::fuzz
