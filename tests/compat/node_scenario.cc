#include "node_scenario.h"

#include <google/protobuf/util/json_util.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace mq::testing {
namespace {

std::string CompatDir() { return MQ_COMPAT_DIR; }

// `node` from PATH (MQ_NODE overrides it, e.g. to try another Node version).
std::optional<std::string> FindNode() {
  if (const char* forced = std::getenv("MQ_NODE"); forced != nullptr && *forced != '\0') {
    if (::access(forced, X_OK) == 0) return std::string(forced);
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path == nullptr ? "/usr/bin:/usr/local/bin" : path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/node";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> NodeSdkMissingReason() {
  if (!FindNode()) {
    if (const char* forced = std::getenv("MQ_NODE"); forced != nullptr && *forced != '\0') {
      return std::string("MQ_NODE=") + forced + " is not an executable file";
    }
    return "node not found on PATH (Debian: apt-get install nodejs npm; tools/test.sh installs them)";
  }
  const std::string pkg = CompatDir() + "/node_modules/rocketmq-client-nodejs/package.json";
  if (!std::filesystem::exists(pkg)) {
    return "rocketmq-client-nodejs is not installed: run `npm ci` in " + CompatDir() +
           " (tools/test.sh does)";
  }
  return std::nullopt;
}

bool ScenarioEvent::Has(const std::string& key) const { return fields.fields().count(key) > 0; }

std::string ScenarioEvent::Str(const std::string& key) const {
  auto it = fields.fields().find(key);
  if (it == fields.fields().end() || !it->second.has_string_value()) return "";
  return it->second.string_value();
}

double ScenarioEvent::Num(const std::string& key) const {
  auto it = fields.fields().find(key);
  if (it == fields.fields().end() || !it->second.has_number_value()) return 0;
  return it->second.number_value();
}

NodeScenario::NodeScenario(std::string script, std::vector<std::string> args, std::string log_path)
    : script_(std::move(script)), args_(std::move(args)), log_path_(std::move(log_path)) {}

bool NodeScenario::Start() {
  auto node = FindNode();
  if (!node) return false;
  std::vector<std::string> argv = {CompatDir() + "/" + script_};
  argv.insert(argv.end(), args_.begin(), args_.end());
  return process_.Start(*node, argv, log_path_);
}

int NodeScenario::Wait(std::chrono::milliseconds timeout) {
  auto status = process_.Wait(timeout);
  if (!status) {
    process_.Kill();
    return -1;
  }
  if (WIFEXITED(*status)) return WEXITSTATUS(*status);
  return 128 + WTERMSIG(*status);
}

std::vector<ScenarioEvent> NodeScenario::Events(const std::string& name) const {
  std::vector<ScenarioEvent> events;
  std::stringstream lines(Output());
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line.front() != '{') continue;
    ScenarioEvent ev;
    if (!google::protobuf::util::JsonStringToMessage(line, &ev.fields).ok()) continue;
    ev.event = ev.Str("event");
    if (name.empty() || ev.event == name) events.push_back(std::move(ev));
  }
  return events;
}

std::vector<std::string> NodeScenario::Ids(const std::string& name) const {
  std::vector<std::string> ids;
  for (const auto& ev : Events(name)) ids.push_back(ev.Str("id"));
  return ids;
}

std::string NodeScenario::Describe() const {
  std::string text = "node " + script_;
  for (const auto& a : args_) text += " " + a;
  return text + "\n--- output ---\n" + Output();
}

}  // namespace mq::testing
