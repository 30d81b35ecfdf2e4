// store_bench: db_bench-style benchmark of the storage engine, with the raw limits of the
// disk measured in the same run so results read as a fraction of what the machine can do.
//
//   store_bench [--dir PATH] [--seconds N] [--json] [--benchmarks a,b,...] [--recovery_mb N]
//               [--record_bytes 128|1024|4096] [--flush async|sync] [--writers 1|64]
//               [--stage_bytes N]   (StoreOptions::sync_flush_stage_bytes; 0 = no staging)
//
// Benchmarks (default: all, a quick suite of well under a minute with --seconds 2):
//   raw       plain sequential write() of 1 MiB chunks (+ final fdatasync), and a loop of
//             "64 KiB write + fdatasync"
//   append    PutMessage throughput: {128 B, 1 KiB, 4 KiB} records x {ASYNC_FLUSH, SYNC_FLUSH}
//             x {1, 64} writers. ASYNC writers are threads in a put loop; SYNC writers are
//             independent put chains (one put in flight each, the next issued from the
//             completion callback), which is how the broker's RPC handlers drive the store. raw_fraction =
//             bytes/s over the raw sequential figure (ASYNC) or over the write+fdatasync figure (SYNC).
//   read      GetMessages throughput over the 1 KiB ASYNC log (32 messages per call)
//   recovery  Start() time over a --recovery_mb log: clean, crash with checkpoint, and crash
//             without checkpoint (full CRC scan, the worst case)
//   crc       CRC32C of one buffer of 128 B, 1 KiB, 4 KiB and 64 KiB (each record is checked
//             twice when written and twice when read): calls/s and MB/s
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "broker/store/message_store.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/logging.h"

namespace mq::store {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Flags {
  std::string dir;
  double seconds = 2;
  bool json = false;
  std::string benchmarks = "raw,append,read,recovery,crc";
  int64_t recovery_mb = 256;
  int record_bytes = 0;  // 0: all of 128, 1024, 4096
  std::string flush;     // "", "async" or "sync"
  int writers = 0;       // 0: both 1 and 64
  int stage_bytes = -1;  // -1: the store's default
};

struct Raw {
  double seq_bytes_per_s = 0;
  double fsync_bytes_per_s = 0;
};

double Since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void Report(const Flags& flags, const std::string& name, int record_bytes, const std::string& flush,
            int writers, double msgs_per_s, double raw_bytes_per_s) {
  double mb = msgs_per_s * record_bytes / 1e6;
  double raw_msgs = raw_bytes_per_s > 0 ? raw_bytes_per_s / record_bytes : 0;
  double fraction = raw_bytes_per_s > 0 ? msgs_per_s * record_bytes / raw_bytes_per_s : 0;
  if (flags.json) {
    std::printf(
        "{\"case\":\"%s\",\"record_bytes\":%d,\"flush\":\"%s\",\"writers\":%d,\"msgs_per_s\":%.0f,"
        "\"mb_per_s\":%.2f,\"raw_msgs_per_s\":%.0f,\"raw_fraction\":%.3f}\n",
        name.c_str(), record_bytes, flush.c_str(), writers, msgs_per_s, mb, raw_msgs, fraction);
  } else {
    std::printf("%-10s %6d B  %-6s %3d writers : %11.0f msgs/s %9.2f MB/s  (%.1f%% of raw %.2f MB/s)\n",
                name.c_str(), record_bytes, flush.c_str(), writers, msgs_per_s, mb, fraction * 100,
                raw_bytes_per_s / 1e6);
  }
  std::fflush(stdout);
}

Raw MeasureRaw(const Flags& flags) {
  Raw raw;
  std::string path = flags.dir + "/raw.dat";
  std::string chunk(1 << 20, 'r');
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return raw;
  int64_t bytes = 0;
  const int64_t cap = int64_t{4} << 30;
  auto start = Clock::now();
  while (Since(start) < flags.seconds && bytes < cap) {
    if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) break;
    bytes += static_cast<int64_t>(chunk.size());
  }
  ::fdatasync(fd);
  raw.seq_bytes_per_s = static_cast<double>(bytes) / Since(start);
  ::close(fd);
  ::unlink(path.c_str());

  fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::string small(64 * 1024, 's');
  bytes = 0;
  start = Clock::now();
  while (Since(start) < flags.seconds && bytes < cap) {
    if (::write(fd, small.data(), small.size()) != static_cast<ssize_t>(small.size())) break;
    ::fdatasync(fd);
    bytes += static_cast<int64_t>(small.size());
  }
  raw.fsync_bytes_per_s = static_cast<double>(bytes) / Since(start);
  ::close(fd);
  ::unlink(path.c_str());
  if (!flags.json) {
    std::printf(
        "raw        sequential 1 MiB writes: %.2f MB/s; 64 KiB write+fdatasync: %.2f MB/s (%.0f syncs/s)\n",
        raw.seq_bytes_per_s / 1e6, raw.fsync_bytes_per_s / 1e6, raw.fsync_bytes_per_s / 65536);
  } else {
    Report(flags, "raw_seq", 1 << 20, "none", 1, raw.seq_bytes_per_s / (1 << 20), 0);
    Report(flags, "raw_fsync", 64 * 1024, "sync", 1, raw.fsync_bytes_per_s / (64 * 1024), 0);
  }
  return raw;
}

StoreOptions BenchOptions(const std::string& dir, FlushDiskType flush, int stage_bytes = -1) {
  StoreOptions o;
  if (stage_bytes >= 0) o.sync_flush_stage_bytes = stage_bytes;
  o.store_path_root_dir = dir;
  o.flush_disk_type = flush;
  o.message_index_enable = false;
  return o;
}

MessageInput BenchMessage(int record_bytes, int32_t queue_id) {
  MessageInput m;
  m.topic = "BenchTopic";
  m.queue_id = queue_id;
  // Fixed overhead: 88 header + 1 + topic + 2 + 20 (CRC trailer property).
  int body = std::max(1, record_bytes - 111 - static_cast<int>(m.topic.size()));
  m.body.assign(static_cast<size_t>(body), 'm');
  return m;
}

// SYNC_FLUSH writers as the broker drives them: `writers` independent chains, each keeping one
// put in flight and issuing the next from the completion callback (no thread per writer).
double RunSyncChains(const Flags& flags, MessageStore& store, int record_bytes, int writers) {
  struct Shared {
    std::atomic<bool> stop{false};
    std::atomic<int64_t> total{0};
    std::atomic<int> active{0};
    std::atomic<int64_t> errors{0};
  } shared;
  struct Chain {
    MessageStore* store;
    Shared* shared;
    MessageInput proto;
    void Issue() {
      store->PutMessage(proto, [this](const PutResult& r) {
        // Only kOk counts: a kFlushDiskTimeout put is stored but was not durable in time.
        (r.ok() ? shared->total : shared->errors).fetch_add(1, std::memory_order_relaxed);
        if (!r.ok() || shared->stop.load()) {
          shared->active.fetch_sub(1);
          shared->active.notify_all();
          return;
        }
        Issue();
      });
    }
  };
  std::vector<std::unique_ptr<Chain>> chains;
  for (int w = 0; w < writers; ++w) {
    chains.push_back(std::make_unique<Chain>(Chain{&store, &shared, BenchMessage(record_bytes, w % 8)}));
  }
  const int64_t flushes_before = store.CommitLogFlushCount();
  auto start = Clock::now();
  shared.active = writers;
  for (auto& c : chains) c->Issue();
  std::this_thread::sleep_for(std::chrono::duration<double>(flags.seconds));
  shared.stop = true;
  for (int a = shared.active.load(); a != 0; a = shared.active.load()) shared.active.wait(a);
  double elapsed = Since(start);
  // The group commit at work: how many fsyncs the store issued and how many puts each
  // covered (at most `writers`), to read next to the raw loop's syncs/s.
  const int64_t flushes = store.CommitLogFlushCount() - flushes_before;
  if (!flags.json && flushes > 0) {
    std::printf("           group commit: %.0f syncs/s, %.1f puts per sync\n",
                static_cast<double>(flushes) / elapsed,
                static_cast<double>(shared.total.load()) / static_cast<double>(flushes));
  }
  if (shared.errors.load() > 0) {
    std::fprintf(stderr, "warning: %lld puts failed (not counted in the rate)\n",
                 static_cast<long long>(shared.errors.load()));
  }
  return static_cast<double>(shared.total.load()) / elapsed;
}

