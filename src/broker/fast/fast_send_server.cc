#include "broker/fast/fast_send_server.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <asio.hpp>
#include <cerrno>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/fast/unsent_replies.h"
#include "common/check.h"
#include "common/frame.h"
#include "common/frame_io.h"
#include "common/logging.h"
#include "common/proto_wire.h"

namespace mq::broker {

namespace {
constexpr size_t kReadChunk = 256 * 1024;
constexpr size_t kMaxUnsentBytes = 1024 * 1024;  // replies queued before reading pauses
constexpr int kAcceptRetryMs = 100;
}  // namespace

struct FastSendServer::Acceptor {
  explicit Acceptor(asio::io_context& io) : acceptor(io), retry(io) {}
  asio::ip::tcp::acceptor acceptor;
  asio::steady_timer retry;  // an accept that failed (out of descriptors) is tried again later
};

class FastSendServer::Connection : public std::enable_shared_from_this<Connection> {
  // A pull in progress (until its last reply): where it may be parked, and whether its client
  // cancelled it.
  struct PullCall {
    std::string topic;
    int32_t queue_id = 0;
    std::atomic<bool> cancelled{false};
  };

 public:
  Connection(asio::ip::tcp::socket socket, FastSendServer* server)
      : socket_(std::move(socket)),
        server_(server),
        shared_(server->shared_),
        unsent_(server->budget_),
        held_input_lease_(server->budget_->Hold(0)) {
    std::error_code ec;
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    auto remote = socket_.remote_endpoint(ec);
    if (!ec) peer_ = fmt::format("{}:{}", remote.address().to_string(), remote.port());
    fd_ = socket_.native_handle();
  }

