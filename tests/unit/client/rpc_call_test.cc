// rpc_call.h: an async call's completion. The call's state (its ClientContext, which holds the
// channel) must be gone from gRPC's thread by the time the owner can see nothing in flight: an
// owner then drops its channels, and a channel destroyed on gRPC's thread as the process's last
// one makes gRPC 1.51 delete the completion queue that thread is serving.
// The start functions here stand in for stub->async()->X(...): they keep the completion, which
// the test then runs as gRPC's thread would, and destroys only afterwards, as gRPC does.
#include "rpc_call.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>

namespace mq::client {
namespace {

using Completion = std::function<void(grpc::Status)>;

struct KeptCompletion {
  Completion fn;
  auto Start() {
    return [this](grpc::ClientContext*, const std::string*, std::string* resp, Completion cb) {
      *resp = "answer";
      fn = std::move(cb);
    };
  }
};

TEST(RpcCallTest, ACompletionOnGrpcsThreadLetsGoOfTheCallBeforeTheCountDrops) {
  KeptCompletion grpc_side;
  auto inflight = std::make_shared<InflightCounter>();
  auto owner = std::make_shared<const std::string>("request");
  std::weak_ptr<const std::string> state_alive = owner;
  std::string answered;
  auto ctx = StartCallWithRequestOf<std::string, std::string>(
      grpc_side.Start(), owner, owner.get(), 1000, kOnGrpcThread, inflight,
      [&](Result<std::string> r) { answered = r.ok() ? *r : r.status().ToString(); });
  ctx.reset();
  owner.reset();
  ASSERT_EQ(inflight->count.load(), 1);
  ASSERT_FALSE(state_alive.expired());

  grpc_side.fn(grpc::Status::OK);  // gRPC's thread runs the completion; the functor lives on
  EXPECT_EQ(answered, "answer");
  EXPECT_EQ(inflight->count.load(), 0);
  EXPECT_TRUE(state_alive.expired()) << "the call's state outlives its completion on gRPC's thread";
}

TEST(RpcCallTest, ACompletionPostedToAnExecutorLeavesTheCallWithThePostedTaskOnly) {
  IoExecutor exec("rpc-call-test", 1);
  exec.Start();
  KeptCompletion grpc_side;
  auto inflight = std::make_shared<InflightCounter>();
  auto owner = std::make_shared<const std::string>("request");
  std::weak_ptr<const std::string> state_alive = owner;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::string status;
  StartCallWithRequestOf<std::string, std::string>(grpc_side.Start(), owner, owner.get(), 1000, &exec,
                                                   inflight, [&](Result<std::string> r) {
                                                     std::lock_guard lock(mu);
                                                     status = r.status().ToString();
                                                     done = true;
                                                     cv.notify_all();
                                                   });
  owner.reset();

  grpc_side.fn(grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone"));
  EXPECT_EQ(inflight->count.load(), 0);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return done; }));
  }
  EXPECT_NE(status.find("gone"), std::string::npos) << status;
  exec.Shutdown();  // the posted task, and the state with it, are gone once the executor stopped
  EXPECT_TRUE(state_alive.expired()) << "gRPC's functor still holds the call's state";
}

}  // namespace
}  // namespace mq::client
