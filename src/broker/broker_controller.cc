#include "broker/broker_controller.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "broker/fast/fast_send_server.h"
#include "broker/filter/sql_filter_cache.h"
#include "broker/ha/ha_client.h"
#include "broker/ha/ha_service.h"
#include "broker/longpolling/wait_registry.h"
#include "broker/meta/client_registry.h"
#include "broker/meta/consumer_offset_manager.h"
#include "broker/meta/queue_lock_manager.h"
#include "broker/meta/subscription_group_manager.h"
#include "broker/meta/topic_config_manager.h"
#include "broker/out/namesrv_registrar.h"
#include "broker/pop/pop_service.h"
#include "broker/processor/admin_processor.h"
#include "broker/processor/admin_service.h"
#include "broker/processor/client_processor.h"
#include "broker/processor/end_transaction_check_streams.h"
#include "broker/processor/end_transaction_processor.h"
#include "broker/processor/messaging_service.h"
#include "broker/processor/pull_processor.h"
#include "broker/processor/recall_processor.h"
#include "broker/processor/send_back_processor.h"
#include "broker/processor/send_processor.h"
#include "broker/schedule/schedule_message_service.h"
#include "broker/store/message_store.h"
#include "broker/timer/timer_message.h"
#include "broker/timer/timer_service.h"
#include "broker/transaction/transactional_message_service.h"
#include "broker/v2/consumer_service.h"
#include "broker/v2/messaging_service_v2.h"
#include "broker/v2/telemetry.h"
#include "common/clock.h"
#include "common/frame.h"
#include "common/heap.h"
#include "common/logging.h"
#include "common/naming.h"
#include "common/perm.h"
#include "common/rpc/grpc_defaults.h"

namespace mq::broker {
namespace {

void AddTimerRuntimeInfo(const timer::TimerService& timer, std::map<std::string, std::string>* table) {
  const timer::TimerStats s = timer.Stats();
  (*table)["timerPending"] = std::to_string(s.pending);
  (*table)["timerProgressMs"] = std::to_string(s.progress_ms);
  (*table)["timerEnqueueOffset"] = std::to_string(s.enqueue_offset);
  (*table)["timerDelivered"] = std::to_string(s.delivered);
  (*table)["timerRecalled"] = std::to_string(s.recalled);
  (*table)["timerRolled"] = std::to_string(s.rolled);
  (*table)["timerSlots"] = std::to_string(s.slots);
}

pop::PopOptions PopOptionsOf(const BrokerConfig& c) {
  pop::PopOptions o;
  o.broker_name = c.brokerName;
  o.journal_topic = std::string(pop::kJournalTopicPrefix) + c.brokerClusterName;
  o.state_path = c.storePathRootDir + "/config/popState.json";
  o.revive_interval_ms = c.reviveInterval;
  o.snapshot_interval_ms = c.flushConsumerOffsetInterval;
  o.default_invisible_ms = c.defaultInvisibleTimeMills;
  o.renew_ahead_ms = c.renewAheadTimeMillis;
  o.renew_max_ms = c.renewMaxTimeMillis;
  o.client_idle_ms = c.grpcClientIdleTimeMills;
  o.pop_polling_size = static_cast<size_t>(c.popPollingSize);
  o.max_pop_polling_size = static_cast<size_t>(c.maxPopPollingSize);
  return o;
}

}  // namespace

BrokerController::BrokerController(BrokerConfig config)
    : config_(std::move(config)), runtime_(config_), executor_("broker", 2) {}

BrokerController::~BrokerController() {
  ReleaseListenPort();  // a Start() that failed early
  Shutdown();
}

std::string BrokerController::broker_addr() const {
  return HostPort{config_.brokerIP1, static_cast<uint16_t>(config_.listenPort)}.ToString();
}

std::string BrokerController::v2_addr() const {
  if (config_.grpcServerPort <= 0) return {};
  return HostPort{config_.brokerIP1, static_cast<uint16_t>(config_.grpcServerPort)}.ToString();
}

std::string BrokerController::fast_send_addr() const {
  if (!fast_send_) return {};
  return HostPort{config_.brokerIP1, static_cast<uint16_t>(fast_send_->port())}.ToString();
}

// With listenPort=0 the port is chosen before the store opens, because every stored record
// carries the broker's address (offset message ids decode to it).
Status BrokerController::PickListenPort() {
  if (config_.listenPort != 0) return Status::OK();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Status::Unavailable("listenPort: cannot create a socket to pick a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  inet_pton(AF_INET, config_.bindAddress == "0.0.0.0" ? "127.0.0.1" : config_.bindAddress.c_str(),
            &addr.sin_addr);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return Status::Unavailable("listenPort: cannot pick a free port");
  }
  config_.listenPort = ntohs(addr.sin_port);
  // Held (bound, not listening) until the gRPC server binds it, so that nothing started
  // meanwhile with port 0 (haListenPort=0) is handed the same port.
  reserved_listen_fd_ = fd;
  return Status::OK();
}

