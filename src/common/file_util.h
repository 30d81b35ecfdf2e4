// Small filesystem helpers shared by the store and the metadata managers.
// Pure functions over POSIX calls; thread-safe as long as callers do not race on one path.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace mq {

// An errno that names a shortage which passes (a full disk or quota that retention or an
// operator frees, the descriptor limit that closing connections frees), not a broken file:
// callers answer ResourceExhausted and try again later instead of giving the file up.
bool IsPassingShortage(int err);

// RocketMQ segment naming: the start offset as 20 zero-padded decimal digits.
std::string OffsetToFileName(int64_t offset);

// Creates `dir` and any missing parents, fsyncing the parent of each directory it created so
// the new names survive a crash.
Status CreateDirectoriesDurably(const std::string& dir);

// Creates `dir` if needed (durably, as above) and returns the start offsets of the segment files in it (names
// of exactly 20 digits, see OffsetToFileName), sorted ascending. Other files are ignored.
Result<std::vector<int64_t>> ListSegmentOffsets(const std::string& dir);

// Writes content to path.tmp, fsyncs it, renames it over path and fsyncs the directory,
// so a crash leaves either the old or the new file, never a torn one. Missing parent
// directories are created durably (CreateDirectoriesDurably). The new file gets `mode`
// (permission bits) when given, else 0644 less the umask.
Status WriteFileAtomically(const std::string& path, std::string_view content,
                           std::optional<mode_t> mode = std::nullopt);
Result<std::string> ReadFileToString(const std::string& path);
Status FsyncDir(const std::string& dir);

}  // namespace mq
