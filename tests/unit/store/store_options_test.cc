// Store configuration: StoreOptions validation and CleanService's deleteWhen hours.
#include "broker/store/store_options.h"

#include <gtest/gtest.h>

#include <ctime>

#include "broker/store/clean_service.h"

namespace mq::store {
namespace {

TEST(CleanServiceTest, DeleteWhenParsing) {
  std::tm tm{};
  tm.tm_year = 124;
  tm.tm_mon = 0;
  tm.tm_mday = 10;
  tm.tm_hour = 4;
  tm.tm_isdst = -1;
  int64_t ms = static_cast<int64_t>(std::mktime(&tm)) * 1000;
  EXPECT_TRUE(CleanService::IsDeleteHour("04", ms));
  EXPECT_TRUE(CleanService::IsDeleteHour("01;02;04", ms));
  EXPECT_FALSE(CleanService::IsDeleteHour("05", ms));
  EXPECT_FALSE(CleanService::IsDeleteHour("", ms));
  EXPECT_FALSE(CleanService::IsDeleteHour("x4", ms));
}

TEST(StoreOptionsTest, ValidationNamesTheKey) {
  StoreOptions o;
  o.mapped_file_size_consume_queue = 30;
  EXPECT_NE(ValidateStoreOptions(o).message().find("mappedFileSizeConsumeQueue"), std::string::npos);
  o = StoreOptions();
  o.max_message_size = o.mapped_file_size_commit_log;
  EXPECT_NE(ValidateStoreOptions(o).message().find("maxMessageSize"), std::string::npos);
  o = StoreOptions();
  o.commit_log_page_cache_bytes = -1;
  EXPECT_NE(ValidateStoreOptions(o).message().find("commitLogPageCacheBytes"), std::string::npos);
  o = StoreOptions();
  o.sync_flush_stage_bytes = -1;
  EXPECT_NE(ValidateStoreOptions(o).message().find("sync_flush_stage_bytes"), std::string::npos);
  o = StoreOptions();
  o.flush_interval_index_ms = -1;
  EXPECT_NE(ValidateStoreOptions(o).message().find("flushIntervalIndex"), std::string::npos);
  EXPECT_TRUE(ValidateStoreOptions(StoreOptions()).ok());
}

}  // namespace
}  // namespace mq::store
