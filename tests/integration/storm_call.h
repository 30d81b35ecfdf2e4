// Raw-bytes gRPC calls for the black-box request storms (request_storm_test.cc: the mq.v1 broker
// and NameServer; v2_request_storm_test.cc: the apache.rocketmq.v2 front): a request is sent as
// the bytes the storm made, so encodings protobuf itself would never produce reach the server.
// Each call has a deadline and a hard limit after it; a call still open at the hard limit is a
// hang, reported as not completed. Test code; the calls block the calling thread only.
#pragma once

#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace mq::testing::storm {

// "/mq.v1.Messaging/SendMessage" -> the request (or response) message type; nullptr if the
// method is unknown.
const google::protobuf::Descriptor* RequestType(const std::string& method);
const google::protobuf::Descriptor* ResponseType(const std::string& method);

// How big a storm is: MQ_STORM_SEED and MQ_STORM_REQUESTS, else the defaults; printed as
// "<name>: seed=... requests=..." so that a failing run can be repeated.
struct Size {
  uint64_t seed = 0;
  int64_t requests = 0;
};
Size SizeOf(const char* name, uint64_t default_seed, int64_t default_requests);

// `label` then " key:count" for each entry, for a storm's summary line.
std::string Counts(const std::string& label, const std::map<std::string, int64_t>& counts);

// The first 48 bytes in hex and the size, for failure messages.
std::string Hex(const std::string& s);

struct Outcome {
  bool completed = false;  // false: still open `hard_limit` after the deadline (a hang)
  grpc::Status status;
  std::vector<std::string> responses;  // the messages the server wrote, in order
};

struct CallLimits {
  std::chrono::milliseconds deadline{3000};
  std::chrono::milliseconds hard_limit{10000};
  // Adds metadata to the call (may be empty).
  std::function<void(grpc::ClientContext*)> prepare;
};

// A unary call of `method` with `bytes` as its request.
Outcome CallUnary(grpc::GenericStub* stub, const std::string& method, const std::string& bytes,
                  const CallLimits& limits);

// A streaming call of `method` (server-streaming or bidirectional: the same on the wire): writes
// `writes` in order, half-closes, and reads every response until the server ends the call.
Outcome CallStream(grpc::GenericStub* stub, const std::string& method, const std::vector<std::string>& writes,
                   const CallLimits& limits);

// What is wrong with the status a storm call ended with, or "" when it is fine: OK; or an error
// that is not UNKNOWN (an unmapped error) or UNAVAILABLE (a dead server), not DEADLINE_EXCEEDED
// unless `may_hold` (a long poll that asked to be held), and says why, unless gRPC refused the
// call itself (RefusedByGrpc). A reason lost to gRPC's metadata limit (it quoted too much of the
// request) counts as none.
std::string CheckStatus(const grpc::Status& s, const std::string& method, const std::string& sent_to,
                        const std::string& bytes, bool may_hold = false);

// What is wrong with a response of `method` the server wrote, or "": it must parse as the
// method's response, as the peer's protobuf would parse it (proto3 strings must be UTF-8).
std::string CheckParses(const std::string& method, const std::string& bytes);

// gRPC itself (1.51) answers a request it cannot decode, or a method the server does not have,
// with UNIMPLEMENTED and no message; the handler never sees such a call. `sent_to` is the
// method the call went to, `method` the one `bytes` were made for.
bool RefusedByGrpc(const grpc::Status& s, const std::string& method, const std::string& sent_to,
                   const std::string& bytes);

}  // namespace mq::testing::storm