  // Its IO thread's (from any thread: the first read is posted there).
  void Start() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->ReadMore(); });
  }
  asio::any_io_executor executor() { return socket_.get_executor(); }

  // Any thread: writes one response frame, straight into the socket when nothing is queued.
  void Reply(uint64_t request_id, const Status& status, std::string_view payload) {
    const std::string_view pieces[] = {payload};
    ReplyPieces(request_id, status, pieces);
  }

  // An OK reply's payload in pieces (at most 7), written in order after the header. A
  // `reply_lease` (a pull reply's) is kept until the socket took the reply.
  void ReplyPieces(uint64_t request_id, const Status& status, std::span<const std::string_view> payload,
                   uint8_t flags = 0, ByteBudget::Lease* reply_lease = nullptr) {
    frame::Header h;
    h.kind = frame::Kind::kResponse;
    h.flags = flags;
    h.code = status.code();
    h.request_id = request_id;
    const std::string_view refusal[] = {status.message()};
    if (!status.ok()) payload = refusal;
    size_t bytes = 0;
    for (std::string_view piece : payload) bytes += piece.size();
    h.payload_bytes = static_cast<uint32_t>(bytes);
    char header[frame::kHeaderBytes];
    frame::WriteHeader(h, header);
    std::string_view pieces[8];
    MQ_CHECK(payload.size() < std::size(pieces), "a reply in {} pieces", payload.size());
    pieces[0] = std::string_view(header, sizeof header);
    std::copy(payload.begin(), payload.end(), pieces + 1);
    std::lock_guard lock(mu_);
    if (closed_) return;
    const bool was_empty = unsent_.size() == 0;
    const frame::WriteOutcome outcome =
        unsent_.WriteOrQueue(fd_, std::span(pieces, payload.size() + 1), reply_lease);
    if (outcome == frame::WriteOutcome::kFailed) {
      // Not left to the read side: reading may be paused, with no read to see the error.
      asio::post(socket_.get_executor(), [self = shared_from_this()] { self->Close(); });
      return;
    }
    // The IO thread writes the rest when the socket takes it (already under way if not empty).
    if (outcome == frame::WriteOutcome::kQueued && was_empty)
      asio::post(socket_.get_executor(), [self = shared_from_this()] { self->AwaitWritable(); });
  }

  // IO thread: closes the socket (no write after this) and leaves the server's set.
  void Close() {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      unsent_.Clear();
      held_input_.clear();
      held_input_lease_.Resize(0);
    }
    std::error_code ec;
    socket_.close(ec);
    // Its pulls still parked end now rather than hold their places until an arrival or their
    // hold time (they find the connection closed).
    for (const auto& pull : PullsInProgress()) server_->pull_->WakeParked(pull->topic, pull->queue_id);
    server_->RemoveConnection(shared_from_this());
  }

 private:
  // IO thread: reads when the socket has bytes, into the IO thread's buffer; only a frame that
  // is not complete yet is kept by the connection (so an idle connection holds no buffer).
  void ReadMore() {
    socket_.async_wait(asio::ip::tcp::socket::wait_read, [self = shared_from_this()](std::error_code ec) {
      if (ec) return self->Close();
      self->OnReadable();
    });
  }

  void OnReadable() {
    static thread_local std::vector<char> buffer(kReadChunk);
    for (int reads = 0; reads < 4; ++reads) {  // then let the thread's other connections in
      const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n == 0) return Close();
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
        MQ_LOG_DEBUG(Logger("broker"), "fast send port: {}: {}", peer_, std::strerror(errno));
        return Close();
      }
      switch (Consume(buffer.data(), static_cast<size_t>(n))) {
        case Consumed::kHangUp:
          return Close();
        case Consumed::kPaused:
          return;  // AwaitWritable goes on with the held input once the replies drained
        case Consumed::kAll:
          break;
      }
      if (static_cast<size_t>(n) < buffer.size()) break;
    }
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      if (Congested()) {
        read_paused_ = true;  // AwaitWritable reads again once the replies drained
        return;
      }
    }
    ReadMore();
  }

  enum class Consumed { kAll, kPaused, kHangUp };

  // The frames in data[0, n), after what partial_ holds of one. A connection whose replies the
  // socket is not taking stops between two frames (each may add a reply of up to a pull's 4 MiB):
  // the rest is held, leased, until they drained.
  Consumed Consume(const char* data, size_t n) {
    size_t pos = 0;
    while (pos < n) {
      if (Congested()) {
        std::lock_guard lock(mu_);
        if (closed_) return Consumed::kHangUp;
        held_input_.append(data + pos, n - pos);
        held_input_lease_.Resize(static_cast<int64_t>(held_input_.size()));
        read_paused_ = true;
        return Consumed::kPaused;
      }
      if (skip_bytes_ > 0) {  // the rest of a frame refused for want of memory
        const size_t skipped = std::min(skip_bytes_, n - pos);
        pos += skipped;
        skip_bytes_ -= skipped;
        continue;
      }
      if (partial_.empty() && n - pos >= frame::kHeaderBytes) {
        // Whole frames straight from the read buffer.
        auto header = ReadFrameHeader(data + pos);
        if (!header) return Consumed::kHangUp;
        const size_t frame_bytes = frame::kHeaderBytes + header->payload_bytes;
        if (n - pos >= frame_bytes) {
          if (!Handle(*header, std::string_view(data + pos + frame::kHeaderBytes, header->payload_bytes), {}))
            return Consumed::kHangUp;
          pos += frame_bytes;
          continue;
        }
      }
      // The start of a frame: kept, its header first, then (leased) the rest of it.
      const size_t want =
          partial_header_ ? frame::kHeaderBytes + partial_header_->payload_bytes : frame::kHeaderBytes;
      const size_t take = std::min(want - partial_.size(), n - pos);
      partial_.append(data + pos, take);
      pos += take;
      if (!partial_header_ && partial_.size() == frame::kHeaderBytes) {
        auto header = ReadFrameHeader(partial_.data());
        if (!header) return Consumed::kHangUp;
        const size_t frame_bytes = frame::kHeaderBytes + header->payload_bytes;
        // Leased before it is buffered, so connections sending frames slowly cannot hold more
        // than the send budget.
        partial_lease_ = server_->budget_->TryAcquire(static_cast<int64_t>(frame_bytes));
        if (!partial_lease_) {
          Reply(header->request_id, BudgetExhausted(), {});
          skip_bytes_ = header->payload_bytes;
          partial_.clear();
          continue;
        }
        partial_header_ = header;
        partial_.reserve(frame_bytes);
      }
      if (partial_header_ && partial_.size() == frame::kHeaderBytes + partial_header_->payload_bytes) {
        const bool keep = Handle(*std::exchange(partial_header_, std::nullopt),
                                 std::string_view(partial_).substr(frame::kHeaderBytes),
                                 std::exchange(partial_lease_, std::nullopt));
        if (partial_.capacity() > kReadChunk) {
          std::string().swap(partial_);
        } else {
          partial_.clear();
        }
        if (!keep) return Consumed::kHangUp;
      }
    }
    return Consumed::kAll;
  }

  bool Congested() const { return unsent_.size() > kMaxUnsentBytes; }

  // A frame's header, or nullopt after answering why it cannot be read (the stream cannot be
  // resynchronised: the caller hangs up).
  std::optional<frame::Header> ReadFrameHeader(const char* bytes) {
    auto header = frame::ReadHeader(bytes, server_->options_.max_frame_bytes);
    if (header.ok()) return *header;
    MQ_LOG_WARN(Logger("broker"), "fast send port: {} closed: {}", peer_, header.status().ToString());
    Reply(0, header.status(), {});
    return std::nullopt;
  }

  // One request frame; false to hang up.
  // `lease`: the frame's bytes, when they were leased while it was read.
  bool Handle(const frame::Header& h, std::string_view payload, std::optional<ByteBudget::Lease> lease) {
    if (h.kind != frame::Kind::kRequest) {
      // As for a header that cannot be read: the reason, then the hang-up (docs/protocol.md).
      const Status why =
          Status::InvalidArgument("frame.kind: a response (2) sent to the broker, which takes requests (1)");
      MQ_LOG_WARN(Logger("broker"), "fast send port: {} closed: {}", peer_, why.ToString());
      Reply(0, why, {});
      return false;
    }
    const bool pull = h.method == frame::Method::kPullMessage && server_->pull_ != nullptr;
    const bool commit = h.method == frame::Method::kUpdateConsumerOffset && server_->client_ != nullptr;
    if (h.method == frame::Method::kCancel) return Cancel(h.request_id, payload);
    if (h.method != frame::Method::kSendMessage && !pull && !commit) {
      Reply(h.request_id,
            Status::NotSupported(fmt::format("frame.method: {} is not served here (SendMessage = 1, "
                                             "PullMessage = 2, UpdateConsumerOffset = 3, Cancel = 4)",
                                             static_cast<int>(h.method))),
            {});
      return true;
    }
    if (shared_->stopping.load()) {
      Reply(h.request_id, Status::Unavailable("the broker is shutting down"), {});
      return true;
    }
    if (pull) return Pull(h.request_id, payload);
    if (commit) return Commit(h.request_id, payload);
    if (lease) {
      lease->Resize(static_cast<int64_t>(payload.size()));  // the copy below replaces the buffer
    } else {
      lease = server_->budget_->TryAcquire(static_cast<int64_t>(payload.size()));
    }
    if (!lease) {
      Reply(h.request_id, BudgetExhausted(), {});
      return true;
    }
    // The request's bytes stay valid until the send completes, however long that takes.
    struct Call {
      ByteBudget::Lease lease;
      std::string wire;
    };
    auto call = std::make_shared<Call>();
    call->lease = std::move(*lease);
    call->wire.assign(payload);
    CallStarted();
    server_->send_->SendWire(
        call->wire, peer_,
        [self = shared_from_this(), id = h.request_id, call](const Status& s, std::string bytes) {
          self->Reply(id, s, bytes);
          call->lease = {};
          self->CallEnded();
        });
    return true;
  }

  // An UpdateConsumerOffset request: stored and answered at once (an empty response).
  bool Commit(uint64_t request_id, std::string_view payload) {
    mq::v1::UpdateConsumerOffsetRequest request;
    if (!request.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      Reply(request_id, Status::InvalidArgument("request: not a valid mq.v1.UpdateConsumerOffsetRequest"),
            {});
      return true;
    }
    Reply(request_id, server_->client_->UpdateConsumerOffset(request), {});
    return true;
  }

  // A PullMessage request (small, parsed at once): answered when the pull processor answers,
  // at once or when a parked pull wakes; a standing pull's replies but the last carry
  // kMoreReplies, and it counts as one call in progress until its last.
  bool Pull(uint64_t request_id, std::string_view payload) {
    mq::v1::PullMessageRequest request;
    if (!request.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      Reply(request_id, Status::InvalidArgument("request: not a valid mq.v1.PullMessageRequest"), {});
      return true;
    }
    CallStarted();
    auto call = std::make_shared<PullCall>();
    call->topic = request.topic();
    call->queue_id = request.queue_id();
    {
      std::lock_guard lock(mu_);
      pulls_[request_id] = call;
    }
    // A cancelled pull, a closed connection or a stopping server takes no further reply; nor
    // does a connection whose replies the socket is not taking (a standing pull ends).
    auto gone = [weak = weak_from_this(), shared = shared_, call] {
      if (call->cancelled.load()) return true;
      auto self = weak.lock();
      if (!self || shared->stopping.load() || self->Congested()) return true;
      std::lock_guard lock(self->mu_);
      return self->closed_;
    };
    server_->pull_->PullStanding(
        request,
        [self = shared_from_this(), request_id, call](const Status& s, mq::v1::PullMessageResponse* r,
                                                      ByteBudget::Lease lease, bool more) {
          if (!s.ok()) {
            self->Reply(request_id, s, std::string_view());
          } else {
            // The records, nearly all of a reply, are written from where the pull processor put
            // them; only the fields before them are serialized. Records is the last field, so this
            // is the bytes protobuf would write.
            std::string records;
            r->mutable_records()->swap(records);
            std::string head = r->SerializeAsString();
            if (!records.empty()) {
              wire::PutTag(wire::kRecords, wire::kLengthDelimited, &head);
              wire::PutVarint(records.size(), &head);
            }
            const std::string_view reply[] = {head, records};
            // The reply keeps its pullResponseMemoryQuota lease until the socket took it.
            self->ReplyPieces(request_id, s, reply, more ? frame::kMoreReplies : 0, &lease);
          }
          if (!more) {
            self->ForgetPull(request_id, call);
            self->CallEnded();
          }
        },
        std::move(gone));
    return true;
  }

  // A Cancel frame (no payload) for the pull `request_id`: marked gone and woken, it ends with
  // its last reply now. An id with no pull in progress (finished, or a send) is ignored.
  bool Cancel(uint64_t request_id, std::string_view payload) {
    if (!payload.empty()) {
      Reply(request_id, Status::InvalidArgument("frame.length: a Cancel frame has no payload"), {});
      return true;
    }
    std::shared_ptr<PullCall> call;
    {
      std::lock_guard lock(mu_);
      auto it = pulls_.find(request_id);
      if (it == pulls_.end()) return true;
      call = it->second;
    }
    call->cancelled.store(true);
    server_->pull_->WakeParked(call->topic, call->queue_id);
    return true;
  }

  void ForgetPull(uint64_t request_id, const std::shared_ptr<PullCall>& call) {
    std::lock_guard lock(mu_);
    auto it = pulls_.find(request_id);
    if (it != pulls_.end() && it->second == call) pulls_.erase(it);
  }

  std::vector<std::shared_ptr<PullCall>> PullsInProgress() {
    std::vector<std::shared_ptr<PullCall>> pulls;
    std::lock_guard lock(mu_);
    for (const auto& [id, call] : pulls_) pulls.push_back(call);
    return pulls;
  }

  void CallStarted() {
    std::lock_guard lock(shared_->mu);
    ++shared_->calls_in_progress;
  }
  void CallEnded() {
    std::lock_guard lock(shared_->mu);
    if (--shared_->calls_in_progress == 0) shared_->idle.notify_all();
  }

  Status BudgetExhausted() const { return SendBudgetExhausted(*server_->budget_); }

  // IO thread: writes queued bytes as the socket takes them, then goes on reading if paused.
  void AwaitWritable() {
    socket_.async_wait(asio::ip::tcp::socket::wait_write, [self = shared_from_this()](std::error_code ec) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) return self->Close();
      bool resume = false;
      frame::WriteOutcome drained = frame::WriteOutcome::kWritten;
      {
        std::lock_guard lock(self->mu_);
        if (self->closed_) return;
        drained = self->unsent_.Drain(self->fd_);
        if (drained == frame::WriteOutcome::kQueued) {
          asio::post(self->socket_.get_executor(), [self] { self->AwaitWritable(); });
          return;
        }
        if (drained == frame::WriteOutcome::kWritten) {
          resume = self->read_paused_;
          self->read_paused_ = false;
        }
      }
      // Closed here, not left to the read side: reading may be paused, with no read to see it.
      if (drained == frame::WriteOutcome::kFailed) return self->Close();
      if (resume) self->ResumeReading();
    });
  }

  // IO thread: the input held while replies drained, then the socket again.
  void ResumeReading() {
    std::string held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_input_);
      held_input_lease_.Resize(0);
    }
    if (!held.empty()) {
      switch (Consume(held.data(), held.size())) {
        case Consumed::kHangUp:
          return Close();
        case Consumed::kPaused:
          return;
        case Consumed::kAll:
          break;
      }
    }
    ReadMore();
  }

  asio::ip::tcp::socket socket_;
  FastSendServer* const server_;  // IO thread only: the server stops its threads before it goes
  const std::shared_ptr<Shared> shared_;
  std::string peer_;
  int fd_ = -1;
  // IO thread only: the start of a frame not complete yet, its header once that is in, its
  // lease, and the bytes of a refused frame still to skip.
  std::string partial_;
  std::optional<frame::Header> partial_header_;
  std::optional<ByteBudget::Lease> partial_lease_;
  size_t skip_bytes_ = 0;
  std::mutex mu_;
  UnsentReplies unsent_;      // guarded by mu_ (its size() read without it to decide on pausing)
  bool closed_ = false;       // guarded by mu_
  bool read_paused_ = false;  // guarded by mu_
  // Guarded by mu_: input not consumed yet when the connection paused (at most what one
  // OnReadable reads), and its lease on the send budget.
  std::string held_input_;
  ByteBudget::Lease held_input_lease_;
  std::unordered_map<uint64_t, std::shared_ptr<PullCall>> pulls_;  // guarded by mu_: by request id
};

