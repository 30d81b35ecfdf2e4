// Small helpers for tests that call gRPC stubs directly.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>

#define ASSERT_GRPC_OK(expr)                                              \
  do {                                                                    \
    grpc::Status s_ = (expr);                                             \
    ASSERT_TRUE(s_.ok()) << s_.error_code() << " " << s_.error_message(); \
  } while (0)

#define EXPECT_GRPC_ERROR(expr, code, prefix)                                 \
  do {                                                                        \
    grpc::Status s_ = (expr);                                                 \
    EXPECT_EQ(s_.error_code(), code) << s_.error_message();                   \
    EXPECT_EQ(s_.error_message().rfind(prefix, 0), 0u) << s_.error_message(); \
  } while (0)

namespace mq::testing {

// Unary call with a 10 s deadline: Call(stub, &Stub::Method, request, &response).
template <typename Stub, typename Method, typename Req, typename Resp>
grpc::Status Call(Stub* stub, Method method, const Req& req, Resp* resp) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return (stub->*method)(&ctx, req, resp);
}

}  // namespace mq::testing
