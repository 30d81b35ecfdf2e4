#include "namesrv_query.h"

#include <optional>

#include "common/logging.h"

namespace mq::client {

void NamesrvQuery::Start() {
  if (p_.addrs.empty()) {
    auto self = shared_from_this();
    p_.exec->Post([self] { self->Finish(Status::InvalidArgument("namesrv_addrs: none configured")); });
    return;
  }
  AskNext();
}

void NamesrvQuery::AskNext() {
  const size_t n = p_.addrs.size();
  size_t index;
  {
    std::lock_guard lock(mu_);
    if (finished_ || asked_ >= n) return;
    if (hedge_timer_ != 0) p_.exec->Cancel(hedge_timer_);
    hedge_timer_ = 0;
    index = (p_.first + asked_) % n;
    ++asked_;
    ++outstanding_;
  }
  mq::v1::QueryRouteRequest req;
  req.set_topic(p_.topic);
  auto stub = p_.stub(p_.addrs[index]);
  auto self = shared_from_this();
  auto call = StartCall<mq::v1::QueryRouteRequest, mq::v1::QueryRouteResponse>(
      [stub](auto* c, auto* q, auto* r, auto cb) { stub->async()->QueryRoute(c, q, r, std::move(cb)); },
      std::move(req), p_.timeout_ms, p_.exec, p_.inflight,
      [self, index](Result<mq::v1::QueryRouteResponse> r) { self->OnReply(index, std::move(r)); });
  std::lock_guard lock(mu_);
  if (finished_) {
    call->TryCancel();  // answered meanwhile by another NameServer
    return;
  }
  calls_.push_back(std::move(call));
  if (asked_ < n) {
    hedge_timer_ = p_.exec->ScheduleAfter(std::chrono::milliseconds(std::max<int64_t>(p_.hedge_ms, 1)),
                                          [self] { self->AskNext(); });
  }
}

void NamesrvQuery::OnReply(size_t index, Result<mq::v1::QueryRouteResponse> r) {
  if (r.ok() || r.status().IsInvalidArgument()) {
    {
      std::lock_guard lock(mu_);
      --outstanding_;
      if (finished_) return;
    }
    if (p_.answered) p_.answered(index);
    if (r.ok()) {
      Finish(std::move(*r->mutable_route()));
    } else {
      Finish(r.status());
    }
    return;
  }
  // NOT_FOUND from one NameServer is not the answer yet: one restarted a moment ago knows no
  // topic until every broker registered again (up to registerNameServerPeriod). The next one
  // is asked at once, and NOT_FOUND stands only when no NameServer knows the topic.
  const bool not_found = r.status().IsNotFound();
  Status error = r.status().WithContext("NameServer " + p_.addrs[index]);
  if (!not_found) MQ_LOG_WARN(Logger("client"), "query route of {}: {}", p_.topic, error.ToString());
  bool more;
  bool exhausted;
  std::optional<Status> unknown;
  {
    std::lock_guard lock(mu_);
    --outstanding_;
    if (finished_) return;
    if (not_found && !not_found_) not_found_ = r.status();
    more = asked_ < p_.addrs.size();
    exhausted = !more && outstanding_ == 0;
    unknown = not_found_;
  }
  if (more) {
    AskNext();
  } else if (exhausted) {
    Finish(unknown ? *unknown : Status::Unavailable("no NameServer answered (" + error.ToString() + ")"));
  }
}

void NamesrvQuery::Finish(Result<mq::v1::TopicRouteData> r) {
  std::vector<std::shared_ptr<grpc::ClientContext>> calls;
  {
    std::lock_guard lock(mu_);
    if (finished_) return;
    finished_ = true;
    if (hedge_timer_ != 0) p_.exec->Cancel(hedge_timer_);
    hedge_timer_ = 0;
    calls.swap(calls_);
  }
  for (auto& c : calls) c->TryCancel();  // no-op for the calls that completed
  p_.done(std::move(r));
}

}  // namespace mq::client
