#include "namesrv/kv_config_store.h"

#include <fmt/format.h>

namespace mq::namesrv {
namespace {

constexpr size_t kMaxKvBytes = 64 * 1024;

Status CheckField(std::string_view field, const std::string& value) {
  if (value.empty()) return Status::InvalidArgument(fmt::format("{}: must not be empty", field));
  if (value.size() > kMaxKvBytes) {
    return Status::InvalidArgument(
        fmt::format("{}: {} bytes exceed the limit of {}", field, value.size(), kMaxKvBytes));
  }
  return Status::OK();
}

}  // namespace

Status KvConfigStore::Put(const std::string& ns, const std::string& key, const std::string& value) {
  MQ_RETURN_IF_ERROR(CheckField("namespace", ns));
  MQ_RETURN_IF_ERROR(CheckField("key", key));
  if (value.size() > kMaxKvBytes) {
    return Status::InvalidArgument(
        fmt::format("value: {} bytes exceed the limit of {}", value.size(), kMaxKvBytes));
  }
  std::lock_guard lock(mu_);
  table_[ns][key] = value;
  return Status::OK();
}

Result<std::string> KvConfigStore::Get(const std::string& ns, const std::string& key) const {
  MQ_RETURN_IF_ERROR(CheckField("namespace", ns));
  MQ_RETURN_IF_ERROR(CheckField("key", key));
  std::lock_guard lock(mu_);
  auto n = table_.find(ns);
  if (n != table_.end()) {
    auto k = n->second.find(key);
    if (k != n->second.end()) return k->second;
  }
  return Status::NotFound(fmt::format("key: no KV config '{}' in namespace '{}'", key, ns));
}

Status KvConfigStore::Delete(const std::string& ns, const std::string& key) {
  MQ_RETURN_IF_ERROR(CheckField("namespace", ns));
  MQ_RETURN_IF_ERROR(CheckField("key", key));
  std::lock_guard lock(mu_);
  auto n = table_.find(ns);
  if (n == table_.end()) return Status::OK();
  n->second.erase(key);
  if (n->second.empty()) table_.erase(n);
  return Status::OK();
}

Result<std::map<std::string, std::string>> KvConfigStore::List(const std::string& ns) const {
  MQ_RETURN_IF_ERROR(CheckField("namespace", ns));
  std::lock_guard lock(mu_);
  auto n = table_.find(ns);
  if (n == table_.end()) return std::map<std::string, std::string>{};
  return n->second;
}

}  // namespace mq::namesrv
