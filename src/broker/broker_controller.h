// BrokerController: owns one broker — store, metadata managers, client bookkeeping, long
// polling, processors, the gRPC server and the NameServer registrar — and wires them.
// Start() order: metadata -> store -> replication service (masters) -> executor/timers ->
// server -> registration -> replication client (slaves; it learns the master's HA address
// from the registration replies).
// Shutdown() runs in reverse: unregister from every NameServer (routes drop the broker at
// once), answer parked pulls, drain the server, persist offsets, close the store cleanly.
// Threads: gRPC's threads for RPCs, an IoExecutor (2 threads) for timers and long polling,
// the store's own threads, one registrar thread per NameServer.
#pragma once

#include <memory>
#include <string>

#include "broker/broker_config.h"
#include "broker/broker_context.h"
#include "common/io_executor.h"
#include "common/status.h"

namespace grpc {
class Server;
}

namespace mq::store {
class MessageStore;
}

namespace mq::ha {
class HaService;
class HaClient;
}  // namespace mq::ha

namespace mq::schedule {
class DelayOffsetTable;
class ScheduleMessageService;
}  // namespace mq::schedule
namespace mq::broker::timer {
class TimerService;
}

namespace mq::broker {

class TopicConfigManager;
class SubscriptionGroupManager;
class ConsumerOffsetManager;
class ClientRegistry;
class QueueLockManager;
class WaitRegistry;
class SqlFilterCache;
class SendProcessor;
class SendBackProcessor;
class PullProcessor;
class RecallProcessor;
class ClientProcessor;
class MessagingService;
class FastSendServer;
class AdminService;
class AdminProcessor;
class NamesrvRegistrar;
class EndTransactionProcessor;
class TransactionCheckStreams;
namespace txn {
class TransactionalMessageService;
}
namespace pop {
class PopService;
}
namespace v2 {
class ConsumerService;
}
namespace v2 {
class MessagingServiceV2;
class CheckSenderChain;
}  // namespace v2

class BrokerController {
 public:
  // `config` must have passed FinalizeBrokerConfig().
  explicit BrokerController(BrokerConfig config);
  ~BrokerController();
  BrokerController(const BrokerController&) = delete;
  BrokerController& operator=(const BrokerController&) = delete;

  Status Start();
  void Shutdown();

  // brokerIP1:listenPort (the real port when listenPort was 0). Valid after Start().
  std::string broker_addr() const;
  // brokerIP1:grpcServerPort of the apache.rocketmq.v2 service (the real port when it was -1);
  // "" when grpcServerPort is 0. Valid after Start().
  std::string v2_addr() const;
  // brokerIP1:fastListenPort, "" when no fast send port is served. Valid after Start().
  std::string fast_send_addr() const;
  const BrokerConfig& config() const { return config_; }

 private:
  Status PickListenPort();
  Status StartV2Server();
  void ReleaseListenPort();
  void StartTimers();
  std::unique_ptr<timer::TimerService> MakeTimerService();

  BrokerConfig config_;
  RuntimeSettings runtime_;
  BrokerStats stats_;
  int64_t start_ms_ = 0;
  IoExecutor executor_;
  std::unique_ptr<TopicConfigManager> topics_;
  std::unique_ptr<SubscriptionGroupManager> groups_;
  std::unique_ptr<ConsumerOffsetManager> offsets_;
  std::unique_ptr<ClientRegistry> clients_;
  std::unique_ptr<QueueLockManager> locks_;
  std::unique_ptr<store::MessageStore> store_;
  std::unique_ptr<schedule::DelayOffsetTable> delay_offsets_;
  // Installed on the store before it starts; delivers on masters only.
  std::unique_ptr<schedule::ScheduleMessageService> schedule_;
  std::unique_ptr<ha::HaService> ha_service_;  // masters only
  std::unique_ptr<ha::HaClient> ha_client_;    // slaves only
  std::unique_ptr<WaitRegistry> waits_;
  std::unique_ptr<SqlFilterCache> sql_filters_;
  std::unique_ptr<timer::TimerService> timer_;  // delivers on a master, mirrors on a slave
  std::unique_ptr<RecallProcessor> recall_;
  std::unique_ptr<SendProcessor> send_;
  std::unique_ptr<SendBackProcessor> send_back_;
  std::unique_ptr<PullProcessor> pull_;
  std::unique_ptr<ClientProcessor> client_;
  std::unique_ptr<MessagingService> messaging_;
  std::unique_ptr<AdminProcessor> admin_processor_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<grpc::Server> server_;
  // With fastSendEnable (masters and slaves: slaves serve its pulls); destroyed after the store
  // ran every send's completion.
  std::unique_ptr<FastSendServer> fast_send_;
  std::unique_ptr<NamesrvRegistrar> registrar_;
  std::unique_ptr<TransactionCheckStreams> check_streams_;
  std::unique_ptr<txn::TransactionalMessageService> transactions_;  // masters only
  std::unique_ptr<EndTransactionProcessor> end_transaction_;
  std::unique_ptr<pop::PopService> pop_;              // pop consumption (masters serve it)
  std::unique_ptr<v2::ConsumerService> v2_consumer_;  // v2 consumer RPCs over pop_
  // Orphaned-transaction checks go to v1 check streams, then to v2 producers' Telemetry.
  std::unique_ptr<v2::CheckSenderChain> check_senders_;
  std::unique_ptr<v2::MessagingServiceV2> messaging_v2_;  // grpcServerPort != 0
  std::unique_ptr<grpc::Server> v2_server_;
  bool started_ = false;
  int reserved_listen_fd_ = -1;  // the picked listenPort, bound until the server takes it
};

}  // namespace mq::broker
