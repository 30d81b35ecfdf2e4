#include "broker/meta/json_file.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "common/file_util.h"
#include "common/logging.h"

namespace mq::broker {
namespace {

namespace pbutil = google::protobuf::util;

// Outcome of reading one candidate file.
struct Attempt {
  bool exists = false;
  std::string content;
  Status status;  // OK when parsed and valid; Corruption/IoError otherwise
};

Attempt TryParse(const std::string& path, google::protobuf::Message* out, TableValidator validate) {
  Attempt attempt;
  auto content = ReadFileToString(path);
  if (!content.ok()) {
    if (content.status().IsNotFound()) return attempt;
    attempt.exists = true;
    attempt.status = content.status();
    return attempt;
  }
  attempt.exists = true;
  attempt.content = std::move(*content);
  out->Clear();
  if (attempt.content.find_first_not_of(" \t\r\n") == std::string::npos) {
    attempt.status = Status::Corruption(fmt::format("config file '{}' is empty", path));
    return attempt;
  }
  pbutil::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto parsed = pbutil::JsonStringToMessage(attempt.content, out, options);
  if (!parsed.ok()) {
    out->Clear();
    std::string reason = parsed.ToString();
    std::replace(reason.begin(), reason.end(), '\n', ' ');  // keep the log line on one line
    attempt.status = Status::Corruption(fmt::format("config file '{}' is corrupt: {}", path, reason));
    return attempt;
  }
  if (validate != nullptr) {
    Status valid = validate(*out);
    if (!valid.ok()) {
      out->Clear();
      attempt.status =
          Status::Corruption(fmt::format("config file '{}' is corrupt: {}", path, valid.message()));
    }
  }
  return attempt;
}

}  // namespace

Result<LoadSource> LoadJsonFile(const std::string& path, google::protobuf::Message* out,
                                TableValidator validate) {
  Attempt main = TryParse(path, out, validate);
  if (main.exists && main.status.ok()) return LoadSource::kMain;

  const std::string bak = path + ".bak";
  Attempt backup = TryParse(bak, out, validate);
  if (!main.exists) {
    if (!backup.exists) return LoadSource::kNone;
    if (!backup.status.ok()) return backup.status;
    MQ_LOG_WARN(Logger("broker"), "config file={} missing, loaded backup={}", path, bak);
    return LoadSource::kBackup;
  }
  // The main file exists but is unusable.
  if (backup.exists && backup.status.ok()) {
    MQ_LOG_WARN(Logger("broker"), "config file={} unusable ({}), loaded backup={}", path,
                main.status.message(), bak);
    return LoadSource::kBackup;
  }
  out->Clear();
  if (backup.exists) {
    return Status(main.status.code(),
                  fmt::format("{}; backup unusable too: {}", main.status.message(), backup.status.message()));
  }
  return main.status;
}

Result<std::string> ToJson(const google::protobuf::Message& message) {
  pbutil::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  auto st = pbutil::MessageToJsonString(message, &json, options);
  if (!st.ok()) {
    return Status::Internal(
        fmt::format("cannot render {} as JSON: {}", message.GetTypeName(), st.ToString()));
  }
  return json;
}

Status SaveJsonFile(const std::string& path, const google::protobuf::Message& message) {
  MQ_ASSIGN_OR_RETURN(std::string json, ToJson(message));
  // Both writes are atomic, so neither file is ever torn by a crash; the backup exists for a
  // file damaged later (bit rot, a bad edit). A backup one version behind would then lose the
  // latest change, e.g. an auto-created topic and with it the reach of all its messages, so
  // the backup mirrors what was just written. A crash between the two writes leaves the main
  // file newer, which Load prefers.
  MQ_RETURN_IF_ERROR(WriteFileAtomically(path, json));
  return WriteFileAtomically(path + ".bak", json);
}

}  // namespace mq::broker
