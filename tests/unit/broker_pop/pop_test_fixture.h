// PopFixture: a PopService over a real MessageStore and real metadata managers in a temp dir,
// with a ManualClock for invisible times (advance it to expire deliveries) and no background
// ticks (tests call RunMaintenanceOnce). Reopen() closes everything and opens it again on the
// same directory, like a broker restart.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "broker/broker_config.h"
#include "broker/broker_context.h"
#include "broker/filter/sql_filter_cache.h"
#include "broker/longpolling/wait_registry.h"
#include "broker/meta/consumer_offset_manager.h"
#include "broker/meta/subscription_group_manager.h"
#include "broker/meta/topic_config_manager.h"
#include "broker/pop/pop_service.h"
#include "broker/processor/send_back_processor.h"
#include "broker/schedule/delay_levels.h"
#include "broker/store/message_store.h"
#include "common/io_executor.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"
#include "unit/store/store_test_util.h"

namespace mq::broker::pop::testing {

using PopOutcome = std::pair<Status, std::vector<PoppedMessage>>;

class PopFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.brokerName = "broker-a";
    config_.brokerClusterName = "c1";
    config_.storePathRootDir = dir_.path();
    config_.enablePropertyFilter = true;
    Open();
  }
  void TearDown() override { Close(); }

  void Open() {
    executor_ = std::make_unique<IoExecutor>("pop-test", 1);
    executor_->Start();
    waits_ = std::make_unique<WaitRegistry>(executor_.get());
    store::StoreOptions store_options = store::testing::SmallOptions(dir_.Sub("store"));
    store_options.flush_disk_type = flush_disk_type_;
    store_ = std::make_unique<store::MessageStore>(store_options, &clock_);
    store_->AddArrivalListener([waits = waits_.get()](const std::string& topic, int32_t, int64_t) {
      waits->Notify(PopWaitKey(topic));
    });
    Status s = store_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    topics_ =
        std::make_unique<TopicConfigManager>(dir_.Sub("config"), TopicConfigManager::Options{}, &clock_);
    ASSERT_TRUE(topics_->Load().ok());
    groups_ = std::make_unique<SubscriptionGroupManager>(dir_.Sub("config"));
    ASSERT_TRUE(groups_->Load().ok());
    offsets_ = std::make_unique<ConsumerOffsetManager>(dir_.Sub("config"));
    ASSERT_TRUE(offsets_->Load().ok());
    auto levels = schedule::DelayLevels::Parse(config_.messageDelayLevel);
    ASSERT_TRUE(levels.ok());
    levels_ = std::make_unique<schedule::DelayLevels>(*levels);
    runtime_ = std::make_unique<RuntimeSettings>(config_);
    ctx_.config = &config_;
    ctx_.runtime = runtime_.get();
    ctx_.stats = &stats_;
    ctx_.store = store_.get();
    ctx_.topics = topics_.get();
    ctx_.groups = groups_.get();
    ctx_.offsets = offsets_.get();
    ctx_.waits = waits_.get();
    ctx_.delay_levels = levels_.get();
    ctx_.sql_filters = &sql_filters_;
    send_back_ = std::make_unique<SendBackProcessor>(ctx_);
    PopOptions o;
    o.broker_name = config_.brokerName;
    o.journal_topic = "rmq_sys_REVIVE_LOG_c1";
    o.state_path = dir_.Sub("config") + "/popState.json";
    o.run_timers = false;
    o.default_invisible_ms = 60000;
    o.renew_ahead_ms = 10000;
    pop_ = std::make_unique<PopService>(o, ctx_, send_back_.get(), executor_.get(), &clock_);
    s = pop_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void Close() {
    if (!pop_) return;
    pop_->Shutdown();
    waits_->Shutdown();
    executor_->Shutdown();
    pop_.reset();
    send_back_.reset();
    store_->Shutdown();
    store_.reset();
    ASSERT_TRUE(offsets_->Persist().ok());
    ASSERT_TRUE(topics_->Flush().ok());
    ASSERT_TRUE(groups_->Flush().ok());
    waits_.reset();
    executor_.reset();
  }

  void Reopen() {
    Close();
    Open();
  }

  void CreateTopic(const std::string& name, int32_t queues) {
    mq::v1::TopicConfig t;
    t.set_topic_name(name);
    t.set_read_queue_nums(queues);
    t.set_write_queue_nums(queues);
    t.set_perm(6);
    ASSERT_TRUE(topics_->CreateOrUpdate(t).ok());
  }

  void CreateGroup(const std::string& name, bool orderly, int32_t retry_max_times = 16) {
    auto g = SubscriptionGroupManager::DefaultConfig(name);
    g.set_consume_message_orderly(orderly);
    g.set_retry_max_times(retry_max_times);
    ASSERT_TRUE(groups_->CreateOrUpdate(g).ok());
  }

  void Put(const std::string& topic, int32_t queue, const std::string& body, const std::string& tag = "") {
    auto r = store::testing::PutSync(*store_, store::testing::Msg(topic, queue, body, tag, "", "U" + body));
    ASSERT_TRUE(r.ok()) << r.error;
    ASSERT_TRUE(mq::testing::WaitUntil([&] { return store::testing::Dispatched(*store_); }));
  }

  PopRequest Request(const std::string& group, const std::string& topic, int32_t max, int64_t invisible_ms) {
    PopRequest r;
    r.group = group;
    r.topic = topic;
    r.max_messages = max;
    r.invisible_ms = invisible_ms;
    return r;
  }

  PopOutcome PopSync(PopRequest request) {
    auto promise = std::make_shared<std::promise<PopOutcome>>();
    auto future = promise->get_future();
    pop_->Pop(std::move(request), [promise](const Status& s, std::vector<PoppedMessage> messages) {
      promise->set_value({s, std::move(messages)});
    });
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      return {Status::Timeout("test: pop did not answer within 10 s"), {}};
    }
    return future.get();
  }

  Status AckSync(const std::string& group, const std::string& topic, const std::string& handle) {
    auto promise = std::make_shared<std::promise<Status>>();
    auto future = promise->get_future();
    pop_->Ack(group, topic, handle, [promise](const Status& s) { promise->set_value(s); });
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return Status::Timeout("ack");
    return future.get();
  }

  std::pair<Status, std::string> ChangeSync(const std::string& group, const std::string& topic,
                                            const std::string& handle, int64_t invisible_ms) {
    auto promise = std::make_shared<std::promise<std::pair<Status, std::string>>>();
    auto future = promise->get_future();
    pop_->ChangeInvisible(group, topic, handle, invisible_ms,
                          [promise](const Status& s, const std::string& h) {
                            promise->set_value({s, h});
                          });
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      return {Status::Timeout("change"), ""};
    }
    return future.get();
  }

  Status ForwardSync(const std::string& group, const std::string& topic, const std::string& handle) {
    auto promise = std::make_shared<std::promise<Status>>();
    auto future = promise->get_future();
    pop_->ForwardToDeadLetterQueue(group, topic, handle,
                                   [promise](const Status& s) { promise->set_value(s); });
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return Status::Timeout("dlq");
    return future.get();
  }

  static std::vector<std::string> Bodies(const std::vector<PoppedMessage>& messages) {
    std::vector<std::string> out;
    for (const auto& m : messages) out.push_back(m.message.body);
    return out;
  }

  mq::testing::TempDir dir_;
  store::FlushDiskType flush_disk_type_ = store::FlushDiskType::kAsyncFlush;  // set, then Reopen()
  ManualClock clock_;
  BrokerConfig config_;
  BrokerStats stats_;
  SqlFilterCache sql_filters_;
  std::unique_ptr<IoExecutor> executor_;
  std::unique_ptr<WaitRegistry> waits_;
  std::unique_ptr<store::MessageStore> store_;
  std::unique_ptr<TopicConfigManager> topics_;
  std::unique_ptr<SubscriptionGroupManager> groups_;
  std::unique_ptr<ConsumerOffsetManager> offsets_;
  std::unique_ptr<schedule::DelayLevels> levels_;
  std::unique_ptr<RuntimeSettings> runtime_;
  BrokerContext ctx_;
  std::unique_ptr<SendBackProcessor> send_back_;
  std::unique_ptr<PopService> pop_;
};

}  // namespace mq::broker::pop::testing
