#include "bench_runs.h"

#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "bench_report.h"
#include "common/clock.h"
#include "latency_timeline.h"
#include "mq/client/producer.h"
#include "mq/client/pull_consumer.h"
#include "mq/client/push_consumer.h"

namespace mq::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kSendTimeProperty = "bench_send_us";  // wall-clock µs at send, for e2e

int64_t ElapsedMicros(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - since).count();
}

// When a run of `p.seconds` started now ends (never when the run is bounded by a count only).
Clock::time_point EndOf(const BenchParams& p) {
  return p.seconds > 0 ? Clock::now() + std::chrono::microseconds(static_cast<int64_t>(p.seconds * 1e6))
                       : Clock::time_point::max();
}

// What a consumer subscribes with: the SQL92 selector asked for, else every message.
client::MessageSelector SelectorOf(const BenchParams& p) {
  return p.sql.empty() ? client::MessageSelector::ByTag("*") : client::MessageSelector::BySql(p.sql);
}

// When `m` was sent (wall-clock µs, mqbench's own property), else `otherwise`.
int64_t SentMicros(const client::ReceivedMessage& m, int64_t otherwise) {
  auto it = m.message.properties.find(kSendTimeProperty);
  int64_t sent = otherwise;  // from_chars: strtoll's locale handling was 2 % of an e2e client's CPU
  if (it != m.message.properties.end())
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), sent);
  return sent;
}

// Runs `tick` once a second until `done` says stop (bounded by the caller's own limits).
void ProgressLoop(BenchReport& report, const std::function<bool()>& done) {
  auto next = Clock::now() + std::chrono::seconds(1);
  while (!done()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (Clock::now() >= next) {
      report.Tick();
      next += std::chrono::seconds(1);
    }
  }
}

// Only SEND_OK is a sent message. FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT and
// SLAVE_NOT_AVAILABLE mean stored but not durable as configured (RocketMQ SendStatus), so they
// count as failed, like client errors (named by their status code).
std::string_view Outcome(const Result<client::SendResult>& r) {
  if (!r.ok()) return StatusCodeName(r.status().code());
  switch (r->status) {
    case client::SendStatus::kSendOk:
      return "SEND_OK";
    case client::SendStatus::kFlushDiskTimeout:
      return "FLUSH_DISK_TIMEOUT";
    case client::SendStatus::kFlushSlaveTimeout:
      return "FLUSH_SLAVE_TIMEOUT";
    case client::SendStatus::kSlaveNotAvailable:
      return "SLAVE_NOT_AVAILABLE";
  }
  return "UNKNOWN";
}

// Counts one send of `messages` messages that started at `begin`.
void RecordSend(BenchReport& report, const Result<client::SendResult>& r, int64_t messages,
                Clock::time_point begin) {
  const std::string_view outcome = Outcome(r);
  report.CountOutcome(outcome, messages);
  outcome == "SEND_OK" ? report.Ok(messages, ElapsedMicros(begin)) : report.Failed(messages);
}

// Spreads messages evenly over `buckets` values for selective SQL92 consumers.
void SetBucket(const BenchParams& p, client::Message* m) {
  static std::atomic<int64_t> sequence{0};
  if (p.buckets > 0) m->properties["bucket"] = std::to_string(sequence.fetch_add(1) % p.buckets);
}

client::Message BenchMessage(const BenchParams& p, const std::string& body, bool with_bucket = true) {
  client::Message m = client::MakeMessage(p.topic, body, p.tags);
  m.properties[kSendTimeProperty] = std::to_string(WallMicros());
  if (with_bucket) SetBucket(p, &m);
  return m;
}

client::ProducerOptions ProducerOptionsOf(const BenchParams& p) {
  client::ProducerOptions options;
  options.client.namesrv_addrs = p.namesrv_addrs;
  options.group = "benchmark_producer";
  options.auto_batch = p.auto_batch;
  options.auto_batch_max_in_flight = p.batch_in_flight;
  options.auto_batch_linger_us = p.linger_us;
  options.client.send_connections_per_broker = p.send_connections;
  options.client.fast_send = p.fast_send;
  options.client.callback_threads = p.callback_threads;
  options.client.callback_on_reply_thread_max_us = p.callback_on_reply_thread_max_us;
  return options;
}

