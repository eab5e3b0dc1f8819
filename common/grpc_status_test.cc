#include "common/grpc_status.h"

#include <gtest/gtest.h>

namespace pelican {
namespace {

TEST(GrpcStatusTest, EveryCodeRoundTrips) {
  for (int code = 0; code <= 16; ++code) {
    const absl::Status original(static_cast<absl::StatusCode>(code),
                                code == 0 ? "" : "message for code " + std::to_string(code));
    const grpc::Status g = ToGrpcStatus(original);
    EXPECT_EQ(static_cast<int>(g.error_code()), code);
    EXPECT_EQ(g.error_message(), std::string(original.message()));
    EXPECT_EQ(FromGrpcStatus(g), original) << "code " << code;
  }
}

TEST(GrpcStatusTest, GrpcToAbslKeepsCodeAndMessage) {
  const grpc::Status g(grpc::StatusCode::RESOURCE_EXHAUSTED, "queue full (4096 samples)");
  const absl::Status a = FromGrpcStatus(g);
  EXPECT_EQ(a.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(a.message(), "queue full (4096 samples)");
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

}  // namespace
}  // namespace pelican
