// Helpers for the broker_meta tests: read and overwrite the JSON files under a temp dir.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "common/file_util.h"

namespace mq::broker::testing {

inline std::string ReadOrDie(const std::string& path) {
  auto content = ReadFileToString(path);
  EXPECT_TRUE(content.ok()) << content.status().ToString();
  return content.ok() ? *content : std::string();
}

inline void Overwrite(const std::string& path, const std::string& content) {
  ASSERT_TRUE(WriteFileAtomically(path, content).ok());
}

}  // namespace mq::broker::testing