// Runs `writers` threads putting for flags.seconds; returns msgs/s.
double RunAppend(const Flags& flags, MessageStore& store, int record_bytes, int writers) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> total{0};
  std::atomic<int64_t> errors{0};
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      MessageInput proto = BenchMessage(record_bytes, w % 8);
      int64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        std::atomic<bool> done{false};
        bool ok = false;
        store.PutMessage(proto, [&](const PutResult& r) {
          ok = r.ok();  // only kOk counts (not kFlushDiskTimeout)
          if (!ok) errors.fetch_add(1);
          done.store(true);
          done.notify_one();
        });
        done.wait(false);
        if (ok) ++n;
      }
      total.fetch_add(n);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(flags.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double elapsed = Since(start);
  if (errors.load() > 0)
    std::fprintf(stderr, "warning: %lld puts failed (not counted in the rate)\n",
                 static_cast<long long>(errors.load()));
  return static_cast<double>(total.load()) / elapsed;
}

void RunCrc(const Flags& flags) {
  for (int bytes : {128, 1024, 4096, 64 * 1024}) {
    std::string buffer(static_cast<size_t>(bytes), '\0');
    for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<char>(i * 131 + 7);
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration<double>(std::min(flags.seconds, 1.0));
    int64_t calls = 0;
    volatile uint32_t sink = 0;  // every result is stored, so no call is optimised away
    while (Clock::now() < deadline) {
      for (int i = 0; i < 1000; ++i) sink = crc32c::Value(buffer);
      calls += 1000;
    }
    (void)sink;
    double rate = static_cast<double>(calls) / Since(start);
    Report(flags, "crc32c", bytes, "none", 1, rate, 0);
  }
}

void RunRead(const Flags& flags, MessageStore& store) {
  auto start = Clock::now();
  int64_t msgs = 0;
  for (int32_t q = 0; q < 8; ++q) {
    int64_t offset = store.MinOffsetInQueue("BenchTopic", q);
    while (true) {
      auto r = store.GetMessages("bench", "BenchTopic", q, offset, 32, 1 << 20);
      if (r.status != GetMessageStatus::kFound) break;
      msgs += static_cast<int64_t>(r.messages.size());
      offset = r.next_begin_offset;
    }
  }
  double rate = static_cast<double>(msgs) / Since(start);
  Report(flags, "read", 1024, "async", 1, rate, 0);
}

void RunRecovery(const Flags& flags) {
  std::string dir = flags.dir + "/recovery";
  fs::remove_all(dir);
  int64_t target = flags.recovery_mb << 20;
  {
    MessageStore store(BenchOptions(dir, FlushDiskType::kAsyncFlush));
    if (!store.Start().ok()) return;
    MessageInput m = BenchMessage(4096, 0);
    while (store.MaxPhyOffset() < target) {
      m.queue_id = static_cast<int32_t>(store.MaxPhyOffset() % 8);
      store.PutMessage(m, [](const PutResult&) {});
    }
    store.Shutdown();
  }
  auto time_start = [&](const char* what) {
    MessageStore store(BenchOptions(dir, FlushDiskType::kAsyncFlush));
    auto start = Clock::now();
    Status s = store.Start();
    double secs = Since(start);
    double gb = static_cast<double>(store.MaxPhyOffset()) / 1e9;
    if (flags.json) {
      std::printf("{\"case\":\"recovery_%s\",\"log_bytes\":%lld,\"seconds\":%.3f,\"ok\":%s}\n", what,
                  static_cast<long long>(store.MaxPhyOffset()), secs, s.ok() ? "true" : "false");
    } else {
      std::printf("recovery   %-22s %.2f GB log: %.3f s (%s)\n", what, gb, secs, s.ToString().c_str());
    }
    std::fflush(stdout);
    store.Shutdown();
  };
  time_start("clean");
  (void)WriteFileAtomically(dir + "/abort", "x");
  time_start("crash+checkpoint");
  (void)WriteFileAtomically(dir + "/abort", "x");
  fs::remove(dir + "/checkpoint");
  time_start("crash-no-checkpoint");
  fs::remove_all(dir + "/consumequeue");
  time_start("rebuild-consumequeue");
  fs::remove_all(dir);
}

