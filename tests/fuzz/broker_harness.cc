#include "broker_harness.h"

#include <chrono>

namespace mq::fuzz {
namespace {

void CheckOk(const Status& s, const char* what) {
  MQ_FUZZ_CHECK(s.ok(), std::string(what) + ": " + s.ToString());
}

}  // namespace

BrokerHarness::BrokerHarness() : executor_("fuzz-broker", 1) {
  QuietLogging();
  config_.storePathRootDir = dir_.path();
  config_.brokerIP1 = "127.0.0.1";
  config_.listenPort = 0;
  config_.mappedFileSizeCommitLog = 1024 * 1024;
  config_.mappedFileSizeConsumeQueue = 1000 * 20;
  config_.maxMessageSize = 64 * 1024;
  config_.flushIntervalCommitLog = 50;
  // Bounded tables: the harness lives for thousands of inputs.
  config_.maxTopicCount = 2000;
  config_.maxSubscriptionGroupCount = 2000;
  config_.maxClientCount = 2000;
  config_.maxSuspendedPullRequests = 100;
  // A parked pull answers within milliseconds, so every input finishes quickly.
  config_.longPollingEnable = false;
  config_.shortPollingTimeMills = 1;
  config_.autoCreatePersistDelayMills = 100;
  CheckOk(broker::FinalizeBrokerConfig(&config_), "FinalizeBrokerConfig");
  runtime_ = std::make_unique<broker::RuntimeSettings>(config_);

  const std::string config_dir = config_.storePathRootDir + "/config";
  Clock* clock = SystemClock::Default();
  broker::TopicConfigManager::Options topic_options;
  topic_options.cluster_name = config_.brokerClusterName;
  topic_options.broker_name = config_.brokerName;
  topic_options.max_topic_count = static_cast<size_t>(config_.maxTopicCount);
  topic_options.persist_delay = std::chrono::milliseconds(config_.autoCreatePersistDelayMills);
  topics_ = std::make_unique<broker::TopicConfigManager>(config_dir, topic_options, clock);
  broker::SubscriptionGroupManager::Options group_options;
  group_options.max_group_count = static_cast<size_t>(config_.maxSubscriptionGroupCount);
  group_options.persist_delay = std::chrono::milliseconds(config_.autoCreatePersistDelayMills);
  groups_ = std::make_unique<broker::SubscriptionGroupManager>(config_dir, group_options);
  offsets_ = std::make_unique<broker::ConsumerOffsetManager>(config_dir);
  clients_ = std::make_unique<broker::ClientRegistry>(clock, config_.channelExpiredTimeout,
                                                      static_cast<size_t>(config_.maxClientCount));
  locks_ = std::make_unique<broker::QueueLockManager>(config_.queueLockMaxLiveTime);
  CheckOk(topics_->Load(), "topics");
  CheckOk(groups_->Load(), "groups");
  CheckOk(offsets_->Load(), "offsets");

  executor_.Start();
  waits_ = std::make_unique<broker::WaitRegistry>(&executor_,
                                                  static_cast<size_t>(config_.maxSuspendedPullRequests));
  store_ = std::make_unique<store::MessageStore>(broker::ToStoreOptions(config_), clock);
  store_->AddArrivalListener([this](const std::string& topic, int32_t queue_id, int64_t) {
    waits_->Notify(broker::QueueWaitKey(topic, queue_id));
  });
  CheckOk(store_->Start(), "store");
  clients_->SetGroupChangedListener(
      [this](const std::string& group, int64_t) { waits_->Notify(broker::GroupWaitKey(group)); });

  broker::BrokerContext ctx;
  ctx.trigger_registration = [] {};
  ctx.config = &config_;
  ctx.runtime = runtime_.get();
  ctx.stats = &stats_;
  ctx.store = store_.get();
  ctx.topics = topics_.get();
  ctx.groups = groups_.get();
  ctx.offsets = offsets_.get();
  ctx.clients = clients_.get();
  ctx.locks = locks_.get();
  ctx.waits = waits_.get();
  send_ = std::make_unique<broker::SendProcessor>(ctx);
  pull_ = std::make_unique<broker::PullProcessor>(ctx);
  client_ = std::make_unique<broker::ClientProcessor>(ctx);
  messaging_ = std::make_unique<broker::MessagingService>(send_.get(), pull_.get(), client_.get(),
                                                          config_.sendRequestMemoryQuota);
  check_streams_ = std::make_unique<broker::TransactionCheckStreams>();
  broker::txn::TransactionOptions txn_options;
  txn_options.progress_path = config_dir + "/transactionProgress";
  txn_options.run_thread = false;  // EndTransaction and QueryTransactionHalf need no scan
  transactions_ = std::make_unique<broker::txn::TransactionalMessageService>(
      txn_options, store_.get(), topics_.get(), check_streams_.get(), clock);
  CheckOk(transactions_->Start(), "transactions");
  end_transaction_ = std::make_unique<broker::EndTransactionProcessor>(ctx, transactions_.get());
  messaging_->SetTransactions(end_transaction_.get(), check_streams_.get());
  admin_processor_ = std::make_unique<broker::AdminProcessor>(ctx, SystemClock::Default()->NowMillis());
  admin_ = std::make_unique<broker::AdminService>(admin_processor_.get());
}

BrokerHarness::~BrokerHarness() {
  transactions_->Shutdown();
  waits_->Shutdown();
  executor_.Shutdown();
  (void)offsets_->Persist();
  (void)topics_->Flush();
  (void)groups_->Flush();
  store_->Shutdown();
}

}  // namespace mq::fuzz
