// Well-formed requests for every RPC of the broker's client port and of the NameServer: the
// seeds that the request fuzzers (seed corpus) and the black-box request storm mutate.
// The method tables fix the order the fuzz targets dispatch on (byte 0 of an input).
// Pure functions, thread-safe.
#pragma once

#include <string>
#include <vector>

namespace mq::fuzz {

struct SampleRequest {
  int method = 0;     // index into kBrokerMethods / kNamesrvMethods
  std::string bytes;  // the serialized request message
};

// Full gRPC method names ("/mq.v1.Messaging/SendMessage"), in fuzz-dispatch order.
extern const std::vector<std::string> kBrokerMethods;
extern const std::vector<std::string> kNamesrvMethods;

// `topic`/`group` name what the requests touch; `broker_addr` is the registering broker's
// address in the NameServer samples.
std::vector<SampleRequest> BrokerSamples(const std::string& topic, const std::string& group);
std::vector<SampleRequest> NamesrvSamples(const std::string& topic, const std::string& broker_addr);

}  // namespace mq::fuzz