// Send budget shared by the producer threads: a count, a deadline, or both.
class Budget {
 public:
  explicit Budget(const BenchParams& p) : count_(p.count), deadline_(EndOf(p)) {}
  // Claims n messages; false once the run is over.
  bool Take(int n) {
    if (Clock::now() >= deadline_) return false;
    if (count_ <= 0) return true;
    return taken_.fetch_add(n) + n <= count_;
  }

 private:
  const int64_t count_;
  const Clock::time_point deadline_;
  std::atomic<int64_t> taken_{0};
};

}  // namespace

int RunProducer(const BenchParams& p) {
  client::Producer producer(ProducerOptionsOf(p));
  if (Status s = producer.Start(); !s.ok()) {
    std::fprintf(stderr, "mqbench producer: %s\n", s.ToString().c_str());
    return 1;
  }
  const std::string body(static_cast<size_t>(p.body_size), 'x');
  BenchReport report("sent", p.body_size);
  Budget budget(p);
  std::atomic<int> running{p.threads};
  report.Start();
  std::vector<std::thread> workers;
  for (int t = 0; t < p.threads; ++t) {
    workers.emplace_back([&] {
      std::mutex mu;
      std::condition_variable cv;
      int in_flight = 0;
      // A batch is built once per worker and sent again and again, as the peers' load
      // generators send one buffer: only its send times and buckets change per request.
      std::vector<client::Message> batch;
      if (p.batch > 1) batch.assign(static_cast<size_t>(p.batch), BenchMessage(p, body, false));
      while (budget.Take(p.batch)) {
        auto begin = Clock::now();
        if (p.batch > 1) {
          const std::string now = std::to_string(WallMicros());
          for (auto& m : batch) {
            m.properties[kSendTimeProperty] = now;
            SetBucket(p, &m);
          }
          RecordSend(report, producer.SendBatch(batch), p.batch, begin);
        } else if (p.mode == "sync") {
          RecordSend(report, producer.Send(BenchMessage(p, body)), 1, begin);
        } else if (p.mode == "oneway") {
          // No reply, so no durability status: "sent" means handed to the transport.
          Status s = producer.SendOneway(BenchMessage(p, body));
          report.CountOutcome(s.ok() ? "ONEWAY_SENT" : StatusCodeName(s.code()), 1);
          s.ok() ? report.Ok(1, ElapsedMicros(begin)) : report.Failed(1);
        } else {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return in_flight < p.window; });
          ++in_flight;
          lock.unlock();
          producer.SendAsync(BenchMessage(p, body), [&, begin](const Result<client::SendResult>& r) {
            RecordSend(report, r, 1, begin);
            std::lock_guard guard(mu);
            --in_flight;
            cv.notify_all();
          });
        }
      }
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight == 0; });
      --running;
    });
  }
  ProgressLoop(report, [&] { return running.load() == 0; });
  for (auto& w : workers) w.join();
  producer.Shutdown();
  report.SetRequests(producer.stats().send_requests);
  report.Finish(p.json);
  return report.failed() == 0 ? 0 : 1;
}

namespace {

// A push consumer that feeds a report; `latency_from_send` measures send-to-consume latency
// from the producer's timestamp, otherwise the time since the consumer started.
class BenchConsumer {
 public:
  BenchConsumer(const BenchParams& p, BenchReport* report) : report_(report), selector_(SelectorOf(p)) {
    client::PushConsumerOptions options;
    options.client.namesrv_addrs = p.namesrv_addrs;
    options.group = p.group;
    options.consume_from_where =
        p.from_first ? client::ConsumeFromWhere::kFirstOffset : client::ConsumeFromWhere::kLastOffset;
    options.rebalance_interval_ms = 2000;
    options.client.fast_send = p.fast_send;
    if (p.pull_batch > 0) options.pull_batch_size = p.pull_batch;
    if (p.pull_standing >= 0) options.pull_standing_replies = p.pull_standing;
    consumer_ = std::make_unique<client::PushConsumer>(options);
  }

