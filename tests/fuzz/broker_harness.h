// BrokerHarness: one broker's request-handling objects (metadata managers, store, long
// polling, processors and the gRPC service adapters) wired as BrokerController wires them,
// but with no gRPC server and no NameServer registration, so fuzz targets call the handlers
// directly. The store and config live in a ScratchDir on tmpfs with small segments.
// Lifecycle: the constructor starts everything (aborting on failure, which is a harness
// problem, not a finding); the destructor shuts down in BrokerController's order.
// Threads: handlers are called from the fuzzing thread; the store, executor and persisters
// run their own threads as in the daemon.
#pragma once

#include <memory>

#include "broker/broker_config.h"
#include "broker/broker_context.h"
#include "broker/longpolling/wait_registry.h"
#include "broker/meta/client_registry.h"
#include "broker/meta/consumer_offset_manager.h"
#include "broker/meta/queue_lock_manager.h"
#include "broker/meta/subscription_group_manager.h"
#include "broker/meta/topic_config_manager.h"
#include "broker/processor/admin_processor.h"
#include "broker/processor/admin_service.h"
#include "broker/processor/client_processor.h"
#include "broker/processor/messaging_service.h"
#include "broker/processor/pull_processor.h"
#include "broker/processor/send_processor.h"
#include "broker/store/message_store.h"
#include "common/io_executor.h"
#include "fuzz_support.h"

namespace mq::fuzz {

class BrokerHarness {
 public:
  BrokerHarness();
  ~BrokerHarness();
  BrokerHarness(const BrokerHarness&) = delete;
  BrokerHarness& operator=(const BrokerHarness&) = delete;

  broker::SendProcessor& send() { return *send_; }
  broker::PullProcessor& pull() { return *pull_; }
  broker::ClientProcessor& client() { return *client_; }
  broker::MessagingService& messaging() { return *messaging_; }
  broker::AdminService& admin() { return *admin_; }
  // Undoes what a fuzzed UpdateBrokerConfig may have switched on: with long polling a pull
  // legitimately parks for up to its suspend timeout, which would look like a hang.
  void PinShortPolling() {
    runtime_->long_polling_enable = false;
    runtime_->short_polling_time_ms = 1;
  }

 private:
  ScratchDir dir_;
  broker::BrokerConfig config_;
  std::unique_ptr<broker::RuntimeSettings> runtime_;
  broker::BrokerStats stats_;
  IoExecutor executor_;
  std::unique_ptr<broker::TopicConfigManager> topics_;
  std::unique_ptr<broker::SubscriptionGroupManager> groups_;
  std::unique_ptr<broker::ConsumerOffsetManager> offsets_;
  std::unique_ptr<broker::ClientRegistry> clients_;
  std::unique_ptr<broker::QueueLockManager> locks_;
  std::unique_ptr<broker::WaitRegistry> waits_;
  std::unique_ptr<store::MessageStore> store_;
  std::unique_ptr<broker::SendProcessor> send_;
  std::unique_ptr<broker::PullProcessor> pull_;
  std::unique_ptr<broker::ClientProcessor> client_;
  std::unique_ptr<broker::MessagingService> messaging_;
  std::unique_ptr<broker::TransactionCheckStreams> check_streams_;
  std::unique_ptr<broker::txn::TransactionalMessageService> transactions_;
  std::unique_ptr<broker::EndTransactionProcessor> end_transaction_;
  std::unique_ptr<broker::AdminProcessor> admin_processor_;
  std::unique_ptr<broker::AdminService> admin_;
};

}  // namespace mq::fuzz