// grpcServerPort=-1 binds any free port; the real one is then advertised (registration, ready
// file) like a configured one.
Status BrokerController::StartV2Server() {
  auto started = rpc::StartServer(config_.bindAddress, std::max(0, config_.grpcServerPort),
                                  {messaging_v2_.get()}, "grpcServerPort", ServerLimitsOf(config_));
  if (!started.ok()) return started.status();
  v2_server_ = std::move(started->server);
  config_.grpcServerPort = started->port;
  messaging_v2_->set_v2_addr(v2_addr());
  return Status::OK();
}

void BrokerController::ReleaseListenPort() {
  if (reserved_listen_fd_ >= 0) ::close(reserved_listen_fd_);
  reserved_listen_fd_ = -1;
}

Status BrokerController::Start() {
  auto log = Logger("broker");
  start_ms_ = SystemClock::Default()->NowMillis();
  MQ_RETURN_IF_ERROR(PickListenPort());
  const std::string config_dir = config_.storePathRootDir + "/config";
  Clock* clock = SystemClock::Default();

  TopicConfigManager::Options topic_options;
  topic_options.cluster_name = config_.brokerClusterName;
  topic_options.broker_name = config_.brokerName;
  topic_options.default_topic_queue_nums = config_.defaultTopicQueueNums;
  topic_options.auto_create_topic_enable = config_.autoCreateTopicEnable;
  topic_options.max_topic_count = static_cast<size_t>(config_.maxTopicCount);
  topic_options.persist_delay = std::chrono::milliseconds(config_.autoCreatePersistDelayMills);
  topics_ = std::make_unique<TopicConfigManager>(config_dir, topic_options, clock);
  SubscriptionGroupManager::Options group_options;
  group_options.auto_create = config_.autoCreateSubscriptionGroup;
  group_options.max_group_count = static_cast<size_t>(config_.maxSubscriptionGroupCount);
  group_options.persist_delay = std::chrono::milliseconds(config_.autoCreatePersistDelayMills);
  groups_ = std::make_unique<SubscriptionGroupManager>(config_dir, group_options);
  offsets_ = std::make_unique<ConsumerOffsetManager>(config_dir);
  clients_ = std::make_unique<ClientRegistry>(clock, config_.channelExpiredTimeout,
                                              static_cast<size_t>(config_.maxClientCount));
  locks_ = std::make_unique<QueueLockManager>(config_.queueLockMaxLiveTime);
  MQ_RETURN_IF_ERROR(topics_->Load());
  MQ_RETURN_IF_ERROR(groups_->Load());
  MQ_RETURN_IF_ERROR(offsets_->Load());
  MQ_ASSIGN_OR_RETURN(auto delay_levels, schedule::DelayLevels::Parse(config_.messageDelayLevel));
  delay_offsets_ = std::make_unique<schedule::DelayOffsetTable>(config_dir);
  MQ_RETURN_IF_ERROR(delay_offsets_->Load());

  executor_.Start();
  sql_filters_ = std::make_unique<SqlFilterCache>();
  waits_ = std::make_unique<WaitRegistry>(&executor_, static_cast<size_t>(config_.maxSuspendedPullRequests));
  store_ = std::make_unique<store::MessageStore>(ToStoreOptions(config_), clock);
  store_->AddArrivalListener([this](const std::string& topic, int32_t queue_id, int64_t) {
    // The dispatch thread answers a queue's few parked pulls itself (no hop per message); pops
    // take the pop service's broker-wide lock, so they stay on the executor.
    waits_->Notify(QueueWaitKey(topic, queue_id), WaitRegistry::NotifyOn::kCaller);
    waits_->Notify(pop::PopWaitKey(topic));
  });
  schedule_ = std::make_unique<schedule::ScheduleMessageService>(
      schedule::ScheduleMessageService::Options{delay_levels, config_.flushDelayOffsetInterval}, store_.get(),
      delay_offsets_.get());
  timer_ = MakeTimerService();
  store_->AddArrivalListener([this](const std::string& topic, int32_t, int64_t) {
    if (topic == timer::kTimerTopic) timer_->Wake();
  });
  MQ_RETURN_IF_ERROR(store_->Start());
  if (!IsSlave(config_)) {
    // A slave's log may lag its master's offsets; a master's consume queues are complete here
    // (recovery dispatches the whole log before Start() returns).
    for (const auto& clamped : offsets_->ClampToQueueEnds([this](const std::string&topic, int32_t queue_id) {
           return store_->MaxOffsetInQueue(topic, queue_id);
         })) {
      MQ_LOG_WARN(Logger("broker"), "consumer offset past its queue's end (the commit log lost its tail): {}",
                  clamped);
    }
  }
  // A later step failed: stops what Start() started so far, in reverse order (each Shutdown is a
  // no-op for a part that never started), and returns `s`.
  auto unwind = [this](Status s) {
    if (v2_server_) {
      messaging_v2_->CloseStreams();
      v2_server_->Shutdown(std::chrono::system_clock::now());
      v2_server_->Wait();
      v2_server_.reset();
    }
    if (check_senders_) check_senders_->set_second(nullptr);
    if (pop_) pop_->Shutdown();
    if (transactions_) transactions_->Shutdown();
    timer_->Shutdown();
    if (ha_service_) ha_service_->Shutdown();
    store_->Shutdown();
    executor_.Shutdown();
    return s;
  };
  const std::string transaction_progress_path = config_dir + "/transactionProgress";
  const ha::MetadataManagers metadata{topics_.get(),
                                      groups_.get(),
                                      offsets_.get(),
                                      delay_offsets_.get(),
                                      transaction_progress_path,
                                      [store = store_.get()] { return store->MaxPhyOffset(); }};
  if (!IsSlave(config_)) {
    // haListenPort=0 picks a free port; the real one is advertised in the registration.
    ha_service_ = std::make_unique<ha::HaService>(
        ha::HaService::Options{config_.bindAddress, config_.haListenPort, config_.brokerName}, store_.get(),
        metadata);
    if (Status s = ha_service_->Start(); !s.ok()) {
      ha_service_.reset();
      return unwind(s);
    }
    config_.haListenPort = ha_service_->port();
  }
  if (Status s = timer_->Start(); !s.ok()) return unwind(s);
  clients_->SetGroupChangedListener(
      [this](const std::string& group, int64_t) { waits_->Notify(GroupWaitKey(group)); });

  BrokerContext ctx;
  ctx.trigger_registration = [this] {
    if (registrar_) registrar_->TriggerNow();
  };
  ctx.config = &config_;
  ctx.runtime = &runtime_;
  ctx.stats = &stats_;
  ctx.store = store_.get();
  ctx.topics = topics_.get();
  ctx.groups = groups_.get();
  ctx.offsets = offsets_.get();
  ctx.clients = clients_.get();
  ctx.locks = locks_.get();
  ctx.waits = waits_.get();
  ctx.delay_levels = &schedule_->levels();
  ctx.sql_filters = sql_filters_.get();
  ctx.timer = timer_.get();
  send_ = std::make_unique<SendProcessor>(ctx, ha_service_.get());
  send_back_ = std::make_unique<SendBackProcessor>(ctx);
  pull_ = std::make_unique<PullProcessor>(ctx);
  client_ = std::make_unique<ClientProcessor>(ctx);
  recall_ = std::make_unique<RecallProcessor>(ctx);
  messaging_ =
      std::make_unique<MessagingService>(send_.get(), pull_.get(), client_.get(),
                                         config_.sendRequestMemoryQuota, send_back_.get(), recall_.get());
  check_streams_ = std::make_unique<TransactionCheckStreams>();
  check_senders_ = std::make_unique<v2::CheckSenderChain>(check_streams_.get(), nullptr);
  if (!IsSlave(config_)) {
    txn::TransactionOptions txn_options;
    txn_options.transaction_timeout_ms = config_.transactionTimeOut;
    txn_options.check_interval_ms = config_.transactionCheckInterval;
    txn_options.check_max = config_.transactionCheckMax;
    txn_options.broker_name = config_.brokerName;
    txn_options.progress_path = transaction_progress_path;
    transactions_ = std::make_unique<txn::TransactionalMessageService>(
        txn_options, store_.get(), topics_.get(), check_senders_.get(), clock);
    if (Status s = transactions_->Start(); !s.ok()) {
      transactions_.reset();
      return unwind(s);
    }
  }
  end_transaction_ = std::make_unique<EndTransactionProcessor>(ctx, transactions_.get(), ha_service_.get());
  pop_ = std::make_unique<pop::PopService>(PopOptionsOf(config_), ctx, send_back_.get(), &executor_, clock);
  if (Status s = pop_->Start(); !s.ok()) {
    pop_.reset();
    return unwind(s);
  }
  messaging_->SetTransactions(end_transaction_.get(), check_streams_.get());
  v2::ConsumerServiceOptions v2_consumer_options;
  v2_consumer_options.min_invisible_ms = config_.minInvisibleTimeMillsForRecv;
  v2_consumer_options.max_invisible_ms = config_.maxInvisibleTimeMills;
  v2_consumer_options.min_long_polling_ms = config_.grpcClientConsumerMinLongPollingTimeoutMillis;
  v2_consumer_options.max_long_polling_ms = config_.grpcClientConsumerMaxLongPollingTimeoutMillis;
  v2_consumer_ = std::make_unique<v2::ConsumerService>(v2_consumer_options, pop_.get());
  admin_processor_ = std::make_unique<AdminProcessor>(ctx, start_ms_);
  admin_processor_->set_runtime_info_hook([this](std::map<std::string, std::string>* table) {
    if (ha_service_) ha_service_->AddRuntimeInfo(table);
    if (ha_client_) ha_client_->AddRuntimeInfo(table);
    AddTimerRuntimeInfo(*timer_, table);
  });
  admin_processor_->set_topic_deleted_hook(
      [pop = pop_.get()](const std::string& topic, std::function<void(Status)> done) {
        pop->ForgetTopic(topic, std::move(done));
      });
  admin_ = std::make_unique<AdminService>(admin_processor_.get());

  if (config_.grpcServerPort != 0) {
    v2::MessagingServiceV2::Deps deps;
    deps.ctx = ctx;
    deps.send = send_.get();
    deps.end_transaction = end_transaction_.get();
    deps.recall = recall_.get();
    deps.client = client_.get();
    deps.executor = &executor_;
    if (auto namesrvs = ParseNamesrvAddr(config_.namesrvAddr); namesrvs.ok()) deps.namesrv_addrs = *namesrvs;
    messaging_v2_ = std::make_unique<v2::MessagingServiceV2>(std::move(deps));
    check_senders_->set_second(messaging_v2_->telemetry());
    messaging_v2_->set_consumer_rpcs(v2_consumer_.get());
    if (Status s = StartV2Server(); !s.ok()) return unwind(s);
  }
  ReleaseListenPort();
  auto started = rpc::StartServer(config_.bindAddress, config_.listenPort, {messaging_.get(), admin_.get()},
                                  "listenPort", ServerLimitsOf(config_));
  if (!started.ok()) return unwind(started.status());
  server_ = std::move(started->server);
  if (config_.fastSendEnable) {
    FastSendServer::Options fast_options;
    fast_options.bind_address = config_.bindAddress;
    fast_options.port = config_.fastListenPort;
    fast_options.threads = FastIoThreads(config_);
    // The gRPC port's request limit (2 x maxMessageSize + 1 MiB) plus the frame header.
    fast_options.max_frame_bytes =
        static_cast<uint32_t>(ServerLimitsOf(config_).max_receive_bytes + frame::kHeaderBytes);
    fast_send_ = std::make_unique<FastSendServer>(fast_options, send_.get(), messaging_->send_budget(),
                                                  pull_.get(), client_.get());
    if (Status s = fast_send_->Start(); !s.ok()) {
      fast_send_.reset();
      server_->Shutdown(std::chrono::system_clock::now());
      server_->Wait();
      server_.reset();
      return unwind(s);
    }
    config_.fastListenPort = fast_send_->port();
  }
  started_ = true;
  StartTimers();
  if (!IsSlave(config_)) schedule_->Start();

  auto namesrvs = ParseNamesrvAddr(config_.namesrvAddr);
  if (namesrvs.ok() && !namesrvs->empty()) {
    mq::v1::BrokerIdentity identity;
    identity.set_cluster_name(config_.brokerClusterName);
    identity.set_broker_name(config_.brokerName);
    identity.set_broker_id(config_.brokerId);
    identity.set_broker_addr(broker_addr());
    identity.set_grpc_v2_addr(v2_addr());
    identity.set_fast_send_addr(fast_send_addr());
    // Only a master serves replication, so only a master advertises an HA address.
    if (ha_service_) {
      identity.set_ha_server_addr(
          HostPort{config_.brokerIP1, static_cast<uint16_t>(config_.haListenPort)}.ToString());
    }
    registrar_ = std::make_unique<NamesrvRegistrar>(
        *namesrvs,
        [this, identity] {
          // The broker permission masks every topic's perm, so it is part of the version.
          auto version = topics_->data_version();
          version.set_state_version(
              fmt::format("{}/perm{}", version.state_version(), runtime_.broker_permission.load()));
          return std::make_pair(identity, version);
        },
        [this] {
          auto topics = topics_->All();
          if (!IsWritable(runtime_.broker_permission.load())) {
            for (auto& t : topics) t.set_perm(t.perm() & ~kPermWrite);
          }
          return topics;
        },
        std::chrono::milliseconds(config_.registerNameServerPeriod),
        std::chrono::milliseconds(config_.registerBrokerTimeoutMills));
    topics_->SetChangeListener([this] { registrar_->TriggerNow(); });
    registrar_->Start();
  }
  if (IsSlave(config_)) {
    ha_client_ = std::make_unique<ha::HaClient>(
        ha::HaClient::Options{config_.brokerName, config_.brokerId, broker_addr()}, store_.get(), metadata,
        [this] {
          if (!config_.haMasterAddress.empty()) return config_.haMasterAddress;
          return registrar_ ? registrar_->master().ha_server_addr : std::string();
        });
    ha_client_->Start();
  }
  MQ_LOG_INFO(log,
              "broker started cluster={} broker_name={} broker_id={} role={} addr={} store={} namesrv={}",
              config_.brokerClusterName, config_.brokerName, config_.brokerId, config_.brokerRole,
              broker_addr(), config_.storePathRootDir, config_.namesrvAddr);
  return Status::OK();
}

