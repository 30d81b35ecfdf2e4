#include "common/config_file.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/file_util.h"

namespace mq {
namespace {

std::string_view Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

Status SplitKeyValue(std::string_view line, std::string_view where, ConfigMap* out) {
  size_t eq = line.find('=');
  if (eq == std::string_view::npos) {
    return Status::InvalidArgument(fmt::format("{}: expected key=value, got '{}'", where, line));
  }
  std::string_view key = Trim(line.substr(0, eq));
  if (key.empty()) return Status::InvalidArgument(fmt::format("{}: empty key in '{}'", where, line));
  (*out)[std::string(key)] = std::string(Trim(line.substr(eq + 1)));
  return Status::OK();
}

std::string ToLower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

template <typename Int>
Status ParseIntField(const std::string& key, const std::string& text, Int min, Int max, Int* out) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return Status::InvalidArgument(fmt::format("{}: '{}' is not an integer", key, text));
  }
  if (v < static_cast<int64_t>(min) || v > static_cast<int64_t>(max)) {
    return Status::InvalidArgument(fmt::format("{}: {} is out of range [{}, {}]", key, v, min, max));
  }
  *out = static_cast<Int>(v);
  return Status::OK();
}

}  // namespace

Result<ConfigMap> ParseConfigText(std::string_view text, std::string_view source) {
  ConfigMap out;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view raw = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == '!') continue;
    MQ_RETURN_IF_ERROR(SplitKeyValue(line, fmt::format("{}:{}", source, line_no), &out));
  }
  return out;
}

Result<ConfigMap> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("config file '{}' cannot be opened", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseConfigText(buffer.str(), path);
}

std::string RewriteConfigText(std::string_view text, const ConfigMap& updates) {
  std::string out;
  std::set<std::string, std::less<>> written;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    const size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    std::string_view raw = text.substr(pos, end - pos);
    pos = end;
    std::string_view line = Trim(raw);
    const size_t eq = line.find('=');
    if (!line.empty() && line.front() != '#' && line.front() != '!' && eq != std::string_view::npos) {
      std::string_view key = Trim(line.substr(0, eq));
      if (auto it = updates.find(std::string(key)); it != updates.end()) {
        out += fmt::format("{}={}\n", it->first, it->second);
        written.insert(it->first);
        continue;
      }
    }
    out += raw;
    if (raw.back() != '\n') out += '\n';
  }
  for (const auto& [key, value] : updates) {
    if (written.count(key) == 0) out += fmt::format("{}={}\n", key, value);
  }
  return out;
}

Status UpdateConfigFile(const std::string& path, const ConfigMap& updates) {
  std::error_code ec;
  const std::string target = std::filesystem::canonical(path, ec).string();
  if (ec) return Status::NotFound(fmt::format("config file '{}': {}", path, ec.message()));
  MQ_ASSIGN_OR_RETURN(std::string text, ReadFileToString(target));
  // The rewrite keeps the file's permissions (an operator's 0600 on a file with secrets).
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0) {
    return Status::Unavailable(fmt::format("config file '{}': stat: {}", target, std::strerror(errno)));
  }
  return WriteFileAtomically(target, RewriteConfigText(text, updates), st.st_mode & 07777);
}

Result<ConfigMap> MergeConfigSources(const ConfigSources& sources) {
  ConfigMap merged;
  if (!sources.file.empty()) {
    MQ_ASSIGN_OR_RETURN(ConfigMap from_file, LoadConfigFile(sources.file));
    merged = std::move(from_file);
  }
  for (const auto& set : sources.sets) {
    MQ_RETURN_IF_ERROR(SplitKeyValue(set, "--set", &merged));
  }
  for (const auto& [key, value] : sources.flags) merged[key] = value;
  return merged;
}

void ConfigSchema::AddString(std::string key, std::string* field, std::string help) {
  fields_.push_back({std::move(key), std::move(help),
                     [field](const std::string& v) {
                       *field = v;
                       return Status::OK();
                     },
                     [field] { return *field; }});
}

