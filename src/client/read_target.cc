#include "read_target.h"

#include <algorithm>

namespace mq::client {

void Reachability::MarkUnreachable(const std::string& addr) {
  std::lock_guard lock(mu_);
  until_ms_[addr] = clock_->NowMillis() + isolation_ms_;
}

void Reachability::MarkReachable(const std::string& addr) {
  std::lock_guard lock(mu_);
  until_ms_.erase(addr);
}

bool Reachability::IsReachable(const std::string& addr) const {
  std::lock_guard lock(mu_);
  auto it = until_ms_.find(addr);
  return it == until_ms_.end() || clock_->NowMillis() >= it->second;
}

bool IsTransportFailure(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kTimeout;
}

std::vector<std::string> ReadCandidates(const mq::v1::TopicRouteData& route, const std::string& broker_name,
                                        int64_t preferred_id, const Reachability& reach) {
  std::vector<std::pair<int64_t, std::string>> by_id;  // (rank, addr)
  for (const auto& bd : route.broker_datas()) {
    if (bd.broker_name() != broker_name) continue;
    for (const auto& [id, addr] : bd.broker_addrs()) {
      if (addr.empty()) continue;
      // Rank: the preferred id first, then the master, then slaves in id order.
      int64_t rank = id == preferred_id ? -2 : (id == 0 ? -1 : id);
      by_id.emplace_back(rank, addr);
    }
  }
  std::sort(by_id.begin(), by_id.end());
  std::vector<std::string> out;
  std::vector<std::string> isolated;
  for (auto& [rank, addr] : by_id) {
    if (std::find(out.begin(), out.end(), addr) != out.end() ||
        std::find(isolated.begin(), isolated.end(), addr) != isolated.end()) {
      continue;
    }
    (reach.IsReachable(addr) ? out : isolated).push_back(std::move(addr));
  }
  out.insert(out.end(), isolated.begin(), isolated.end());
  return out;
}

}  // namespace mq::client