FastSendServer::FastSendServer(Options options, SendProcessor* send, ByteBudget* budget, PullProcessor* pull,
                               ClientProcessor* client)
    : options_(std::move(options)), send_(send), pull_(pull), client_(client), budget_(budget) {
  for (int i = 0; i < std::max(1, options_.threads); ++i)
    io_.push_back(std::make_unique<IoExecutor>("mq-fast-io"));
}

FastSendServer::~FastSendServer() { Shutdown(std::chrono::system_clock::now()); }

Status FastSendServer::Start() {
  for (auto& io : io_) io->Start();
  acceptor_ = std::make_unique<Acceptor>(io_[0]->context());
  std::error_code ec;
  asio::ip::address address = asio::ip::make_address(options_.bind_address, ec);
  if (ec) return Status::InvalidArgument("bindAddress: " + options_.bind_address + ": " + ec.message());
  asio::ip::tcp::endpoint endpoint(address, static_cast<uint16_t>(options_.port));
  auto& a = acceptor_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable(fmt::format("fastListenPort: cannot listen on {}:{}: {}",
                                           options_.bind_address, options_.port, ec.message()));
  }
  port_ = a.local_endpoint().port();
  started_ = true;
  asio::post(io_[0]->context(), [this] { Accept(); });
  return Status::OK();
}

