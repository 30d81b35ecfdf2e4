#include "route_info.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/filter/sql_expression.h"
#include "common/tag_expression.h"

namespace mq::client {
namespace {

bool HasMaster(const mq::v1::TopicRouteData& route, const std::string& broker_name) {
  return !MasterAddress(route, broker_name).empty();
}

bool HasAnyNode(const mq::v1::TopicRouteData& route, const std::string& broker_name) {
  for (const auto& bd : route.broker_datas()) {
    if (bd.broker_name() != broker_name) continue;
    for (const auto& [id, addr] : bd.broker_addrs()) {
      if (!addr.empty()) return true;
    }
  }
  return false;
}

std::vector<MessageQueue> Queues(const std::string& topic, const mq::v1::TopicRouteData& route, int32_t perm,
                                 bool write) {
  std::vector<MessageQueue> out;
  for (const auto& qd : route.queue_datas()) {
    if ((qd.perm() & perm) == 0) continue;
    // Writes go to masters only; reads go on from a slave while the master is away.
    if (write ? !HasMaster(route, qd.broker_name()) : !HasAnyNode(route, qd.broker_name())) continue;
    int32_t n = write ? qd.write_queue_nums() : qd.read_queue_nums();
    for (int32_t i = 0; i < n; ++i) out.push_back(MessageQueue{topic, qd.broker_name(), i});
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The broker id 0 entry of one of broker_name's address maps ("" when absent).
template <typename AddressesOf>
std::string MasterEntry(const mq::v1::TopicRouteData& route, const std::string& broker_name,
                        AddressesOf addresses_of) {
  for (const auto& bd : route.broker_datas()) {
    if (bd.broker_name() != broker_name) continue;
    const auto& addrs = addresses_of(bd);
    auto it = addrs.find(0);
    if (it != addrs.end()) return it->second;
  }
  return "";
}

}  // namespace

std::string MasterAddress(const mq::v1::TopicRouteData& route, const std::string& broker_name) {
  return MasterEntry(
      route, broker_name, [](const mq::v1::BrokerData& bd) -> const auto& { return bd.broker_addrs(); });
}

std::string MasterFastSendAddress(const mq::v1::TopicRouteData& route, const std::string& broker_name) {
  return MasterEntry(
      route, broker_name, [](const mq::v1::BrokerData& bd) -> const auto& { return bd.fast_send_addrs(); });
}

std::string FastSendAddressOf(const mq::v1::TopicRouteData& route, const std::string& broker_addr) {
  for (const auto& bd : route.broker_datas()) {
    for (const auto& [id, addr] : bd.broker_addrs()) {
      if (addr != broker_addr) continue;
      auto fast = bd.fast_send_addrs().find(id);
      return fast == bd.fast_send_addrs().end() ? "" : fast->second;
    }
  }
  return "";
}

std::shared_ptr<const PublishRoute> PublishRouteCache::Get(
    const std::string& topic, std::shared_ptr<const mq::v1::TopicRouteData> route) {
  std::lock_guard lock(mu_);
  auto& entry = by_topic_[topic];
  if (!entry || entry->route != route) {
    auto queues = PublishQueues(topic, *route);
    entry = std::make_shared<const PublishRoute>(PublishRoute{std::move(route), std::move(queues)});
  }
  return entry;
}

std::vector<MessageQueue> PublishQueues(const std::string& topic, const mq::v1::TopicRouteData& route) {
  return Queues(topic, route, kPermWrite, true);
}

std::vector<MessageQueue> SubscribeQueues(const std::string& topic, const mq::v1::TopicRouteData& route) {
  return Queues(topic, route, kPermRead, false);
}

int CountBrokers(const std::vector<MessageQueue>& queues) {
  int brokers = 0;
  for (size_t i = 0; i < queues.size(); ++i) {
    if (i == 0 || queues[i].broker_name != queues[i - 1].broker_name) ++brokers;
  }
  return brokers;
}

MessageQueue QueueSelector::Select(const std::vector<MessageQueue>& queues, const std::string& last_broker,
                                   const LatencyFaultTolerance* faults) {
  const size_t n = queues.size();
  for (size_t i = 0; i < n; ++i) {
    const MessageQueue& q = queues[next_.fetch_add(1) % n];
    if (q.broker_name == last_broker && n > 1) continue;
    if (faults != nullptr && !faults->IsAvailable(q.broker_name)) continue;
    return q;
  }
  // Everything excluded: prefer another broker than the last one, else anything.
  for (size_t i = 0; i < n; ++i) {
    const MessageQueue& q = queues[next_.fetch_add(1) % n];
    if (q.broker_name != last_broker) return q;
  }
  return queues[next_.fetch_add(1) % n];
}

MessageQueue QueueSelector::SelectBalanced(const std::vector<MessageQueue>& queues,
                                           const std::string& last_broker,
                                           const LatencyFaultTolerance* faults, int64_t messages) {
  const size_t n = queues.size();
  auto eligible = [&](const MessageQueue& q) {
    return (q.broker_name != last_broker || n == 1) &&
           (faults == nullptr || faults->IsAvailable(q.broker_name));
  };
  std::lock_guard lock(mu_);
  int64_t floor = -1;  // the lowest count among known queues: where a new one starts
  for (const auto& q : queues) {
    if (auto it = given_.find(q); it != given_.end() && (floor < 0 || it->second < floor)) floor = it->second;
  }
  for (const auto& q : queues) given_.emplace(q, std::max<int64_t>(floor, 0));
  const MessageQueue* best = nullptr;
  const size_t start = next_.fetch_add(1) % n;  // ties rotate
  for (size_t i = 0; i < n; ++i) {
    const MessageQueue& q = queues[(start + i) % n];
    if (!eligible(q)) continue;
    if (best == nullptr || given_[q] < given_[*best]) best = &q;
  }
  if (best == nullptr) {
    // Everything excluded: as Select, prefer another broker than the last one.
    MessageQueue q = Select(queues, last_broker, nullptr);
    given_[q] += messages;
    return q;
  }
  given_[*best] += messages;
  return *best;
}

std::vector<MessageQueue> AllocateAveragely(std::vector<MessageQueue> queues, std::vector<std::string> cids,
                                            const std::string& me) {
  std::sort(queues.begin(), queues.end());
  std::sort(cids.begin(), cids.end());
  auto it = std::find(cids.begin(), cids.end(), me);
  if (it == cids.end() || queues.empty()) return {};
  const size_t index = static_cast<size_t>(it - cids.begin());
  const size_t q = queues.size();
  const size_t c = cids.size();
  const size_t mod = q % c;
  size_t size = q <= c ? 1 : (mod > 0 && index < mod ? q / c + 1 : q / c);
  size_t start = (mod > 0 && index < mod) ? index * size : index * size + mod;
  if (q <= c) start = index;
  std::vector<MessageQueue> out;
  for (size_t i = 0; i < size && start + i < q; ++i) out.push_back(queues[start + i]);
  return out;
}

Result<TagFilter> TagFilter::Parse(const std::string& expression) {
  MQ_ASSIGN_OR_RETURN(auto tags, ParseTagExpression(expression));
  TagFilter f;
  if (tags.empty()) return f;
  f.all_ = false;
  f.tags_.insert(tags.begin(), tags.end());
  f.expression_ = fmt::format("{}", fmt::join(tags, " || "));  // canonical form sent to brokers
  return f;
}

Result<TagFilter> TagFilter::ParseSql(const std::string& expression) {
  MQ_RETURN_IF_ERROR(filter::SqlExpression::Parse(expression).status());
  TagFilter f;
  f.expression_ = expression;
  f.expression_type_ = std::string(filter::kExpressionTypeSql92);
  return f;
}

Result<TagFilter> ParseSelector(const MessageSelector& selector) {
  return selector.type() == ExpressionType::kSql92 ? TagFilter::ParseSql(selector.expression())
                                                   : TagFilter::Parse(selector.expression());
}

}  // namespace mq::client
