// The one place where absl::Status and grpc::Status are converted. Both use the google.rpc.Code
// numbering, so codes map one to one and messages are kept.
#ifndef PELICAN_COMMON_GRPC_STATUS_H_
#define PELICAN_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace pelican {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace pelican

#endif  // PELICAN_COMMON_GRPC_STATUS_H_
