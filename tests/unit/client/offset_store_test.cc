#include "offset_store.h"

#include <gtest/gtest.h>

#include <map>

#include "testutil/temp_dir.h"

namespace mq::client {
namespace {

TEST(OffsetStoreTest, RemoteReadsBackendOnceAndPersistsMemory) {
  std::map<MessageQueue, int64_t> broker;
  int queries = 0;
  auto store = OffsetStore::Remote(
      [&](const MessageQueue& q) -> Result<int64_t> {
        ++queries;
        auto it = broker.find(q);
        if (it == broker.end()) return Status::NotFound("none");
        return it->second;
      },
      [&](const MessageQueue& q, int64_t off) {
        broker[q] = off;
        return Status::OK();
      });
  MessageQueue a{"T", "b", 0}, b{"T", "b", 1};
  EXPECT_TRUE(store->Read(a).status().IsNotFound());
  broker[a] = 7;
  EXPECT_EQ(*store->Read(a), 7);
  store->Update(a, 9);
  store->Update(b, 3);
  EXPECT_EQ(*store->Read(a), 9);
  ASSERT_TRUE(store->Persist({a}).ok());
  EXPECT_EQ(broker[a], 9);
  EXPECT_EQ(broker.count(b), 0u);
  ASSERT_TRUE(store->Persist().ok());
  EXPECT_EQ(broker[b], 3);
  store->Remove(a);
  queries = 0;
  EXPECT_EQ(*store->Read(a), 9);
  EXPECT_EQ(queries, 1);
}

TEST(OffsetStoreTest, LocalFileSurvivesReopen) {
  testing::TempDir dir;
  const std::string path = dir.Sub("inst/group/offsets.json");
  MessageQueue a{"Topic_1", "broker-a", 3}, b{"Topic_1", "broker-b", 0};
  {
    auto store = OffsetStore::LocalFile(path);
    ASSERT_TRUE(store.ok());
    EXPECT_TRUE((*store)->Read(a).status().IsNotFound());
    (*store)->Update(a, 42);
    (*store)->Update(b, 5);
    ASSERT_TRUE((*store)->Persist().ok());
    (*store)->Update(b, 6);  // not persisted
  }
  auto reopened = OffsetStore::LocalFile(path);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(*(*reopened)->Read(a), 42);
  EXPECT_EQ(*(*reopened)->Read(b), 5);
}

TEST(OffsetStoreTest, CorruptFileIsReported) {
  testing::TempDir dir;
  const std::string path = dir.Sub("offsets.json");
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("{not json", f);
  fclose(f);
  auto store = OffsetStore::LocalFile(path);
  EXPECT_EQ(store.status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace mq::client
