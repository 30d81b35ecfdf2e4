// KvConfigStore: the NameServer's namespaced key/value configuration (RocketMQ KVConfigManager,
// used e.g. for ORDER_TOPIC_CONFIG). In memory only, like the rest of the NameServer: it is
// lost on restart and each NameServer holds its own (mqadmin writes to every NameServer).
// Thread-safe: mu_ guards table_.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "common/result.h"

namespace mq::namesrv {

class KvConfigStore {
 public:
  Status Put(const std::string& ns, const std::string& key, const std::string& value);
  Result<std::string> Get(const std::string& ns, const std::string& key) const;
  // Deleting a missing key succeeds (idempotent, like RocketMQ).
  Status Delete(const std::string& ns, const std::string& key);
  Result<std::map<std::string, std::string>> List(const std::string& ns) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, std::string>> table_;  // guarded by mu_
};

}  // namespace mq::namesrv
