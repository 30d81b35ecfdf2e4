#include "bench_report.h"

#include <cstdio>

namespace mq::bench {

void BenchReport::Tick() {
  auto now = std::chrono::steady_clock::now();
  double secs = std::chrono::duration<double>(now - last_tick_).count();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  int64_t ok = ok_.load();
  int64_t failed = failed_.load();
  double tps = secs > 0 ? static_cast<double>(ok - ok_at_last_tick_) / secs : 0;
  std::printf("[%5.0fs] %s tps=%.0f MB/s=%.2f p50=%lluus p99=%lluus p99.9=%lluus max=%lluus failed=%lld\n",
              elapsed, count_name_.c_str(), tps,
              tps * static_cast<double>(bytes_per_message_) / (1024.0 * 1024.0),
              static_cast<unsigned long long>(interval_.Percentile(0.5)),
              static_cast<unsigned long long>(interval_.Percentile(0.99)),
              static_cast<unsigned long long>(interval_.Percentile(0.999)),
              static_cast<unsigned long long>(interval_.max()),
              static_cast<long long>(failed - failed_at_last_tick_));
  std::fflush(stdout);
  interval_.Reset();
  ok_at_last_tick_ = ok;
  failed_at_last_tick_ = failed;
  last_tick_ = now;
}

void BenchReport::Finish(bool json) const {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  int64_t ok = ok_.load();
  double tps = secs > 0 ? static_cast<double>(ok) / secs : 0;
  double mbps = tps * static_cast<double>(bytes_per_message_) / (1024.0 * 1024.0);
  auto p = [&](double q) { return static_cast<unsigned long long>(total_.Percentile(q)); };
  const std::string outcomes_json = outcomes_.Json();
  const bool has_outcomes = outcomes_json != "{}";
  std::string extra_json;
  if (has_outcomes) extra_json += ",\"status\":" + outcomes_json;
  if (requests_ > 0) extra_json += ",\"requests\":" + std::to_string(requests_);
  for (const auto& [name, value] : counts_) extra_json += ",\"" + name + "\":" + std::to_string(value);
  std::string stages_text;
  if (!stages_.empty()) {
    extra_json += ",\"stages\":{";
    for (size_t i = 0; i < stages_.size(); ++i) {
      const auto& [name, h] = stages_[i];
      const auto p50 = static_cast<unsigned long long>(h->Percentile(0.5));
      const auto p99 = static_cast<unsigned long long>(h->Percentile(0.99));
      const auto p999 = static_cast<unsigned long long>(h->Percentile(0.999));
      char buf[256];
      std::snprintf(
          buf, sizeof(buf), "%s\"%s\":{\"p50_us\":%llu,\"p99_us\":%llu,\"p999_us\":%llu,\"max_us\":%llu}",
          i == 0 ? "" : ",", name.c_str(), p50, p99, p999, static_cast<unsigned long long>(h->max()));
      extra_json += buf;
      std::snprintf(buf, sizeof(buf), "; %s p50=%lluus p99=%lluus p99.9=%lluus", name.c_str(), p50, p99,
                    p999);
      stages_text += buf;
    }
    extra_json += "}";
  }
  if (json) {
    std::printf(
        "{\"%s\":%lld,\"failed\":%lld,\"seconds\":%.3f,\"tps\":%.1f,\"mbps\":%.3f,\"p50_us\":%llu,"
        "\"p99_us\":%llu,\"p999_us\":%llu,\"max_us\":%llu%s}\n",
        count_name_.c_str(), static_cast<long long>(ok), static_cast<long long>(failed_.load()), secs, tps,
        mbps, p(0.5), p(0.99), p(0.999), static_cast<unsigned long long>(total_.max()), extra_json.c_str());
  } else {
    std::printf(
        "summary: %s=%lld failed=%lld in %.2f s: %.0f msg/s, %.2f MB/s; latency p50=%lluus p99=%lluus "
        "p99.9=%lluus max=%lluus%s%s%s\n",
        count_name_.c_str(), static_cast<long long>(ok), static_cast<long long>(failed_.load()), secs, tps,
        mbps, p(0.5), p(0.99), p(0.999), static_cast<unsigned long long>(total_.max()),
        has_outcomes ? "; outcomes " : "", has_outcomes ? outcomes_.Text().c_str() : "", stages_text.c_str());
  }
  std::fflush(stdout);
}

}  // namespace mq::bench