std::unique_ptr<timer::TimerService> BrokerController::MakeTimerService() {
  timer::TimerServiceOptions o;
  o.dir = config_.storePathRootDir + "/timer";
  o.broker_name = config_.brokerName;
  o.precision_ms = config_.timerPrecisionMs;
  o.roll_window_slots = EffectiveTimerRollWindowSlots(config_);
  if (o.roll_window_slots != config_.timerRollWindowSlot) {
    MQ_LOG_INFO(Logger("broker"),
                "timer: timerRollWindowSlot {} shortened to {} so parked messages are copied forward within "
                "fileReservedTime={} h",
                config_.timerRollWindowSlot, o.roll_window_slots, config_.fileReservedTime);
  }
  o.deliver = !IsSlave(config_);  // a slave's store takes replicated bytes only
  auto put = [this](store::MessageInput in, store::PutCallback done) {
    store_->PutMessage(std::move(in), std::move(done));
  };
  return std::make_unique<timer::TimerService>(std::move(o), store_.get(), std::move(put));
}

void BrokerController::StartTimers() {
  using std::chrono::milliseconds;
  const auto persist_every = milliseconds(config_.flushConsumerOffsetInterval);
  executor_.ScheduleEvery(persist_every, persist_every, [this] {
    if (Status s = offsets_->Persist(); !s.ok())
      MQ_LOG_ERROR(Logger("broker"), "persist offsets: {}", s.ToString());
  });
  executor_.ScheduleEvery(milliseconds(10000), milliseconds(10000), [this] {
    for (const auto& id : clients_->ExpireClients()) {
      locks_->UnlockAll(id);
      MQ_LOG_INFO(Logger("broker"), "client expired client_id={}", id);
    }
  });
  // A burst of large messages (or a hostile client) leaves freed heap behind: give it back.
  executor_.ScheduleEvery(milliseconds(3000), milliseconds(3000), [] { ReleaseFreeHeap(); });
  executor_.ScheduleEvery(milliseconds(1000), milliseconds(1000),
                          [this, last_put = int64_t{0}, last_got = int64_t{0}]() mutable {
                            int64_t put = stats_.put_messages.load();
                            int64_t got = stats_.got_messages.load();
                            stats_.put_tps = put - last_put;
                            stats_.got_tps = got - last_got;
                            last_put = put;
                            last_got = got;
                          });
}

