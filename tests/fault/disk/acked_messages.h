// AckedMessages: what a test sent and the broker acknowledged, by (topic, queue, queue
// offset), and a checker that pulls every queue of a real broker from its min offset and
// compares each delivered message with what was sent, byte for byte. Shared by the disk fault
// tests. Not thread-safe; one per test thread.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <tuple>

#include "integration/broker_fixture.h"

namespace mq::testing {

class AckedMessages {
 public:
  // Sends one message with a random body; records it when acknowledged. Returns the status.
  grpc::Status SendOne(mq::v1::Messaging::Stub* stub, const std::string& topic, int32_t queue_id,
                       std::mt19937_64& rng, size_t max_body = 4096) {
    std::string body(1 + rng() % max_body, '\0');
    for (auto& c : body) c = static_cast<char>(rng());
    std::string key = "k" + std::to_string(next_key_++);
    mq::v1::SendMessageResponse resp;
    grpc::Status s = Send(stub, topic, queue_id, {TextMessage(body, "", key)}, &resp);
    if (s.ok()) sent_[{topic, queue_id, resp.queue_offset()}] = {body, key};
    return s;
  }

  size_t size() const { return sent_.size(); }

  // Pulls every queue this object sent to; each delivered message must be one that was acked,
  // at its acked offset, with the same body and key. Returns how many acked messages were
  // delivered (a caller expecting no loss compares it with size()).
  size_t VerifyDelivered(mq::v1::Messaging::Stub* stub, const std::string& where) const {
    std::map<std::pair<std::string, int32_t>, int64_t> queues;
    std::map<std::pair<std::string, int32_t>, int64_t> last_acked;  // highest acked queue offset
    for (const auto& [k, v] : sent_) {
      queues[{std::get<0>(k), std::get<1>(k)}] = 0;
      auto& last = last_acked[{std::get<0>(k), std::get<1>(k)}];
      last = std::max(last, std::get<2>(k));
    }
    // An acknowledgement does not wait for the dispatcher to index the message (as in RocketMQ):
    // a queue that answers "nothing new" below its last acked offset is asked again until this
    // deadline before the checker counts what it got.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    size_t delivered = 0;
    for (auto& [q, offset] : queues) {
      for (int guard = 0; guard < 10000; ++guard) {
        mq::v1::PullMessageResponse resp;
        grpc::Status s = Pull(stub, "verify_group", q.first, q.second, offset, &resp);
        EXPECT_TRUE(s.ok()) << where << ": pull " << q.first << "-" << q.second << ": " << s.error_message();
        if (!s.ok()) break;
        if (resp.status() == mq::v1::OFFSET_ILLEGAL && resp.next_begin_offset() > offset) {
          offset = resp.next_begin_offset();
          continue;
        }
        if (resp.status() != mq::v1::FOUND) {
          if (offset <= last_acked[q] && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            continue;
          }
          break;
        }
        for (const auto& m : resp.messages()) {
          auto it = sent_.find({q.first, q.second, m.queue_offset()});
          EXPECT_NE(it, sent_.end()) << where << ": delivered " << q.first << "-" << q.second << "@"
                                     << m.queue_offset() << " that was never acknowledged";
          if (it == sent_.end()) continue;
          EXPECT_EQ(m.message().body(), it->second.first)
              << where << ": body of " << q.first << "-" << q.second << "@" << m.queue_offset() << " differs";
          EXPECT_TRUE(m.message().keys_size() == 1 && m.message().keys(0) == it->second.second)
              << where << ": key of " << q.first << "-" << q.second << "@" << m.queue_offset() << " differs";
          ++delivered;
        }
        if (resp.next_begin_offset() <= offset) break;
        offset = resp.next_begin_offset();
      }
    }
    return delivered;
  }

 private:
  std::map<std::tuple<std::string, int32_t, int64_t>, std::pair<std::string, std::string>> sent_;
  int64_t next_key_ = 0;
};

}  // namespace mq::testing