void FastSendServer::Accept() {
  asio::io_context& serving = io_[next_io_++ % io_.size()]->context();
  acceptor_->acceptor.async_accept(serving, [this](std::error_code ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_->acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors (EMFILE, ENFILE) or memory, asio completes every new accept at once
      // with the same error: tried again at once, the thread would spin. The connection waits
      // in the listen backlog meanwhile.
      MQ_LOG_WARN(Logger("broker"), "fast send port: accept: {}; trying again in {} ms", ec.message(),
                  kAcceptRetryMs);
      acceptor_->retry.expires_after(std::chrono::milliseconds(kAcceptRetryMs));
      acceptor_->retry.async_wait([this](std::error_code timer_ec) {
        if (!timer_ec && acceptor_->acceptor.is_open()) Accept();
      });
      return;
    }
    auto connection = std::make_shared<Connection>(std::move(socket), this);
    {
      std::lock_guard lock(mu_);
      connections_.insert(connection);
    }
    connection->Start();
    Accept();
  });
}

void FastSendServer::RemoveConnection(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(mu_);
  connections_.erase(connection);
}

void FastSendServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  if (!started_) return;
  started_ = false;
  shared_->stopping.store(true);
  asio::post(io_[0]->context(), [this] {
    std::error_code ec;
    acceptor_->acceptor.close(ec);
    acceptor_->retry.cancel();
  });
  {
    std::unique_lock lock(shared_->mu);
    shared_->idle.wait_until(lock, deadline, [this] { return shared_->calls_in_progress == 0; });
  }
  // Close every connection on its IO thread (asio sockets are not for concurrent use), then stop.
  std::set<std::shared_ptr<Connection>> open;
  {
    std::lock_guard lock(mu_);
    open = connections_;
  }
  std::mutex done_mu;
  std::condition_variable done_cv;
  size_t closed = 0;
  for (const auto& c : open) {
    asio::post(c->executor(), [&, c] {
      c->Close();
      std::lock_guard lock(done_mu);
      ++closed;
      done_cv.notify_all();
    });
  }
  {
    std::unique_lock lock(done_mu);
    done_cv.wait_for(lock, std::chrono::seconds(5), [&] { return closed == open.size(); });
  }
  for (auto& io : io_) io->Shutdown();
}

}  // namespace mq::broker