int Main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& name) -> const char* {
      if (a.rfind(name + "=", 0) == 0) return argv[i] + name.size() + 1;
      if (a == name && i + 1 < argc) return argv[++i];
      return nullptr;
    };
    if (const char* v = value("--dir")) {
      flags.dir = v;
    } else if (const char* v2 = value("--seconds")) {
      flags.seconds = std::atof(v2);
    } else if (const char* v3 = value("--benchmarks")) {
      flags.benchmarks = v3;
    } else if (const char* v4 = value("--recovery_mb")) {
      flags.recovery_mb = std::atoll(v4);
    } else if (const char* v5 = value("--record_bytes")) {
      flags.record_bytes = std::atoi(v5);
    } else if (const char* v6 = value("--flush")) {
      flags.flush = v6;
    } else if (const char* v7 = value("--writers")) {
      flags.writers = std::atoi(v7);
    } else if (const char* v8 = value("--stage_bytes")) {
      flags.stage_bytes = std::atoi(v8);
    } else if (a == "--json") {
      flags.json = true;
    } else {
      std::fprintf(
          stderr,
          "usage: store_bench [--dir PATH] [--seconds N] [--json] [--benchmarks raw,append,read,recovery,crc]"
          " [--recovery_mb N] [--record_bytes 128|1024|4096] [--flush async|sync] [--writers 1|64]"
          " [--stage_bytes N]\n");
      return 2;
    }
  }
  bool own_dir = flags.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/store_bench.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return 1;
    flags.dir = tmpl;
  }
  fs::create_directories(flags.dir);
  auto has = [&](const char* b) { return flags.benchmarks.find(b) != std::string::npos; };

  Raw raw;
  if (has("raw")) raw = MeasureRaw(flags);
  if (has("append") || has("read")) {
    for (int record_bytes : {128, 1024, 4096}) {
      if (flags.record_bytes != 0 && record_bytes != flags.record_bytes) continue;
      for (auto flush : {FlushDiskType::kAsyncFlush, FlushDiskType::kSyncFlush}) {
        if (!flags.flush.empty() && flags.flush != (flush == FlushDiskType::kSyncFlush ? "sync" : "async"))
          continue;
        for (int writers : {1, 64}) {
          if (flags.writers != 0 && writers != flags.writers) continue;
          std::string dir = flags.dir + "/append";
          fs::remove_all(dir);
          MessageStore store(BenchOptions(dir, flush, flags.stage_bytes));
          Status s = store.Start();
          if (!s.ok()) {
            std::fprintf(stderr, "start failed: %s\n", s.ToString().c_str());
            return 1;
          }
          bool sync = flush == FlushDiskType::kSyncFlush;
          double rate = sync ? RunSyncChains(flags, store, record_bytes, writers)
                             : RunAppend(flags, store, record_bytes, writers);
          Report(flags, "append", record_bytes, sync ? "sync" : "async", writers, rate,
                 sync ? raw.fsync_bytes_per_s : raw.seq_bytes_per_s);
          if (has("read") && record_bytes == 1024 && !sync && writers == 1) RunRead(flags, store);
          store.Shutdown();
        }
      }
    }
    fs::remove_all(flags.dir + "/append");
  }
  if (has("recovery")) RunRecovery(flags);
  if (has("crc")) RunCrc(flags);
  if (own_dir) fs::remove_all(flags.dir);
  return 0;
}

}  // namespace
}  // namespace mq::store

int main(int argc, char** argv) {
  mq::LogOptions log;
  log.level = "warn";
  (void)mq::InitLogging(log);
  return mq::store::Main(argc, argv);
}
