// Persistence of one metadata table as a JSON file (protobuf's canonical JSON mapping), the
// way RocketMQ's ConfigManager keeps topics.json & co:
//   - SaveJsonFile() writes the new content to "<path>" and then to "<path>.bak", each
//     atomically (write temp, fsync, rename, fsync dir). Unlike RocketMQ's .bak (the previous
//     version) the backup mirrors the latest content, so damage to one file loses nothing.
//   - LoadJsonFile() parses "<path>"; if it is missing, empty or corrupt it falls back to
//     "<path>.bak" (logging a warning). If neither can be used because of corruption the
//     result is Status::Corruption naming the file; nothing is silently dropped.
// Stateless free functions; callers serialise writes to one path.
#pragma once

#include <google/protobuf/message.h>

#include <string>

#include "common/result.h"
#include "common/status.h"

namespace mq::broker {

// Which file a table was loaded from.
enum class LoadSource { kNone, kMain, kBackup };

// Parses path (or its .bak fallback) into *out. Returns kNone (and leaves *out cleared) when
// neither file exists. `validate`, when set, checks the decoded table's content; a failure
// makes that file count as corrupt.
using TableValidator = Status (*)(const google::protobuf::Message&);
Result<LoadSource> LoadJsonFile(const std::string& path, google::protobuf::Message* out,
                                TableValidator validate = nullptr);

// Renders message as indented JSON (snake_case field names, defaults printed).
Result<std::string> ToJson(const google::protobuf::Message& message);

// Keeps the previous valid version as path.bak, then writes message to path atomically.
Status SaveJsonFile(const std::string& path, const google::protobuf::Message& message);

}  // namespace mq::broker