void ConfigSchema::AddEnum(std::string key, std::string* field, std::vector<std::string> allowed,
                           std::string help) {
  std::string k = key;
  fields_.push_back({std::move(key), std::move(help),
                     [k, field, allowed](const std::string& v) {
                       if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
                         return Status::InvalidArgument(
                             fmt::format("{}: '{}' is not one of {}", k, v, fmt::join(allowed, "|")));
                       }
                       *field = v;
                       return Status::OK();
                     },
                     [field] { return *field; }});
}

void ConfigSchema::AddBool(std::string key, bool* field, std::string help) {
  std::string k = key;
  fields_.push_back({std::move(key), std::move(help),
                     [k, field](const std::string& v) {
                       std::string lower = ToLower(v);
                       if (lower == "true" || lower == "1") {
                         *field = true;
                       } else if (lower == "false" || lower == "0") {
                         *field = false;
                       } else {
                         return Status::InvalidArgument(fmt::format("{}: '{}' is not true or false", k, v));
                       }
                       return Status::OK();
                     },
                     [field] { return std::string(*field ? "true" : "false"); }});
}

void ConfigSchema::AddInt(std::string key, int64_t* field, int64_t min, int64_t max, std::string help) {
  std::string k = key;
  fields_.push_back(
      {std::move(key), std::move(help),
       [k, field, min, max](const std::string& v) { return ParseIntField(k, v, min, max, field); },
       [field] { return std::to_string(*field); }});
}

void ConfigSchema::AddInt(std::string key, int32_t* field, int32_t min, int32_t max, std::string help) {
  std::string k = key;
  fields_.push_back(
      {std::move(key), std::move(help),
       [k, field, min, max](const std::string& v) { return ParseIntField(k, v, min, max, field); },
       [field] { return std::to_string(*field); }});
}

void ConfigSchema::AddDouble(std::string key, double* field, double min, double max, std::string help) {
  std::string k = key;
  fields_.push_back({std::move(key), std::move(help),
                     [k, field, min, max](const std::string& v) {
                       char* end = nullptr;
                       errno = 0;
                       double d = std::strtod(v.c_str(), &end);
                       if (v.empty() || errno != 0 || end != v.c_str() + v.size()) {
                         return Status::InvalidArgument(fmt::format("{}: '{}' is not a number", k, v));
                       }
                       if (d < min || d > max) {
                         return Status::InvalidArgument(
                             fmt::format("{}: {} is out of range [{}, {}]", k, d, min, max));
                       }
                       *field = d;
                       return Status::OK();
                     },
                     [field] { return fmt::format("{}", *field); }});
}

Status ConfigSchema::Apply(const ConfigMap& values, std::vector<std::string>* unknown) const {
  // A pair, not a structured binding: clang 14 cannot capture bindings in the lambda.
  for (const auto& entry : values) {
    const std::string& key = entry.first;
    auto it = std::find_if(fields_.begin(), fields_.end(), [&key](const Field& f) { return f.key == key; });
    if (it == fields_.end()) {
      if (unknown) unknown->push_back(key);
      continue;
    }
    MQ_RETURN_IF_ERROR(it->set(entry.second));
  }
  return Status::OK();
}

std::string ConfigSchema::Dump() const {
  std::string out;
  for (const auto& f : fields_) out += fmt::format("{}={}\n", f.key, f.get());
  return out;
}

ConfigMap ConfigSchema::Values() const {
  ConfigMap out;
  for (const auto& f : fields_) out[f.key] = f.get();
  return out;
}

std::string ConfigSchema::Describe() const {
  std::string out;
  for (const auto& f : fields_) out += fmt::format("  {:<32} default {:<12} {}\n", f.key, f.get(), f.help);
  return out;
}

bool ConfigSchema::Has(std::string_view key) const {
  return std::any_of(fields_.begin(), fields_.end(), [&](const Field& f) { return f.key == key; });
}

}  // namespace mq
