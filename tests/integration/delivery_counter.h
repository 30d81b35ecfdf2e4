// DeliveryCounter: how many times each message body was delivered, for consumer tests that
// check "all of them" (distinct) and "none twice" (total). Thread-safe: one mutex.
#pragma once

#include <map>
#include <mutex>
#include <string>

namespace mq::testing {

class DeliveryCounter {
 public:
  void Add(const std::string& body) {
    std::lock_guard lock(mu_);
    seen_[body]++;
  }
  size_t distinct() {
    std::lock_guard lock(mu_);
    return seen_.size();
  }
  int total() {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [body, count] : seen_) n += count;
    return n;
  }
  // "m3x2 m7x2 ..." for failure messages.
  std::string Duplicates() {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& [body, count] : seen_) {
      if (count > 1) out += body + "x" + std::to_string(count) + " ";
    }
    return out;
  }
  int Count(const std::string& body) {
    std::lock_guard lock(mu_);
    auto it = seen_.find(body);
    return it == seen_.end() ? 0 : it->second;
  }
  bool Has(const std::string& body) {
    std::lock_guard lock(mu_);
    return seen_.count(body) > 0;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> seen_;  // guarded by mu_
};

}  // namespace mq::testing
