#include "fast_send_connection.h"

#include <fmt/format.h>

#include <asio.hpp>
#include <cstring>
#include <span>
#include <utility>

#include "common/frame.h"
#include "common/frame_io.h"
#include "common/naming.h"

namespace mq::client {

namespace {
constexpr size_t kReadChunk = 64 * 1024;
constexpr auto kTick = std::chrono::milliseconds(50);
// A connection not open after this fails (and its calls with it), so a client whose SYNs go
// unanswered goes back to gRPC instead of waiting for TCP's own give-up, minutes later.
constexpr auto kConnectTimeout = std::chrono::seconds(3);
}  // namespace

struct FastSendConnection::Impl {
  explicit Impl(asio::io_context& io) : socket(io), timer(io) {}
  asio::ip::tcp::socket socket;
  asio::steady_timer timer;
  int fd = -1;  // once connected
};

std::shared_ptr<FastSendConnection> FastSendConnection::Open(asio::io_context& io, const std::string& addr) {
  std::shared_ptr<FastSendConnection> c(new FastSendConnection(io, addr));
  asio::post(io, [c] { c->Connect(); });
  return c;
}

FastSendConnection::FastSendConnection(asio::io_context& io, std::string addr)
    : addr_(std::move(addr)),
      impl_(std::make_unique<Impl>(io)),
      opened_at_(std::chrono::steady_clock::now()) {}

FastSendConnection::~FastSendConnection() = default;

void FastSendConnection::Connect() {
  auto hp = ParseHostPort("fast send address", addr_);
  std::error_code parse_error;
  asio::ip::address address;
  if (hp.ok()) address = asio::ip::make_address(hp->host, parse_error);
  if (!hp.ok() || parse_error) {
    return Fail(Status::InvalidArgument(fmt::format("fast send address: '{}' is not an IP:port", addr_)));
  }
  impl_->socket.async_connect(asio::ip::tcp::endpoint(address, hp->port),
                              [self = shared_from_this()](std::error_code ec) {
                                if (ec) return self->Fail(Status::Unavailable("connect: " + ec.message()));
                                std::error_code ignored;
                                self->impl_->socket.set_option(asio::ip::tcp::no_delay(true), ignored);
                                {
                                  std::lock_guard lock(self->mu_);
                                  if (self->closed_) return;
                                  self->impl_->fd = self->impl_->socket.native_handle();
                                  self->connected_ = true;
                                }
                                self->AwaitWritable();  // the calls made while connecting
                                self->ReadMore();
                              });
}

uint64_t FastSendConnection::Call(frame::Method method, std::initializer_list<std::string_view> parts,
                                  int64_t timeout_ms, Done done) {
  Pending pending;
  pending.timeout = std::chrono::milliseconds(timeout_ms);
  pending.done = std::move(done);
  return Start(method, parts, std::move(pending));
}

uint64_t FastSendConnection::CallStream(frame::Method method, std::initializer_list<std::string_view> parts,
                                        int64_t timeout_ms, StreamDone done) {
  Pending pending;
  pending.timeout = std::chrono::milliseconds(timeout_ms);
  pending.stream = std::make_shared<StreamDone>(std::move(done));
  return Start(method, parts, std::move(pending));
}

uint64_t FastSendConnection::Start(frame::Method method, std::initializer_list<std::string_view> parts,
                                   Pending pending) {
  if (parts.size() > kMaxRequestParts) {
    pending.End(Status::Internal(
        fmt::format("fast send call: {} parts, at most {}", parts.size(), kMaxRequestParts)));
    return 0;
  }
  std::unique_lock lock(mu_);
  if (closed_) {
    const Status why = failure_;  // what broke it, the same for every later call
    lock.unlock();
    pending.End(why);
    return 0;
  }
  const uint64_t id = next_id_++;
  pending.deadline = std::chrono::steady_clock::now() + pending.timeout;
  pending_[id] = std::move(pending);
  called_since_tick_ = true;
  const bool arm = !tick_armed_;
  tick_armed_ = true;
  WriteRequestLocked(method, id, parts);
  lock.unlock();
  if (arm) asio::post(impl_->socket.get_executor(), [self = shared_from_this()] { self->ArmTick(); });
  return id;
}

void FastSendConnection::Cancel(uint64_t request_id, const Status& why) {
  Pending cancelled;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(request_id);
    if (it == pending_.end()) return;
    cancelled = std::move(it->second);
    pending_.erase(it);
    // A stream call (a pull) is cancelled on the broker too, which ends it at once (its last
    // reply, which no call takes now), so a dropped queue's pull does not hold a place there
    // until its hold time. A broker that predates kCancel answers NOT_SUPPORTED under this id,
    // an answer dropped as well.
    if (cancelled.stream && !closed_) WriteRequestLocked(frame::Method::kCancel, request_id, {});
  }
  // Never on the caller's thread: it may hold locks the completion takes. On the IO thread, after
  // any reply of a stream being handled there.
  asio::post(impl_->socket.get_executor(), [cancelled = std::move(cancelled), why] { cancelled.End(why); });
}

