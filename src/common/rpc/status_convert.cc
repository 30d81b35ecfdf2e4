#include "common/rpc/status_convert.h"

#include "common/utf8.h"

namespace mq::rpc {

grpc::Status ToGrpcStatus(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  switch (status.code()) {
    case StatusCode::kOk:
      return grpc::Status::OK;
    case StatusCode::kInvalidArgument:
      code = grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case StatusCode::kTimeout:
      code = grpc::StatusCode::DEADLINE_EXCEEDED;
      break;
    case StatusCode::kNotFound:
      code = grpc::StatusCode::NOT_FOUND;
      break;
    case StatusCode::kAlreadyExists:
      code = grpc::StatusCode::ALREADY_EXISTS;
      break;
    case StatusCode::kPermissionDenied:
      code = grpc::StatusCode::PERMISSION_DENIED;
      break;
    case StatusCode::kResourceExhausted:
      code = grpc::StatusCode::RESOURCE_EXHAUSTED;
      break;
    case StatusCode::kFailedPrecondition:
      code = grpc::StatusCode::FAILED_PRECONDITION;
      break;
    case StatusCode::kNotSupported:
      code = grpc::StatusCode::UNIMPLEMENTED;
      break;
    case StatusCode::kUnavailable:
      code = grpc::StatusCode::UNAVAILABLE;
      break;
    case StatusCode::kCorruption:
      code = grpc::StatusCode::DATA_LOSS;
      break;
    case StatusCode::kInternal:
    case StatusCode::kIoError:
      code = grpc::StatusCode::INTERNAL;
      break;
  }
  return grpc::Status(code, ClipText(status.message(), kMaxStatusMessageBytes));
}

Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return Status::OK();
  const std::string& m = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return Status::InvalidArgument(m);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Status::Timeout(m);
    case grpc::StatusCode::NOT_FOUND:
      return Status::NotFound(m);
    case grpc::StatusCode::ALREADY_EXISTS:
      return Status::AlreadyExists(m);
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return Status::PermissionDenied(m);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return Status::ResourceExhausted(m);
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ABORTED:
      return Status::FailedPrecondition(m);
    case grpc::StatusCode::UNIMPLEMENTED:
      return Status::NotSupported(m);
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
      return Status::Unavailable(m);
    case grpc::StatusCode::DATA_LOSS:
      return Status::Corruption(m);
    default:
      return Status::Internal(m);
  }
}

}  // namespace mq::rpc
