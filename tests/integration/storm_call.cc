#include "storm_call.h"

#include <google/protobuf/message.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>

namespace mq::testing::storm {
namespace {

const google::protobuf::MethodDescriptor* MethodOf(const std::string& method) {
  if (method.size() < 2 || method[0] != '/') return nullptr;
  std::string full = method.substr(1);
  const size_t slash = full.find('/');
  if (slash == std::string::npos) return nullptr;
  full[slash] = '.';
  return google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(full);
}

std::unique_ptr<grpc::ClientContext> ContextOf(const CallLimits& limits) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + limits.deadline);
  if (limits.prepare) limits.prepare(ctx.get());
  return ctx;
}

// Writes its requests one after the other, half-closes, reads until the server ends the call.
// Callbacks run on gRPC's threads; `done` is set last, from OnDone.
class StreamCall : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit StreamCall(const std::vector<std::string>& writes) {
    for (const auto& w : writes) {
      grpc::Slice slice(w);
      writes_.emplace_back(&slice, 1);
    }
  }

  void Begin() {
    StartRead(&in_);
    WriteNext();
    StartCall();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return;  // the call ended; OnDone follows
    WriteNext();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    std::string bytes;
    std::vector<grpc::Slice> slices;
    if (in_.Dump(&slices).ok()) {
      for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    {
      std::lock_guard lock(mu_);
      responses_.push_back(std::move(bytes));
    }
    StartRead(&in_);
  }
  void OnDone(const grpc::Status& s) override {
    Outcome out;
    out.completed = true;
    out.status = s;
    {
      std::lock_guard lock(mu_);
      out.responses = std::move(responses_);
    }
    // A copy: once the value is set, the waiter may destroy this call while set_value returns.
    std::shared_ptr<std::promise<Outcome>> done = done_;
    done->set_value(std::move(out));
  }

  std::future<Outcome> result() { return done_->get_future(); }

 private:
  // Runs from Begin() and then only from OnWriteDone: one write in flight at a time.
  void WriteNext() {
    if (next_ < writes_.size()) {
      StartWrite(&writes_[next_++]);
    } else if (!half_closed_) {
      half_closed_ = true;
      StartWritesDone();
    }
  }

  std::vector<grpc::ByteBuffer> writes_;
  size_t next_ = 0;
  bool half_closed_ = false;
  grpc::ByteBuffer in_;  // the read chain's only (one read in flight)
  std::mutex mu_;
  std::vector<std::string> responses_;  // guarded by mu_
  std::shared_ptr<std::promise<Outcome>> done_ = std::make_shared<std::promise<Outcome>>();
};

}  // namespace

const google::protobuf::Descriptor* RequestType(const std::string& method) {
  const auto* m = MethodOf(method);
  return m == nullptr ? nullptr : m->input_type();
}

const google::protobuf::Descriptor* ResponseType(const std::string& method) {
  const auto* m = MethodOf(method);
  return m == nullptr ? nullptr : m->output_type();
}

Size SizeOf(const char* name, uint64_t default_seed, int64_t default_requests) {
  auto env_or = [](const char* var, int64_t fallback) {
    const char* v = std::getenv(var);
    return v == nullptr ? fallback : std::strtoll(v, nullptr, 10);
  };
  Size size{static_cast<uint64_t>(env_or("MQ_STORM_SEED", static_cast<int64_t>(default_seed))),
            env_or("MQ_STORM_REQUESTS", default_requests)};
  std::printf("%s: seed=%llu requests=%lld\n", name, static_cast<unsigned long long>(size.seed),
              static_cast<long long>(size.requests));
  return size;
}

std::string Counts(const std::string& label, const std::map<std::string, int64_t>& counts) {
  std::string out = label;
  for (const auto& [k, v] : counts) out += " " + k + ":" + std::to_string(v);
  return out;
}

std::string Hex(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < std::min<size_t>(s.size(), 48); ++i) {
    char buf[4];
    std::snprintf(buf, sizeof(buf), "%02x", static_cast<unsigned char>(s[i]));
    out += buf;
  }
  return out + (s.size() > 48 ? "..." : "") + " (" + std::to_string(s.size()) + " bytes)";
}

Outcome CallUnary(grpc::GenericStub* stub, const std::string& method, const std::string& bytes,
                  const CallLimits& limits) {
  auto ctx = ContextOf(limits);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  auto done = std::make_shared<std::promise<grpc::Status>>();
  auto future = done->get_future();
  stub->UnaryCall(ctx.get(), method, grpc::StubOptions(), &request, &response,
                  [done](grpc::Status s) { done->set_value(std::move(s)); });
  Outcome out;
  if (future.wait_for(limits.deadline + limits.hard_limit) != std::future_status::ready) {
    ctx->TryCancel();
    future.wait();  // the callback still references ctx
    return out;
  }
  out.completed = true;
  out.status = future.get();
  if (out.status.ok()) {
    std::vector<grpc::Slice> slices;
    std::string bytes_out;
    if (response.Dump(&slices).ok()) {
      for (const auto& s : slices) bytes_out.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    out.responses.push_back(std::move(bytes_out));
  }
  return out;
}

Outcome CallStream(grpc::GenericStub* stub, const std::string& method, const std::vector<std::string>& writes,
                   const CallLimits& limits) {
  auto ctx = ContextOf(limits);
  StreamCall call(writes);
  auto future = call.result();
  stub->PrepareBidiStreamingCall(ctx.get(), method, grpc::StubOptions(), &call);
  call.Begin();
  if (future.wait_for(limits.deadline + limits.hard_limit) != std::future_status::ready) {
    ctx->TryCancel();
    future.wait();  // OnDone still references the call and ctx
    return {};
  }
  return future.get();
}

bool RefusedByGrpc(const grpc::Status& s, const std::string& method, const std::string& sent_to,
                   const std::string& bytes) {
  if (s.error_code() != grpc::StatusCode::UNIMPLEMENTED) return false;
  if (sent_to != method) return true;  // unknown method
  std::unique_ptr<google::protobuf::Message> m(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(RequestType(method))->New());
  return !m->ParseFromString(bytes);
}

std::string CheckStatus(const grpc::Status& s, const std::string& method, const std::string& sent_to,
                        const std::string& bytes, bool may_hold) {
  if (s.ok()) return "";
  const std::string code = "code " + std::to_string(s.error_code()) + " (" + s.error_message() + ")";
  switch (s.error_code()) {
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::UNAVAILABLE:
      return code;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return may_hold ? "" : code;
    default:
      break;
  }
  if (s.error_message().find("metadata size exceeds limit") != std::string::npos)
    return code + ": the reason quoted so much that gRPC dropped it";
  if (s.error_message().empty() && !RefusedByGrpc(s, method, sent_to, bytes))
    return code + " without a message";
  return "";
}

std::string CheckParses(const std::string& method, const std::string& bytes) {
  std::unique_ptr<google::protobuf::Message> m(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(ResponseType(method))->New());
  if (m->ParseFromString(bytes)) return "";
  return "a response that does not parse as " + m->GetDescriptor()->full_name() + ": " + Hex(bytes);
}

}  // namespace mq::testing::storm
