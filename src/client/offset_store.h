// OffsetStore: consume progress per queue ("next offset to consume"). An in-memory table in
// front of a backend: the broker (clustering, RemoteOffsetStore semantics: query/commit
// functions) or a local JSON file (broadcasting, LocalFileOffsetStore semantics:
// {"offsets": {"<topic>@<broker>#<queueId>": <offset>}}, written to a temp file then renamed).
// Thread-safe: mu_ guards table_; backend calls run without it.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/result.h"
#include "mq/client/message.h"

namespace mq::client {

class OffsetStore {
 public:
  using QueryFn = std::function<Result<int64_t>(const MessageQueue&)>;
  using CommitFn = std::function<Status(const MessageQueue&, int64_t)>;

  // Broker-backed store (clustering).
  static std::unique_ptr<OffsetStore> Remote(QueryFn query, CommitFn commit);
  // File-backed store (broadcasting); loads path if it exists.
  static Result<std::unique_ptr<OffsetStore>> LocalFile(std::string path);

  void Update(const MessageQueue& q, int64_t offset);
  // The in-memory offset, else the stored one; kNotFound when neither exists.
  Result<int64_t> Read(const MessageQueue& q);
  // The in-memory offset only (never calls the backend), for non-blocking callers.
  std::optional<int64_t> ReadLocal(const MessageQueue& q);
  // Forgets q in memory (queue reassigned); the stored offset stays.
  void Remove(const MessageQueue& q);
  // Writes the in-memory offsets of the given queues (all when empty) to the backend.
  Status Persist(const std::vector<MessageQueue>& queues = {});

 private:
  OffsetStore() = default;
  Status WriteFile();

  QueryFn query_;
  CommitFn commit_;
  std::string path_;  // non-empty for a local store
  std::mutex mu_;
  std::map<MessageQueue, int64_t> table_;  // guarded by mu_
  std::map<MessageQueue, int64_t> file_;   // guarded by mu_: everything the file holds
};

}  // namespace mq::client
