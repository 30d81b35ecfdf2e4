// Links against the installed client; checks that a misconfigured producer fails cleanly.
#include <cstdio>

#include "mq/client/producer.h"

int main() {
  mq::client::Producer producer(mq::client::ProducerOptions{});
  mq::Status s = producer.Start();  // no NameServer configured
  if (s.code() != mq::StatusCode::kInvalidArgument) return 1;
  auto q =
      mq::client::HashSelector()({{"T", "b", 0}, {"T", "b", 1}}, mq::client::MakeMessage("T", "x"), "key");
  std::printf("outside app ok: %s, %s\n", s.ToString().c_str(), q.ToString().c_str());
  return 0;
}
