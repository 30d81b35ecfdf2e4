// Allocations a push consumer's pull reply thread makes per message once it runs steadily: a
// reply decodes its messages into the entries of messages consumed before (ProcessQueue's
// settled pile), and a reply smaller than the one before keeps its spare entries for a larger
// one (KeepSpareLocked) instead of destroying what the next reply must allocate again.
// Counts operator new on that thread only (this binary replaces the global operator new).
// Real NameServer + 2 brokers.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "client_cluster.h"
#include "common/thread_name.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_allocations{0};
thread_local bool t_counted = false;  // set on the consumer's pull reply thread
}  // namespace

// Every replaceable form but the aligned ones (left to the runtime as a pair), so that no block
// is allocated by one allocator and freed by the other (a sanitizer build checks).
void* operator new(std::size_t n) {
  if (t_counted && g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return operator new(n);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t& tag) noexcept { return operator new(n, tag); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace mq::testing {
namespace {

using mq::client::ConsumeResult;
using mq::client::MakeMessage;
using mq::client::Producer;
using mq::client::PushConsumer;
using mq::client::ReceivedMessage;

TEST(ClientAllocTest, PullRepliesOfVaryingSizeReuseTheEntriesOfConsumedMessages) {
  ClientCluster cluster;
  ASSERT_TRUE(cluster.Start());
  // One queue on broker-a only: every batch lands in it, and each one is one pull reply.
  const std::string topic = "AllocTopic";
  ASSERT_TRUE(cluster.CreateTopic(topic, 1, /*brokers=*/1));
  mq::client::ProducerOptions po;
  po.client = cluster.Client();
  Producer producer(po);
  ASSERT_TRUE(producer.Start().ok());

  std::atomic<int> consumed{0};
  std::atomic<bool> on_reply_thread{false};
  auto o = cluster.Consumer("g-alloc");
  o.listener_on_reply_thread_max_us = 60;  // a sanitizer build's listener is slower
  PushConsumer consumer(o);
  ASSERT_TRUE(consumer.Subscribe(topic, "*").ok());
  consumer.RegisterListener([&](const std::vector<ReceivedMessage>& msgs) {
    thread_local const bool reply_thread = CurrentThreadName().starts_with("mq-fast-send");
    if (reply_thread) {
      t_counted = true;
      on_reply_thread = true;
    }
    consumed += static_cast<int>(msgs.size());
    return ConsumeResult::kSuccess;
  });
  ASSERT_TRUE(consumer.Start().ok());

  int sent = 0;
  auto send_batch = [&](int n) {
    std::vector<mq::client::Message> batch;
    for (int i = 0; i < n; ++i) batch.push_back(MakeMessage(topic, std::string(100, 'a' + i % 26)));
    auto r = producer.SendBatch(batch);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    sent += n;
    ASSERT_TRUE(WaitUntil([&] { return consumed.load() >= sent; }, std::chrono::seconds(20))) << sent;
  };
  // Until the listener runs where the replies arrive (16 calls measured first), and once more
  // with the largest batch, so that its entries wait settled.
  for (int round = 0; round < 20 && !on_reply_thread; ++round) send_batch(10);
  ASSERT_TRUE(on_reply_thread) << "no listener call ran on the pull reply's thread";
  send_batch(40);

  g_counting = true;
  int counted = 0;
  for (int round = 0; round < 10; ++round) {
    const int n = round % 2 == 0 ? 5 : 40;
    send_batch(n);
    counted += n;
  }
  g_counting = false;
  // Each reply costs about two dozen allocations of its own (the next pull's request, the run,
  // the offset update): 240 for these 225 messages. Destroying a small reply's spare entries
  // made the next large one allocate about five per message (the entry, its body, its ids, its
  // properties): 1,500 in all; a listener call's batch vector was one more per message.
  const double per_message = static_cast<double>(g_allocations.load()) / counted;
  EXPECT_LT(per_message, 2.0) << g_allocations.load() << " allocations for " << counted << " messages";
  consumer.Shutdown();
  producer.Shutdown();
}

}  // namespace
}  // namespace mq::testing
