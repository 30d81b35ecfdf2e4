// Helpers for calling the broker and NameServer: async unary calls whose completion hops from
// the gRPC thread onto an IoExecutor (so no client code runs on gRPC threads), and blocking
// calls with a deadline. The async call state (context, response, the request's owner) is one
// heap object shared by the completion.
#pragma once
#include <google/protobuf/arena.h>
#include <grpcpp/client_context.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include "common/io_executor.h"
#include "common/result.h"
#include "common/rpc/status_convert.h"

namespace mq::client {

inline void SetTimeout(grpc::ClientContext* ctx, int64_t timeout_ms) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
}

// Counts calls whose gRPC completion has not run yet, so an owner can wait for zero before it
// destroys the executor the completions post to, or its channels.
struct InflightCounter {
  std::atomic<int64_t> count{0};
};

// Passed as a call's executor: `done` runs on gRPC's callback thread instead of being posted,
// which saves a thread wake-up per call (on a VM, more than a small call's own work). Only for
// a `done` that never blocks, since a couple of such threads serve every call of the process;
// it may start calls itself, so nobody may hold a lock it takes while starting its call.
inline constexpr IoExecutor* kOnGrpcThread = nullptr;

namespace detail {
// Issues the call whose state `call` holds (a grpc::ClientContext `ctx` among its members):
// sets the deadline, counts the call in flight until its gRPC completion has run, and posts
// done(reply(*call)) -- or the failed status -- onto exec (or runs it, for kOnGrpcThread).
// Returns the call's context, kept alive by the state, for TryCancel().
//
// The completion lets go of the state before the count drops: the state's ClientContext holds
// its channel, and an owner that sees zero in flight drops its own channels. Were the context
// the channel's last holder, the channel would be destroyed on gRPC's thread, and gRPC 1.51,
// when that was the process's last channel, deletes the completion queue that very thread is
// serving (a double free in grpc_cq_internal_unref; broker_bench hit it between its phases).
template <typename Value, typename State, typename Start, typename Req, typename Resp, typename Reply>
std::shared_ptr<grpc::ClientContext> IssueCall(std::shared_ptr<State> call, Start start, const Req* req,
                                               Resp* resp, int64_t timeout_ms, IoExecutor* exec,
                                               std::shared_ptr<InflightCounter> inflight, Reply reply,
                                               std::function<void(Result<Value>)> done) {
  SetTimeout(&call->ctx, timeout_ms);
  inflight->count.fetch_add(1);
  start(&call->ctx, req, resp, [call, exec, inflight, reply, done = std::move(done)](grpc::Status s) mutable {
    {
      auto complete = [call = std::move(call), reply, s = std::move(s), done = std::move(done)]() {
        if (s.ok()) {
          done(reply(*call));
        } else {
          done(rpc::FromGrpcStatus(s));
        }
      };
      if (exec == kOnGrpcThread) {
        complete();
      } else {
        exec->Post(std::move(complete));
      }
    }
    inflight->count.fetch_sub(1);
  });
  return std::shared_ptr<grpc::ClientContext>(call, &call->ctx);
}
}  // namespace detail

// start(ctx, req, resp, on_done) issues the call, e.g. stub->async()->PullMessage(...), for a
// request the caller keeps: `req` must stay unchanged until `done` runs, and `owner` (held by
// the call) is what keeps it alive, so a large request (a batch of messages) is not copied per
// attempt. done(Result<Resp>) runs on exec (kOnGrpcThread: on gRPC's thread). Returns the
// call's context, for TryCancel().
template <typename Req, typename Resp, typename Start>
std::shared_ptr<grpc::ClientContext> StartCallWithRequestOf(Start start, std::shared_ptr<const void> owner,
                                                            const Req* req, int64_t timeout_ms,
                                                            IoExecutor* exec,
                                                            std::shared_ptr<InflightCounter> inflight,
                                                            std::function<void(Result<Resp>)> done) {
  struct State {
    grpc::ClientContext ctx;
    Resp resp;
    std::shared_ptr<const void> owner;
  };
  auto call = std::make_shared<State>();
  call->owner = std::move(owner);
  Resp* resp = &call->resp;
  return detail::IssueCall<Resp>(
      std::move(call), std::move(start), req, resp, timeout_ms, exec, std::move(inflight),
      [](State& state) { return std::move(state.resp); }, std::move(done));
}

// The same for a request the call owns.
template <typename Req, typename Resp, typename Start>
std::shared_ptr<grpc::ClientContext> StartCall(Start start, Req req, int64_t timeout_ms, IoExecutor* exec,
                                               std::shared_ptr<InflightCounter> inflight,
                                               std::function<void(Result<Resp>)> done) {
  auto owned = std::make_shared<const Req>(std::move(req));
  const Req* raw = owned.get();
  return StartCallWithRequestOf<Req, Resp>(std::move(start), std::move(owned), raw, timeout_ms, exec,
                                           std::move(inflight), std::move(done));
}

// StartCall for replies of many messages: the response is parsed onto a protobuf arena owned
// by the call, so a pull reply of hundreds of messages is a few arena blocks instead of hundreds
// of objects allocated and freed one by one (the consumer's biggest malloc cost,
// docs/benchmarks.md). `done` borrows the response for its own duration only: it may move
// strings out of it but must not keep pointers into it. done(Result<Resp*>) runs on exec.
template <typename Req, typename Resp, typename Start>
std::shared_ptr<grpc::ClientContext> StartArenaCall(Start start, Req req, int64_t timeout_ms,
                                                    IoExecutor* exec,
                                                    std::shared_ptr<InflightCounter> inflight,
                                                    std::function<void(Result<Resp*>)> done) {
  struct State {
    grpc::ClientContext ctx;
    Req req;
    google::protobuf::Arena arena;
    Resp* resp = google::protobuf::Arena::CreateMessage<Resp>(&arena);
  };
  auto call = std::make_shared<State>();
  call->req = std::move(req);
  const Req* req_ptr = &call->req;
  Resp* resp = call->resp;
  return detail::IssueCall<Resp*>(
      std::move(call), std::move(start), req_ptr, resp, timeout_ms, exec, std::move(inflight),
      [](State& state) { return state.resp; }, std::move(done));
}

// fn(ctx, resp) -> grpc::Status, e.g. [&](auto* c, auto* r) { return stub->Heartbeat(c, req, r); }
template <typename Resp, typename Fn>
Result<Resp> BlockingCall(int64_t timeout_ms, Fn fn) {
  grpc::ClientContext ctx;
  SetTimeout(&ctx, timeout_ms);
  Resp resp;
  grpc::Status s = fn(&ctx, &resp);
  if (!s.ok()) return rpc::FromGrpcStatus(s);
  return resp;
}

}  // namespace mq::client
