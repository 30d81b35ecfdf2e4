// mqbench: producer / consumer / end-to-end benchmark on the client library, in the spirit of
// RocketMQ's benchmark tools. One progress line per second, a final summary, and --json for a
// single machine-readable line. Only point it at clusters on this machine or your own hosts.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "bench_runs.h"
#include "common/naming.h"

namespace {

void AddCommon(CLI::App* cmd, std::string* namesrv, mq::bench::BenchParams* p) {
  cmd->add_option("-n,--namesrvAddr", *namesrv, "NameServers host:port;host:port (or NAMESRV_ADDR)");
  cmd->add_option("-t,--topic", p->topic, "topic");
  cmd->add_option("-s,--size", p->body_size, "message body bytes")->check(CLI::Range(1, 4 * 1024 * 1024));
  cmd->add_option("-d,--duration", p->seconds, "run for this many seconds")->check(CLI::Range(0.0, 86400.0));
  cmd->add_option("--count", p->count, "stop after this many messages")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->add_flag("--json", p->json, "end with one JSON summary line");
}

void AddProducerOptions(CLI::App* cmd, mq::bench::BenchParams* p) {
  cmd->add_option("--auto-batch", p->auto_batch, "combine sends of one topic while requests are in flight")
      ->default_val(true);
  cmd->add_option(
         "--batch-in-flight", p->batch_in_flight,
         "auto-batching: requests in flight per broker of the topic (full batches; one while not full)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--linger-us", p->linger_us,
                  "auto-batching: how long a batch that is not full waits for more (ProducerOptions::"
                  "auto_batch_linger_us)")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000}));
  cmd->add_option("--send-connections", p->send_connections,
                  "most TCP connections per broker that sends spread over (ClientOptions)")
      ->check(CLI::Range(1, 16));
  cmd->add_option("--fast-send", p->fast_send,
                  "send over the brokers' fast send ports where routes name them (ClientOptions)")
      ->default_val(p->fast_send);
  cmd->add_option("--callback-threads", p->callback_threads,
                  "threads running send callbacks; 0 runs them on the thread that read the reply "
                  "(ClientOptions)")
      ->check(CLI::Range(0, 256));
  cmd->add_option("--callback-reply-thread-max-us", p->callback_on_reply_thread_max_us,
                  "callbacks measured this fast run on the thread that read the reply; 0 = never "
                  "(ClientOptions::callback_on_reply_thread_max_us)")
      ->check(CLI::Range(0, 200));
  cmd->add_option("--buckets", p->buckets, "set property bucket = send sequence % N (for --sql consumers)")
      ->check(CLI::Range(0, 1'000'000));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mqbench: producer, consumer and end-to-end benchmarks of the mq broker suite"};
  app.require_subcommand(1);
  std::string namesrv;
  mq::bench::BenchParams p;
  auto* producer = app.add_subcommand("producer", "send as fast as the window allows");
  AddCommon(producer, &namesrv, &p);
  producer->add_option("-w,--threads", p.threads, "sending threads")->check(CLI::Range(1, 256));
  producer->add_option("--mode", p.mode, "sync | async | oneway")
      ->check(CLI::IsMember({"sync", "async", "oneway"}));
  producer->add_option("--window", p.window, "async sends in flight per thread")->check(CLI::Range(1, 65536));
  producer->add_option("--batch", p.batch, "messages per request (batch sends are synchronous)")
      ->check(CLI::Range(1, 1024));
  producer->add_option("--tags", p.tags, "tag of every message");
  AddProducerOptions(producer, &p);
  auto* consumer = app.add_subcommand("consumer", "consume with a push consumer (clustering)");
  AddCommon(consumer, &namesrv, &p);
  consumer->add_option("-g,--group", p.group, "consumer group");
  consumer->add_flag("--from-first", p.from_first, "new queues start at their first offset, not the last");
  consumer->add_option("--pull-batch", p.pull_batch, "messages per pull (default: the client's)")
      ->check(CLI::Range(1, 1024));
  consumer
      ->add_option("--pull-standing", p.pull_standing,
                   "more replies one pull may get over a fast port (default: the client's)")
      ->check(CLI::Range(0, 64));
  consumer->add_flag("--lite", p.lite,
                     "poll with the lite pull consumer (PullConsumer) instead of a push consumer");
  consumer
      ->add_option("--fast-send", p.fast_send,
                   "pull over the brokers' fast ports where routes name them (ClientOptions)")
      ->default_val(p.fast_send);
  consumer->add_option("--sql", p.sql,
                       "subscribe with this SQL92 selector (broker: enablePropertyFilter=true)");
  auto* e2e = app.add_subcommand("e2e", "send at a fixed rate and measure send-to-consume latency");
  AddCommon(e2e, &namesrv, &p);
  e2e->add_option("-g,--group", p.group, "consumer group");
  AddProducerOptions(e2e, &p);
  e2e->add_option("--rate", p.rate, "messages per second")->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  e2e->add_option("--warmup", p.warmup_seconds,
                  "send at the rate for this many seconds first, outside the measurement (its messages "
                  "are in the timeline)")
      ->check(CLI::Range(0.0, 3600.0));
  e2e->add_option("--timeline", p.timeline_path,
                  "write a CSV: per window of send time, messages, how many took over 2 ms, the longest");
  e2e->add_option("--timeline-ms", p.timeline_ms, "window of the timeline (ms)")
      ->check(CLI::Range(int64_t{1}, int64_t{60'000}));
  e2e->add_option("--pull-batch", p.pull_batch, "messages per pull (default: the client's)")
      ->check(CLI::Range(1, 1024));
  e2e->add_option("--pull-standing", p.pull_standing,
                  "more replies one pull may get over a fast port (default: the client's)")
      ->check(CLI::Range(0, 64));
  CLI11_PARSE(app, argc, argv);

  if (namesrv.empty()) {
    const char* env = std::getenv("NAMESRV_ADDR");
    namesrv = env ? env : "127.0.0.1:9876";
  }
  p.namesrv_addrs = mq::SplitList(namesrv);
  if (p.seconds == 0 && p.count == 0 && !app.got_subcommand("e2e")) p.seconds = 10;
  int rc = 0;
  if (app.got_subcommand("producer")) rc = mq::bench::RunProducer(p);
  if (app.got_subcommand("consumer")) rc = mq::bench::RunConsumer(p);
  if (app.got_subcommand("e2e")) rc = mq::bench::RunEndToEnd(p);
  // gRPC 1.51's callback-CQ thread can race static destruction at exit; results are printed.
  std::fflush(stdout);
  std::_Exit(rc);
}
