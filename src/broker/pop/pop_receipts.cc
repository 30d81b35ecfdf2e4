// PopService's receipt-handle operations: Ack, ChangeInvisible and ForwardToDeadLetterQueue,
// and the forwarding of deliveries out of attempts to %DLQ%<group>. Locking and threads as in
// pop_service.h.
#include <fmt/format.h>

#include "broker/longpolling/wait_registry.h"
#include "broker/pop/pop_service.h"
#include "broker/processor/send_back_processor.h"
#include "common/logging.h"

namespace mq::broker::pop {
namespace {

Status StaleHandle() {
  return Status::NotFound(
      "receipt_handle: stale: the message was redelivered, its invisible time was changed, or it was acked");
}

}  // namespace

void PopService::RunDlqJobs(std::vector<DlqJob> jobs) {
  for (const auto& job : jobs) {
    auto log_failure = [job](const Status& s) {
      if (!s.ok()) {
        MQ_LOG_WARN(Logger("broker"), "pop: forward to %DLQ%{} of {} offset {} failed (retried later): {}",
                    job.key.group, job.key.topic, job.offset, s.ToString());
      }
    };
    if (auto message = LookDelivery(job.key, job.offset, job.commit_log_offset); !message.ok()) {
      // Nothing to forward (retention deleted it): the delivery ends here, as a redelivery of a
      // gone message does. Retried instead, it would hold the queue's low-water mark (and a FIFO
      // queue) for good.
      MQ_LOG_WARN(Logger("broker"), "pop: dropping {}@{} queue={} offset={}, out of attempts: {}",
                  job.key.topic, job.key.group, job.key.queue_id, job.offset, message.status().ToString());
      EndDelivery(job, log_failure);
      continue;
    }
    ForwardOne(job, log_failure);
  }
}

void PopService::ForwardOne(const DlqJob& job, StatusCallback done) {
  mq::v1::ConsumerSendMsgBackRequest request;
  request.set_group(job.key.group);
  request.set_origin_topic(job.key.topic);
  request.set_commit_log_offset(job.commit_log_offset);
  request.set_delay_level(-1);
  send_back_->SendBack(request, [this, job, done = std::move(done)](
                                    const Status& s, const mq::v1::ConsumerSendMsgBackResponse&) mutable {
    if (!s.ok()) return done(s);
    EndDelivery(job, std::move(done));
  });
}

void PopService::EndDelivery(const DlqJob& job, StatusCallback done) {
  bool acked = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    acked = table_.ApplyAck(job.key, job.offset, job.epoch);
    if (acked) ++pending_puts_;
    CommitLowWatersLocked({job.key});
  }
  ctx_.waits->Notify(PopWaitKey(job.key.topic));
  // Acked meanwhile by the consumer: the copy in the DLQ stays (at-least-once).
  if (!acked) return done(Status::OK());
  Journal({MakeJournalEntry(JournalType::kAck, job.key, job.offset, job.epoch)},
          [done](bool) { done(Status::OK()); });
}

Result<ReceiptHandle> PopService::CheckHandle(const std::string& topic, const std::string& handle) const {
  MQ_ASSIGN_OR_RETURN(auto h, ReceiptHandle::Parse(handle));
  if (h.broker_name != ctx_.config->brokerName) {
    return Status::InvalidArgument(
        fmt::format("receipt_handle: issued by broker {}, not {}", h.broker_name, ctx_.config->brokerName));
  }
  if (h.topic != topic) {
    return Status::InvalidArgument(
        fmt::format("receipt_handle: names topic '{}', the request names '{}'", h.topic, topic));
  }
  return h;
}

