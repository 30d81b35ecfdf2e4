// TransactionCheckStreams: the gRPC side of check-back. Each TransactionProducer keeps one
// TransactionCheckStream call open per master broker; this registry holds those calls by
// producer group and writes a TransactionCheck into one of them (round robin over the group's
// live streams). An open stream is what makes a producer "live" for checks: it ends when the
// producer goes away (cancel) or the connection breaks, and the call leaves the registry.
// Implements txn::CheckSender, so the check service never sees gRPC.
// Threads: Open() on gRPC threads, SendCheck() on the check thread, reactor callbacks on gRPC
// threads. mu_ guards streams_ and is taken before a stream's own mutex, never the reverse.
// CloseAll() (broker shutdown, before the server drains) finishes every open call.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "broker/transaction/check_sender.h"
#include "mq/v1/broker.pb.h"

namespace mq::broker {

class TransactionCheckStreams final : public txn::CheckSender {
 public:
  // Checks queued on one stream before further ones are refused (the check comes back later).
  static constexpr size_t kMaxQueuedChecks = 1024;

  TransactionCheckStreams() = default;
  ~TransactionCheckStreams() override = default;
  TransactionCheckStreams(const TransactionCheckStreams&) = delete;
  TransactionCheckStreams& operator=(const TransactionCheckStreams&) = delete;

  // Starts serving one TransactionCheckStream call; the reactor deletes itself when done.
  grpc::ServerWriteReactor<mq::v1::TransactionCheck>* Open(
      const mq::v1::TransactionCheckStreamRequest& request);

  bool SendCheck(const std::string& group, const mq::v1::TransactionCheck& check) override;
  void CloseAll();
  size_t LiveStreams(const std::string& group);

  class Stream;

 private:
  friend class Stream;
  void Remove(Stream* stream);

  std::mutex mu_;
  std::multimap<std::string, Stream*> streams_;  // GUARDED_BY(mu_): group -> open call
  std::map<std::string, uint64_t> next_;         // GUARDED_BY(mu_): round robin per group
  bool closed_ = false;                          // GUARDED_BY(mu_)
};

}  // namespace mq::broker
