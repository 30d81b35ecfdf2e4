#include "common/rpc/status_convert.h"

#include <gtest/gtest.h>

#include <string>

namespace mq::rpc {
namespace {

TEST(StatusConvertTest, CodesMapBothWays) {
  EXPECT_TRUE(ToGrpcStatus(Status::OK()).ok());
  const grpc::Status s = ToGrpcStatus(Status::InvalidArgument("topic: is empty"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "topic: is empty");
  EXPECT_EQ(FromGrpcStatus(s).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ToGrpcStatus(Status::NotSupported("x")).error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

// A message quoting a huge field would overflow gRPC's metadata limit and lose the reason.
TEST(StatusConvertTest, ALongMessageIsClippedSoThatItArrives) {
  const std::string key(80 * 1024, 'k');
  const grpc::Status s = ToGrpcStatus(Status::InvalidArgument("key: '" + key + "' is not indexed"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LE(s.error_message().size(), kMaxStatusMessageBytes + 32);
  EXPECT_EQ(s.error_message().rfind("key: 'kkk", 0), 0u);
  EXPECT_NE(s.error_message().find("bytes)"), std::string::npos);
}

}  // namespace
}  // namespace mq::rpc