void PopService::Ack(const std::string& group, const std::string& topic, const std::string& handle,
                     StatusCallback done) {
  if (!started_)
    return done(Status::Unavailable("pop: the broker is not serving acks (starting or stopping)"));
  if (Status slave = RefusedOnASlave(); !slave.ok()) return done(slave);
  auto h = CheckHandle(topic, handle);
  if (!h.ok()) return done(h.status());
  const QueueKey key{group, topic, h->queue_id};
  bool in_flight = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Not ApplyAck alone: it also accepts an acked delivery not yet trimmed (replay needs
    // that), and a second ack of a handle must be refused whether or not it was trimmed.
    in_flight = table_.FindDelivery(key, h->queue_offset, h->epoch) != nullptr;
    if (in_flight) {
      table_.ApplyAck(key, h->queue_offset, h->epoch);
      ++pending_puts_;
      CommitLowWatersLocked({key});
    }
  }
  if (!in_flight) return done(StaleHandle());
  ctx_.waits->Notify(PopWaitKey(topic));  // a FIFO queue may be free now
  // Answered once the ack is stored, like a send: an acked message is never redelivered.
  Journal({MakeJournalEntry(JournalType::kAck, key, h->queue_offset, h->epoch)},
          [done = std::move(done)](bool ok) {
            done(ok ? Status::OK() : Status::Unavailable("ack: the store refused the ack record; retry"));
          });
}

void PopService::ChangeInvisible(const std::string& group, const std::string& topic,
                                 const std::string& handle, int64_t invisible_ms, HandleCallback done) {
  if (!started_)
    return done(Status::Unavailable("pop: the broker is not serving (starting or stopping)"), "");
  if (Status slave = RefusedOnASlave(); !slave.ok()) return done(slave, "");
  auto h = CheckHandle(topic, handle);
  if (!h.ok()) return done(h.status(), "");
  if (invisible_ms < 0) {
    return done(Status::InvalidArgument(fmt::format("invisible_duration: {} ms is negative", invisible_ms)),
                "");
  }
  const QueueKey key{group, topic, h->queue_id};
  ReceiptHandle next = *h;
  JournalEntry entry = MakeJournalEntry(JournalType::kChange, key, h->queue_offset, h->epoch);
  bool in_flight = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight = table_.FindDelivery(key, h->queue_offset, h->epoch) != nullptr;
    if (in_flight) {
      const int64_t now = clock_->NowMillis();
      next.epoch = NextEpochLocked(now);
      next.pop_time_ms = now;
      next.deadline_ms = now + invisible_ms;
      table_.ApplyChange(key, h->queue_offset, h->epoch, next.epoch, next.deadline_ms);
      ++pending_puts_;
    }
  }
  if (!in_flight) return done(StaleHandle(), "");
  entry.new_epoch = next.epoch;
  entry.deadline_ms = next.deadline_ms;
  if (invisible_ms < options_.revive_interval_ms) {
    // A nack with a short backoff: wake the parked pops when it is due, not at the next tick.
    executor_->ScheduleAfter(std::chrono::milliseconds(invisible_ms + 1),
                             [waits = ctx_.waits, topic] { waits->Notify(PopWaitKey(topic)); });
  }
  Journal({std::move(entry)}, [done = std::move(done), text = next.Encode()](bool ok) {
    if (!ok)
      return done(Status::Unavailable("change invisible duration: the store refused the record; retry"), "");
    done(Status::OK(), text);
  });
}

void PopService::ForwardToDeadLetterQueue(const std::string& group, const std::string& topic,
                                          const std::string& handle, StatusCallback done) {
  if (!started_) return done(Status::Unavailable("pop: the broker is not serving (starting or stopping)"));
  if (Status slave = RefusedOnASlave(); !slave.ok()) return done(slave);
  auto h = CheckHandle(topic, handle);
  if (!h.ok()) return done(h.status());
  const QueueKey key{group, topic, h->queue_id};
  DlqJob job{key, h->queue_offset, h->epoch, 0};
  bool in_flight = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const InFlight* e = table_.FindDelivery(key, h->queue_offset, h->epoch);
    in_flight = e != nullptr;
    if (in_flight) job.commit_log_offset = e->commit_log_offset;
  }
  if (!in_flight) return done(StaleHandle());
  ForwardOne(job, std::move(done));
}

}  // namespace mq::broker::pop
