// NamesrvQuery: one asynchronous QueryRoute across the NameServer list. It asks the
// preferred NameServer first and, when that one has not answered within a short hedge delay
// (or failed), asks the next one as well; the first answer wins. A black-holed NameServer
// (accepts, never answers) therefore costs a route query the hedge delay, not rpc_timeout_ms,
// and never blocks a thread. INVALID_ARGUMENT from any NameServer is an answer; NOT_FOUND is one
// only once every NameServer said so or failed (a NameServer restarted a moment ago knows no
// topic yet), and a NameServer that said it is not the one asked first next time.
//
// Threads: Start() from any thread; completions and the hedge timer run on `exec`; `done`
// runs exactly once, on `exec`; calls still running then are cancelled. mu_ guards the attempt state; never
// held across a call or `done`. Owned by shared_ptr (the completions and the timer keep it alive).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/io_executor.h"
#include "common/result.h"
#include "mq/v1/namesrv.grpc.pb.h"
#include "rpc_call.h"

namespace mq::client {

// Wait for the preferred NameServer before asking the next one too. A healthy NameServer
// answers a route query on a LAN in a few ms.
inline constexpr int64_t kNamesrvHedgeMs = 300;

class NamesrvQuery : public std::enable_shared_from_this<NamesrvQuery> {
 public:
  using StubFn = std::function<std::shared_ptr<mq::v1::NameServer::Stub>(const std::string& addr)>;
  // `answered(index)` records which NameServer answered, so the next query starts there.
  struct Params {
    std::string topic;
    std::vector<std::string> addrs;
    size_t first = 0;  // preferred NameServer
    int64_t timeout_ms = 3000;
    int64_t hedge_ms = kNamesrvHedgeMs;
    IoExecutor* exec = nullptr;
    std::shared_ptr<InflightCounter> inflight;
    StubFn stub;
    std::function<void(size_t index)> answered;
    std::function<void(Result<mq::v1::TopicRouteData>)> done;
  };

  explicit NamesrvQuery(Params p) : p_(std::move(p)) {}
  void Start();

 private:
  void AskNext();  // asks the next NameServer not asked yet, if any
  void OnReply(size_t index, Result<mq::v1::QueryRouteResponse> r);
  void Finish(Result<mq::v1::TopicRouteData> r);

  Params p_;
  std::mutex mu_;
  size_t asked_ = 0;                    // guarded by mu_: NameServers asked so far
  size_t outstanding_ = 0;              // guarded by mu_: calls without a reply
  bool finished_ = false;               // guarded by mu_
  IoExecutor::TaskId hedge_timer_ = 0;  // guarded by mu_
  std::optional<Status> not_found_;     // guarded by mu_: the first NOT_FOUND
  // Calls started so far; the losers are cancelled once an answer is in, so a black-holed
  // NameServer does not keep a call (and the client's shutdown) waiting for its deadline.
  std::vector<std::shared_ptr<grpc::ClientContext>> calls_;  // guarded by mu_
};

}  // namespace mq::client