void FastSendConnection::WriteRequestLocked(frame::Method method, uint64_t request_id,
                                            std::initializer_list<std::string_view> parts) {
  frame::Header h;
  h.kind = frame::Kind::kRequest;
  h.method = method;
  h.request_id = request_id;
  std::string_view pieces[kMaxRequestParts + 1];  // the header, then the parts
  size_t count = 1;
  size_t payload = 0;
  for (auto part : parts) {
    pieces[count++] = part;
    payload += part.size();
  }
  h.payload_bytes = static_cast<uint32_t>(payload);
  char header[frame::kHeaderBytes];
  frame::WriteHeader(h, header);
  pieces[0] = std::string_view(header, sizeof header);
  // While connecting (no fd yet) the frame waits in unsent_; Connect writes it. A socket
  // error is left to the read side, which fails every call.
  const bool was_empty = unsent_.empty();
  const auto outcome = frame::WriteOrQueue(connected_ ? impl_->fd : -1, std::span(pieces, count), &unsent_);
  if (outcome == frame::WriteOutcome::kQueued && connected_ && was_empty) {
    asio::post(impl_->socket.get_executor(), [self = shared_from_this()] { self->AwaitWritable(); });
  }
}

void FastSendConnection::AwaitWritable() {
  {
    std::lock_guard lock(mu_);
    if (closed_ || frame::Drain(impl_->fd, &unsent_) != frame::WriteOutcome::kQueued)
      return;  // errors: the read sees them
  }
  impl_->socket.async_wait(asio::ip::tcp::socket::wait_write,
                           [self = shared_from_this()](std::error_code ec) {
                             if (!ec) self->AwaitWritable();
                           });
}

void FastSendConnection::ReadMore() {
  if (in_.size() - in_len_ < kReadChunk / 4) in_.resize(std::max(in_.size() * 2, in_len_ + kReadChunk));
  impl_->socket.async_read_some(
      asio::buffer(in_.data() + in_len_, in_.size() - in_len_),
      [self = shared_from_this()](std::error_code ec, size_t n) {
        if (ec) {
          return self->Fail(Status::Unavailable(ec == asio::error::eof ? "the broker closed the connection"
                                                                       : "read: " + ec.message()));
        }
        self->OnRead(n);
      });
}

