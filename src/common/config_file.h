// RocketMQ-style configuration: `key = value` lines, '#' comments, keys named exactly as in
// RocketMQ (brokerName, listenPort, ...). A ConfigSchema is the declarative field table that
// binds keys to the members of a plain config struct, parses and range-checks values, and
// dumps the effective configuration (--print-config).
//
// Precedence (lowest first): struct defaults < -c FILE < repeated --set key=value < dedicated
// flags. MergeConfigSources() builds the map in that order; ConfigSchema::Apply() writes it.
// Thread-compatible; used at startup only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace mq {

using ConfigMap = std::map<std::string, std::string>;

// Parses `key=value` text. `source` names the text in errors ("conf/broker.conf").
Result<ConfigMap> ParseConfigText(std::string_view text, std::string_view source);
Result<ConfigMap> LoadConfigFile(const std::string& path);

// `text` with each key of `updates` set to its value: every `key=value` line of that key is
// rewritten (the last one is the one that counts when parsed), a key without a line is appended;
// comments and every other line stay as they were.
std::string RewriteConfigText(std::string_view text, const ConfigMap& updates);
// RewriteConfigText on the file at `path` (a symbolic link: its target), replaced atomically
// and durably (written beside it, fsynced, renamed over it, its directory fsynced).
Status UpdateConfigFile(const std::string& path, const ConfigMap& updates);

struct ConfigSources {
  std::string file;               // -c FILE; empty for none
  std::vector<std::string> sets;  // --set key=value, in order
  ConfigMap flags;                // dedicated flags already translated to keys
};
Result<ConfigMap> MergeConfigSources(const ConfigSources& sources);

class ConfigSchema {
 public:
  void AddString(std::string key, std::string* field, std::string help);
  // One of `allowed` (exact match).
  void AddEnum(std::string key, std::string* field, std::vector<std::string> allowed, std::string help);
  void AddBool(std::string key, bool* field, std::string help);
  void AddInt(std::string key, int64_t* field, int64_t min, int64_t max, std::string help);
  void AddInt(std::string key, int32_t* field, int32_t min, int32_t max, std::string help);
  void AddDouble(std::string key, double* field, double min, double max, std::string help);

  // Writes every known key; an invalid value returns InvalidArgument naming the key.
  // Keys the schema does not know are appended to *unknown (may be null).
  Status Apply(const ConfigMap& values, std::vector<std::string>* unknown) const;

  // "key=value" lines in declaration order: the effective configuration.
  std::string Dump() const;
  // The effective configuration as a map.
  ConfigMap Values() const;
  // "key  (default)  help" lines, for --help-config style output.
  std::string Describe() const;
  bool Has(std::string_view key) const;

 private:
  struct Field {
    std::string key;
    std::string help;
    std::function<Status(const std::string&)> set;
    std::function<std::string()> get;
  };
  std::vector<Field> fields_;
};

}  // namespace mq