void BrokerController::Shutdown() {
  if (!started_) return;
  started_ = false;
  auto log = Logger("broker");
  // The check thread appends to the store and wakes replication: stop it before both.
  if (transactions_) transactions_->Shutdown();
  // Open check streams would hold the server's drain until its deadline.
  check_streams_->CloseAll();
  // Deliveries stop first: they put into the store and wake replication.
  timer_->Shutdown();
  // The slave's metadata sync may touch topics (and so the registrar): stop it first.
  if (ha_client_) ha_client_->Shutdown();
  if (registrar_) registrar_->Shutdown(/*unregister=*/true);
  // Replication stops before the server drains: parked SYNC_MASTER sends complete now.
  if (ha_service_) ha_service_->Shutdown();
  waits_->Shutdown();
  // Both servers drain together, within one deadline: a client that keeps an idle connection
  // holds a drain until the deadline, and two drains in a row would double the stop time.
  const auto drain_deadline = std::chrono::system_clock::now() + std::chrono::seconds(3);
  std::thread v2_drain;
  if (v2_server_) {
    // Open Telemetry streams would hold the drain until its deadline.
    messaging_v2_->CloseStreams();
    v2_drain = std::thread([this, drain_deadline] {
      v2_server_->Shutdown(drain_deadline);
      v2_server_->Wait();
    });
  }
  if (fast_send_) fast_send_->Shutdown(drain_deadline);
  server_->Shutdown(drain_deadline);
  server_->Wait();
  if (v2_drain.joinable()) v2_drain.join();
  executor_.Shutdown();
  schedule_->Shutdown();  // before the store: its thread reads and writes it
  pop_->Shutdown();       // before the store: waits for its journal puts, then snapshots
  if (Status s = offsets_->Persist(); !s.ok()) MQ_LOG_ERROR(log, "persist offsets: {}", s.ToString());
  // Topics and groups auto-created within the last autoCreatePersistDelayMills.
  if (Status s = topics_->Flush(); !s.ok()) MQ_LOG_ERROR(log, "persist topics: {}", s.ToString());
  if (Status s = groups_->Flush(); !s.ok())
    MQ_LOG_ERROR(log, "persist subscription groups: {}", s.ToString());
  store_->Shutdown();
  MQ_LOG_INFO(log, "broker stopped broker_name={} broker_id={}", config_.brokerName, config_.brokerId);
}

}  // namespace mq::broker
