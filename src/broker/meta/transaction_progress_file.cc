#include "broker/meta/transaction_progress_file.h"

#include <fmt/format.h>

#include <charconv>
#include <filesystem>
#include <string_view>

#include "common/file_util.h"

namespace mq::broker {
namespace {

int64_t ParseKey(const std::string& content, std::string_view key) {
  const std::string prefix = std::string(key) + "=";
  size_t pos = content.find(prefix);
  if (pos == std::string::npos) return -1;
  pos += prefix.size();
  const size_t end = content.find('\n', pos);
  std::string_view digits(content.data() + pos, (end == std::string::npos ? content.size() : end) - pos);
  int64_t v = -1;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || p != digits.data() + digits.size()) return -1;
  return v;
}

}  // namespace

Result<TransactionPositions> ReadTransactionProgress(const std::string& path) {
  if (!std::filesystem::exists(path)) return Status::NotFound(fmt::format("{} does not exist", path));
  MQ_ASSIGN_OR_RETURN(std::string content, ReadFileToString(path));
  TransactionPositions p;
  p.half_offset = ParseKey(content, "halfOffset");
  p.op_offset = ParseKey(content, "opOffset");
  if (p.half_offset < 0 || p.op_offset < 0) {
    return Status::Corruption(
        fmt::format("{}: expected halfOffset=N and opOffset=N lines, got '{}'", path, content));
  }
  return p;
}

Status WriteTransactionProgress(const std::string& path, const TransactionPositions& p) {
  return WriteFileAtomically(path, fmt::format("halfOffset={}\nopOffset={}\n", p.half_offset, p.op_offset));
}

}  // namespace mq::broker
