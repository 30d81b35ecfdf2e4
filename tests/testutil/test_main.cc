// gtest main shared by every test binary: quiet logging unless MQ_TEST_LOG_LEVEL is set.
#include <gtest/gtest.h>

#include <cstdlib>

#include "common/logging.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  // Loggers and executors start threads; re-exec death tests instead of forking a threaded process.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const char* level = std::getenv("MQ_TEST_LOG_LEVEL");
  mq::LogOptions options;
  options.level = level ? level : "warn";
  if (!mq::InitLogging(options).ok()) return 2;
  int rc = RUN_ALL_TESTS();
  mq::ShutdownLogging();
  return rc;
}