  Status Start(const std::string& topic) {
    MQ_RETURN_IF_ERROR(consumer_->Subscribe(topic, selector_));
    consumer_->RegisterListener([this](const std::vector<client::ReceivedMessage>& msgs) {
      int64_t now = WallMicros();
      LatencyTimeline* timeline = timeline_.load(std::memory_order_acquire);
      const int64_t measure_from = measure_from_us_.load(std::memory_order_acquire);
      for (const auto& m : msgs) {
        const int64_t sent = SentMicros(m, now);
        if (timeline != nullptr) timeline->Record(sent, now - sent);
        if (sent < measure_from) {
          warm_received_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        report_->Ok(1, now - sent);
        // The broker's store timestamp has millisecond resolution: each share is +-1 ms.
        const int64_t stored = m.store_timestamp_ms * 1000;
        to_store_.Record(stored - sent);
        from_store_.Record(now - stored);
      }
      return client::ConsumeResult::kSuccess;
    });
    return consumer_->Start();
  }
  bool HasQueues() const { return !consumer_->AssignedQueues().empty(); }
  // e2e: every message from here on goes to `timeline`; those sent before `measure_from_us`
  // (wall-clock µs) are the warm-up, counted apart (warm_received) and not in the report.
  void MeasureFrom(int64_t measure_from_us, LatencyTimeline* timeline) {
    measure_from_us_.store(measure_from_us, std::memory_order_release);
    timeline_.store(timeline, std::memory_order_release);
  }
  int64_t warm_received() const { return warm_received_.load(); }
  void Shutdown() { consumer_->Shutdown(); }
  // Where the latency goes (for e2e, where `sent` is the producer's clock on this host).
  void AddStages(BenchReport* report) const {
    report->AddStage("send_to_store", &to_store_);
    report->AddStage("store_to_listener", &from_store_);
  }

 private:
  BenchReport* report_;
  std::atomic<LatencyTimeline*> timeline_{nullptr};
  std::atomic<int64_t> measure_from_us_{0};
  std::atomic<int64_t> warm_received_{0};
  LatencyHistogram to_store_;
  LatencyHistogram from_store_;
  client::MessageSelector selector_;
  std::unique_ptr<client::PushConsumer> consumer_;
};

}  // namespace

// Reports a consumer's progress until it has `p.count` messages or `p.seconds` have passed, then
// `stop`s it; the exit code.
int ConsumeUntilDone(const BenchParams& p, BenchReport& report, const std::function<void()>& stop) {
  const auto deadline = EndOf(p);
  ProgressLoop(report, [&] { return (p.count > 0 && report.ok() >= p.count) || Clock::now() >= deadline; });
  stop();
  report.Finish(p.json);
  return p.count > 0 && report.ok() < p.count ? 1 : 0;
}

// The lite pull consumer, polled by one thread until the run ends.
int RunLiteConsumer(const BenchParams& p) {
  BenchReport report("received", p.body_size);
  client::PullConsumerOptions options;
  options.client.namesrv_addrs = p.namesrv_addrs;
  options.client.fast_send = p.fast_send;
  options.group = p.group;
  options.consume_from_where =
      p.from_first ? client::ConsumeFromWhere::kFirstOffset : client::ConsumeFromWhere::kLastOffset;
  if (p.pull_batch > 0) options.pull_batch_size = p.pull_batch;
  client::PullConsumer consumer(options);
  Status started = consumer.Start();
  if (started.ok()) started = consumer.Subscribe(p.topic, SelectorOf(p));
  if (!started.ok()) {
    std::fprintf(stderr, "mqbench consumer --lite: %s\n", started.ToString().c_str());
    return 1;
  }
  report.Start();
  std::atomic<bool> stop{false};
  std::thread poller([&] {
    while (!stop) {
      auto msgs = consumer.Poll(100);
      if (!msgs.ok()) {
        std::fprintf(stderr, "mqbench consumer --lite: %s\n", msgs.status().ToString().c_str());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a failing poll returns at once
        continue;
      }
      const int64_t now = WallMicros();
      for (const auto& m : *msgs) report.Ok(1, now - SentMicros(m, now));
    }
  });
  return ConsumeUntilDone(p, report, [&] {
    stop = true;
    poller.join();
    consumer.Shutdown();
  });
}

int RunConsumer(const BenchParams& p) {
  if (p.lite) return RunLiteConsumer(p);
  BenchReport report("received", p.body_size);
  BenchConsumer consumer(p, &report);
  report.Start();
  if (Status s = consumer.Start(p.topic); !s.ok()) {
    std::fprintf(stderr, "mqbench consumer: %s\n", s.ToString().c_str());
    return 1;
  }
  return ConsumeUntilDone(p, report, [&] { consumer.Shutdown(); });
}

int RunEndToEnd(const BenchParams& p) {
  BenchReport received("received", p.body_size);
  client::Producer producer(ProducerOptionsOf(p));
  if (Status s = producer.Start(); !s.ok()) {
    std::fprintf(stderr, "mqbench e2e: %s\n", s.ToString().c_str());
    return 1;
  }
  // The first send creates the topic before the consumer starts, so the consumer's first
  // rebalance finds its route instead of the next route refresh (tens of seconds later).
  const std::string body(static_cast<size_t>(p.body_size), 'x');
  if (auto first = producer.Send(BenchMessage(p, body)); !first.ok()) {
    std::fprintf(stderr, "mqbench e2e: first send failed: %s\n", first.status().ToString().c_str());
    return 1;
  }
  BenchConsumer consumer(p, &received);
  if (Status s = consumer.Start(p.topic); !s.ok()) {
    std::fprintf(stderr, "mqbench e2e: %s\n", s.ToString().c_str());
    return 1;
  }
  // The consumer must own its queues before the timed sends, or early messages are skipped
  // (it starts at the last offset). Bounded wait.
  auto ready_by = Clock::now() + std::chrono::seconds(30);
  while (!consumer.HasQueues() && Clock::now() < ready_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (!consumer.HasQueues()) {
    std::fprintf(stderr, "mqbench e2e: the consumer was assigned no queue of '%s' within 30 s\n",
                 p.topic.c_str());
    return 1;
  }
  const int64_t before_timed = received.ok();  // the topic-creating send
  const int64_t rate = p.rate > 0 ? p.rate : 1000;
  const double seconds = p.seconds > 0 ? p.seconds : 10;
  const auto warmup = std::chrono::microseconds(static_cast<int64_t>(p.warmup_seconds * 1e6));
  const int64_t warm_total = static_cast<int64_t>(static_cast<double>(rate) * p.warmup_seconds);
  const int64_t total = warm_total + static_cast<int64_t>(static_cast<double>(rate) * seconds);
  std::atomic<int64_t> sent{0};
  std::atomic<int64_t> failed{0};
  LatencyHistogram pacer_lag;  // how late each send left against its schedule
  consumer.AddStages(&received);
  received.AddStage("pacer_lag", &pacer_lag);
  auto start = Clock::now();
  const int64_t start_us = WallMicros();
  // Room for a pacer up to 10 s late; anything later falls into the last window.
  LatencyTimeline timeline(start_us, p.timeline_ms * 1000, p.warmup_seconds + seconds + 10, 2000);
  consumer.MeasureFrom(start_us + warmup.count(), &timeline);
  std::thread sender([&] {
    for (int64_t i = 0; i < total; ++i) {
      const auto due = start + std::chrono::microseconds(i * 1'000'000 / rate);
      std::this_thread::sleep_until(due);
      if (i >= warm_total)
        pacer_lag.Record(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - due).count());
      producer.SendAsync(BenchMessage(p, body), [&](const Result<client::SendResult>& r) {
        const std::string_view outcome = Outcome(r);
        received.CountOutcome(outcome, 1);  // the summary's "status" breaks the sends down
        outcome == "SEND_OK" ? ++sent : ++failed;
      });
    }
  });
  // The report's rate and progress cover the measured part only (a deadline, not a condition).
  std::this_thread::sleep_until(start + warmup);
  received.Start();
  auto drain_deadline = start + warmup + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6)) +
                        std::chrono::seconds(10);
  auto measured = [&] { return received.ok() - before_timed; };
  ProgressLoop(received, [&] {
    return (measured() + consumer.warm_received() >= total && sent + failed >= total) ||
           Clock::now() >= drain_deadline;
  });
  sender.join();
  producer.Shutdown();
  consumer.Shutdown();
  if (!p.json)
    std::printf("e2e: rate %lld msg/s, sent %lld, send failures %lld\n", static_cast<long long>(rate),
                static_cast<long long>(sent.load()), static_cast<long long>(failed.load()));
  received.AddCount("warmup_received", consumer.warm_received());
  received.AddCount("over_2ms", timeline.Late(start_us + warmup.count()));
  if (!p.timeline_path.empty() && !timeline.Write(p.timeline_path)) {
    std::fprintf(stderr, "mqbench e2e: cannot write the timeline to %s\n", p.timeline_path.c_str());
  }
  received.Finish(p.json);
  return failed.load() == 0 && measured() + consumer.warm_received() >= total ? 0 : 1;
}

}  // namespace mq::bench
