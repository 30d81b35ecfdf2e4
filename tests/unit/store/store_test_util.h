// Helpers shared by the store tests: small-segment options, starting a store, a fixture with
// both over a fresh directory, a blocking put wrapper.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include "broker/store/message_store.h"
#include "common/clock.h"
#include "testutil/temp_dir.h"

namespace mq::store::testing {

inline StoreOptions SmallOptions(const std::string& dir) {
  StoreOptions o;
  o.store_path_root_dir = dir;
  o.mapped_file_size_commit_log = 64 * 1024;
  o.mapped_file_size_consume_queue = 100 * 20;
  o.max_message_size = 16 * 1024;
  o.flush_interval_commit_log_ms = 20;
  o.flush_interval_consume_queue_ms = 50;
  o.max_hash_slot_num = 64;
  o.max_index_num = 256;
  return o;
}

inline MessageInput Msg(const std::string& topic, int32_t queue_id, const std::string& body,
                        const std::string& tags = "", const std::string& keys = "",
                        const std::string& uniq = "") {
  MessageInput m;
  m.topic = topic;
  m.queue_id = queue_id;
  m.body = body;
  m.born_timestamp = 1;
  if (!tags.empty()) m.properties["TAGS"] = tags;
  if (!keys.empty()) m.properties["KEYS"] = keys;
  if (!uniq.empty()) m.properties["UNIQ_KEY"] = uniq;
  return m;
}

// A started store on `options`; a failed start fails the calling test.
inline std::unique_ptr<MessageStore> OpenStore(const StoreOptions& options, Clock* clock) {
  auto store = std::make_unique<MessageStore>(options, clock);
  Status s = store->Start();
  EXPECT_TRUE(s.ok()) << s.ToString();
  return store;
}

// A fresh directory with SmallOptions over it; a test adjusts options_ before Open().
class StoreFixture : public ::testing::Test {
 protected:
  mq::testing::TempDir dir_;
  StoreOptions options_ = SmallOptions(dir_.path());
  ManualClock clock_;

  std::unique_ptr<MessageStore> Open() { return OpenStore(options_, &clock_); }
};

// Whether the consume queues and index have caught up with the whole log.
inline bool Dispatched(const MessageStore& store) {
  return store.DispatchedPhyOffset() == store.MaxPhyOffset();
}

// Starts a put with `start(done)` and waits up to `timeout` for `done`. The result lives in
// shared state, so a completion after the wait gave up writes to live memory.
template <typename Start>
PutResult WaitForPut(Start&& start, std::chrono::seconds timeout = std::chrono::seconds(20)) {
  auto promise = std::make_shared<std::promise<PutResult>>();
  auto future = promise->get_future();
  start(PutCallback([promise](const PutResult& r) { promise->set_value(r); }));
  if (future.wait_for(timeout) != std::future_status::ready) {
    PutResult r;
    r.status = PutStatus::kUnknownError;
    r.error = "test: put did not complete within " + std::to_string(timeout.count()) + " s";
    return r;
  }
  return future.get();
}

// Puts one message and waits (bounded) for the completion.
inline PutResult PutSync(MessageStore& store, MessageInput m) {
  return WaitForPut([&](PutCallback done) { store.PutMessage(std::move(m), std::move(done)); });
}

}  // namespace mq::store::testing
