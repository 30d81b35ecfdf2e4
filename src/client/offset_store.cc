#include "offset_store.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace mq::client {
namespace {

std::string Key(const MessageQueue& q) {
  return q.topic + "@" + q.broker_name + "#" + std::to_string(q.queue_id);
}

bool ParseKey(const std::string& key, MessageQueue* q) {
  size_t at = key.find('@');
  size_t hash = key.rfind('#');
  if (at == std::string::npos || hash == std::string::npos || hash < at) return false;
  q->topic = key.substr(0, at);
  q->broker_name = key.substr(at + 1, hash - at - 1);
  try {
    q->queue_id = std::stoi(key.substr(hash + 1));
  } catch (...) {
    return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<OffsetStore> OffsetStore::Remote(QueryFn query, CommitFn commit) {
  std::unique_ptr<OffsetStore> s(new OffsetStore());
  s->query_ = std::move(query);
  s->commit_ = std::move(commit);
  return s;
}

Result<std::unique_ptr<OffsetStore>> OffsetStore::LocalFile(std::string path) {
  std::unique_ptr<OffsetStore> s(new OffsetStore());
  s->path_ = std::move(path);
  std::ifstream in(s->path_);
  if (in) {
    std::stringstream buf;
    buf << in.rdbuf();
    google::protobuf::Struct root;
    auto st = google::protobuf::util::JsonStringToMessage(buf.str(), &root);
    if (!st.ok()) return Status::Corruption("offset file " + s->path_ + ": " + std::string(st.message()));
    auto it = root.fields().find("offsets");
    if (it != root.fields().end()) {
      for (const auto& [key, value] : it->second.struct_value().fields()) {
        MessageQueue q;
        if (ParseKey(key, &q)) s->file_[q] = static_cast<int64_t>(value.number_value());
      }
    }
  }
  return s;
}

void OffsetStore::Update(const MessageQueue& q, int64_t offset) {
  std::lock_guard lock(mu_);
  table_[q] = offset;
}

Result<int64_t> OffsetStore::Read(const MessageQueue& q) {
  {
    std::lock_guard lock(mu_);
    if (auto it = table_.find(q); it != table_.end()) return it->second;
    if (!path_.empty()) {
      if (auto it = file_.find(q); it != file_.end()) return it->second;
      return Status::NotFound("offset: none stored for " + q.ToString());
    }
  }
  return query_(q);
}

std::optional<int64_t> OffsetStore::ReadLocal(const MessageQueue& q) {
  std::lock_guard lock(mu_);
  if (auto it = table_.find(q); it != table_.end()) return it->second;
  return std::nullopt;
}

void OffsetStore::Remove(const MessageQueue& q) {
  std::lock_guard lock(mu_);
  table_.erase(q);
}

Status OffsetStore::Persist(const std::vector<MessageQueue>& queues) {
  std::map<MessageQueue, int64_t> todo;
  {
    std::lock_guard lock(mu_);
    if (queues.empty()) {
      todo = table_;
    } else {
      for (const auto& q : queues) {
        if (auto it = table_.find(q); it != table_.end()) todo.insert(*it);
      }
    }
    if (!path_.empty()) {
      for (const auto& [q, off] : todo) file_[q] = off;
      return WriteFile();
    }
  }
  Status first;
  for (const auto& [q, off] : todo) {
    Status s = commit_(q, off);
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

Status OffsetStore::WriteFile() {
  google::protobuf::Struct root;
  auto* offsets = (*root.mutable_fields())["offsets"].mutable_struct_value();
  for (const auto& [q, off] : file_)
    (*offsets->mutable_fields())[Key(q)].set_number_value(static_cast<double>(off));
  std::string json;
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  auto st = google::protobuf::util::MessageToJsonString(root, &json, opts);
  if (!st.ok()) return Status::Internal(std::string(st.message()));
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  if (ec) return Status::IoError("offset dir for " + path_ + ": " + ec.message());
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json;
    out.flush();
    if (!out) return Status::IoError("write " + tmp);
  }
  std::filesystem::rename(tmp, path_, ec);
  if (ec) return Status::IoError("rename " + tmp + ": " + ec.message());
  return Status::OK();
}

}  // namespace mq::client
