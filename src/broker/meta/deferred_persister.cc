#include "broker/meta/deferred_persister.h"

#include <utility>

#include "common/logging.h"
#include "common/thread_name.h"

namespace mq::broker {

DeferredPersister::DeferredPersister(std::string name, std::chrono::milliseconds max_delay, PersistFn persist)
    : name_(std::move(name)), max_delay_(max_delay), persist_(std::move(persist)) {
  thread_ = StartNamedThread<std::jthread>("mq-persist", [this](std::stop_token stop) { Run(stop); });
}

DeferredPersister::~DeferredPersister() { (void)Stop(); }

void DeferredPersister::MarkDirty() { Schedule(max_delay_); }

void DeferredPersister::FlushSoon() { Schedule(std::chrono::milliseconds(0)); }

void DeferredPersister::Schedule(std::chrono::milliseconds delay) {
  {
    std::lock_guard lock(mu_);
    if (!stopped_) {
      const auto due = std::chrono::steady_clock::now() + delay;
      if (dirty_ && due_ <= due) return;  // the scheduled write will include this change
      dirty_ = true;
      due_ = due;
      cv_.notify_all();
      return;
    }
  }
  // After Stop() there is no thread left to defer to (late request during shutdown).
  if (Status s = persist_(); !s.ok()) {
    MQ_LOG_ERROR(Logger("broker"), "persist {} after shutdown failed: {}", name_, s.ToString());
  }
}

bool DeferredPersister::pending() const {
  std::lock_guard lock(mu_);
  return dirty_;
}

void DeferredPersister::Run(std::stop_token stop) {
  std::unique_lock lock(mu_);
  while (!stop.stop_requested()) {
    if (!cv_.wait(lock, stop, [this] { return dirty_; })) break;
    // Wait out the delay so that a burst of marks becomes one write; FlushSoon() may bring
    // the due time forward meanwhile.
    while (!stop.stop_requested() && std::chrono::steady_clock::now() < due_) {
      const auto due = due_;
      cv_.wait_until(lock, stop, due, [this, due] { return due_ != due; });
    }
    if (stop.stop_requested()) break;
    dirty_ = false;
    lock.unlock();
    Status s = persist_();
    lock.lock();
    if (!s.ok()) {
      MQ_LOG_ERROR(Logger("broker"), "deferred persist of {} failed, retrying in {} ms: {}", name_,
                   max_delay_.count(), s.ToString());
      dirty_ = true;
      due_ = std::chrono::steady_clock::now() + max_delay_;
    }
  }
}

Status DeferredPersister::Stop() {
  bool pending;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return Status::OK();
    stopped_ = true;
  }
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mu_);
    pending = dirty_;
    dirty_ = false;
  }
  return pending ? persist_() : Status::OK();
}

}  // namespace mq::broker
