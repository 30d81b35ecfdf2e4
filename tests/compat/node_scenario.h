// Runs one Node.js scenario script of tests/compat/ (the real rocketmq-client-nodejs@1.0.8) as a
// child process and parses the JSON lines it prints ({"event": ...}, see lib/scenario.js).
// Owns the child: the destructor SIGKILLs a scenario that is still running. Not thread-safe;
// one per test.
#pragma once

#include <google/protobuf/struct.pb.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "testutil/process.h"

namespace mq::testing {

// Why the Node SDK tests cannot run here (no `node` on PATH, or `npm ci` not run in
// tests/compat); nullopt when they can.
std::optional<std::string> NodeSdkMissingReason();

// One JSON line of a scenario's output.
struct ScenarioEvent {
  std::string event;
  google::protobuf::Struct fields;

  bool Has(const std::string& key) const;
  std::string Str(const std::string& key) const;  // "" when absent or not a string
  double Num(const std::string& key) const;       // 0 when absent or not a number
};

class NodeScenario {
 public:
  // `script` is a file name in tests/compat (e.g. "producer.js"); output goes to `log_path`.
  NodeScenario(std::string script, std::vector<std::string> args, std::string log_path);
  NodeScenario(const NodeScenario&) = delete;
  NodeScenario& operator=(const NodeScenario&) = delete;

  bool Start();
  // Waits for the exit up to `timeout` (SIGKILL after it) and returns the exit code, -1 when it
  // had to be killed, 128+N when a signal N ended it.
  int Wait(std::chrono::milliseconds timeout);
  bool running() { return process_.running(); }

  // Parses the output so far; lines that are not JSON objects (stderr of the SDK) are skipped.
  std::vector<ScenarioEvent> Events(const std::string& name = "") const;
  // The `id` field of every `name` event, in output order.
  std::vector<std::string> Ids(const std::string& name) const;
  std::string Output() const { return process_.ReadLog(); }
  std::string Describe() const;  // command line + output, for assertion messages

 private:
  std::string script_;
  std::vector<std::string> args_;
  std::string log_path_;
  ChildProcess process_;
};

}  // namespace mq::testing