void FastSendConnection::OnRead(size_t n) {
  in_len_ += n;
  size_t pos = 0;
  while (in_len_ - pos >= frame::kHeaderBytes) {
    auto header = frame::ReadHeader(in_.data() + pos, frame::kDefaultMaxFrameBytes);
    if (!header.ok()) return Fail(header.status());
    if (header->kind != frame::Kind::kResponse) {
      return Fail(Status::Internal("frame.kind: the broker sent a request"));
    }
    const size_t frame_bytes = frame::kHeaderBytes + header->payload_bytes;
    if (in_len_ - pos < frame_bytes) {
      if (in_.size() - pos < frame_bytes) {
        std::memmove(in_.data(), in_.data() + pos, in_len_ - pos);
        in_len_ -= pos;
        pos = 0;
        in_.resize(frame_bytes + kReadChunk);
      }
      break;
    }
    std::string_view payload(in_.data() + pos + frame::kHeaderBytes, header->payload_bytes);
    pos += frame_bytes;
    const Status s = frame::ResponseStatus(*header, payload);
    Pending ended;
    std::shared_ptr<StreamDone> going_on;  // a stream's reply with more to come
    {
      std::lock_guard lock(mu_);
      auto it = pending_.find(header->request_id);
      if (it == pending_.end()) {
        // Request id 0: the broker refused the stream itself (bad frame) and hangs up next.
        if (header->request_id == 0) {
          return Fail(s.WithContext("the broker closed the connection"));
        }
        continue;  // timed out or cancelled already
      }
      if (it->second.stream && s.ok() && (header->flags & frame::kMoreReplies) != 0) {
        it->second.deadline = std::chrono::steady_clock::now() + it->second.timeout;
        going_on = it->second.stream;
      } else {
        ended = std::move(it->second);
        pending_.erase(it);
      }
    }
    const Result<std::string_view> reply =
        s.ok() ? Result<std::string_view>(payload) : Result<std::string_view>(s);
    if (going_on) {
      (*going_on)(reply, true);
    } else {
      ended.End(reply);
    }
  }
  if (pos > 0) {
    std::memmove(in_.data(), in_.data() + pos, in_len_ - pos);
    in_len_ -= pos;
  }
  if (in_.size() > 4 * kReadChunk && in_len_ < kReadChunk) in_.resize(kReadChunk);
  ReadMore();
}

void FastSendConnection::ArmTick() {
  impl_->timer.expires_after(kTick);
  impl_->timer.async_wait([self = shared_from_this()](std::error_code ec) {
    if (!ec) self->Tick();
  });
}

void FastSendConnection::Tick() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<Pending> expired;
  bool again = false;
  {
    std::lock_guard lock(mu_);
    if (!connected_ && !closed_ && now - opened_at_ >= kConnectTimeout) {
      tick_armed_ = false;
      // Fail takes mu_ itself.
      asio::post(impl_->socket.get_executor(), [self = shared_from_this()] {
        self->Fail(Status::Unavailable("connect: no answer within 3 s"));
      });
      return;
    }
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline <= now) {
        expired.push_back(std::move(it->second));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    // A connection that was used since the last tick keeps ticking, so a sender never has to
    // wake the IO thread to arm the timer; an idle one stops.
    again = !closed_ && (!pending_.empty() || called_since_tick_);
    called_since_tick_ = false;
    tick_armed_ = again;
  }
  for (auto& call : expired) call.End(Status::Timeout("send: no reply from " + addr_ + " in time"));
  if (again) ArmTick();
}

void FastSendConnection::Close() {
  asio::post(impl_->socket.get_executor(), [self = shared_from_this()] {
    self->Fail(Status::Unavailable("the client closed the connection"));
  });
}

void FastSendConnection::Fail(const Status& why) {
  std::map<uint64_t, Pending> failed;
  Status s;
  {
    std::lock_guard lock(mu_);
    broken_.store(true, std::memory_order_release);
    if (!closed_) {
      closed_ = true;
      failure_ = why.WithContext("fast send to " + addr_);
      std::error_code ec;
      impl_->socket.close(ec);
      impl_->timer.cancel();
    }
    failed.swap(pending_);
    unsent_.clear();
    s = failure_;
  }
  for (auto& [id, p] : failed) p.End(s);
}

}  // namespace mq::client
