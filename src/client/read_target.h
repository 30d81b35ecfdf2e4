// Which node of a broker set a consumer reads from and commits offsets to, so consumption goes
// on from a slave while the master is gone (RocketMQ "consumes from Master/Slave brokers":
// PullAPIWrapper.recalculatePullFromWhichNode + MQClientInstance.findBrokerAddressInSubscribe).
//
// A master counts as gone when the route has no id-0 address, or when a call to it failed in
// transport (kUnavailable, kTimeout) and Reachability still isolates it. Producers never use
// this: they send to masters only (route_info.h PublishQueues).
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "mq/v1/common.pb.h"

namespace mq::client {

// Broker addresses a consumer could not reach recently. Marking isolates an address for
// isolation_ms; a successful call clears it at once. Thread-safe: mu_ guards until_ms_.
class Reachability {
 public:
  static constexpr int64_t kDefaultIsolationMs = 10'000;

  explicit Reachability(int64_t isolation_ms = kDefaultIsolationMs,
                        const Clock* clock = SystemClock::Default())
      : isolation_ms_(isolation_ms), clock_(clock) {}

  void MarkUnreachable(const std::string& addr);
  void MarkReachable(const std::string& addr);
  bool IsReachable(const std::string& addr) const;

 private:
  const int64_t isolation_ms_;
  const Clock* clock_;
  mutable std::mutex mu_;
  std::map<std::string, int64_t> until_ms_;  // guarded by mu_
};

// True for failures that say nothing about the request and much about the broker: it is down,
// unreachable or hung (kUnavailable, kTimeout). Such an address is worth failing over from.
bool IsTransportFailure(const Status& s);

// Addresses of broker_name's set to read from, best first: the preferred id (the broker's
// suggest_which_broker_id) when the route has it, then the master, then the slaves by id.
// Reachable addresses come before isolated ones, so a dead master is tried last rather than
// never (isolation may be stale). Empty when the route does not know broker_name.
std::vector<std::string> ReadCandidates(const mq::v1::TopicRouteData& route, const std::string& broker_name,
                                        int64_t preferred_id, const Reachability& reach);

// Where offsets are committed and queried: the master when it is there and reachable, the
// slaves otherwise (a slave's commits merge back into the master, docs/replication.md).
inline std::vector<std::string> OffsetCandidates(const mq::v1::TopicRouteData& route,
                                                 const std::string& broker_name, const Reachability& reach) {
  return ReadCandidates(route, broker_name, 0, reach);
}

// Runs call(addr) on each candidate in turn until one does not fail in transport; marks the
// ones that do as unreachable and the one that answers as reachable. Returns the last result,
// or kUnavailable naming what when there is no candidate.
template <typename R, typename Call>
R CallWithFailover(const std::vector<std::string>& candidates, Reachability& reach, const std::string& what,
                   Call call) {
  if (candidates.empty()) return Status::Unavailable(what + ": no broker address in the route");
  R last = Status::Unavailable(what);
  for (const auto& addr : candidates) {
    last = call(addr);
    Status s;
    if constexpr (std::is_same_v<R, Status>) {
      s = last;
    } else {
      s = last.status();
    }
    if (!IsTransportFailure(s)) {
      reach.MarkReachable(addr);
      return last;
    }
    reach.MarkUnreachable(addr);
  }
  return last;
}

}  // namespace mq::client
