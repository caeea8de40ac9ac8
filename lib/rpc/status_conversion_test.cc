#include "lib/rpc/status_conversion.h"

#include "gtest/gtest.h"

namespace r1serve::rpc {
namespace {

TEST(StatusConversionTest, EveryCanonicalCodeRoundTripsWithItsMessage) {
  for (int code = 1; code <= 16; ++code) {
    const absl::Status inside(static_cast<absl::StatusCode>(code), "what went wrong");
    const grpc::Status outside = ToGrpcStatus(inside);
    EXPECT_EQ(static_cast<int>(outside.error_code()), code);
    EXPECT_EQ(outside.error_message(), "what went wrong");
    EXPECT_EQ(ToAbslStatus(outside), inside);
  }
}

TEST(StatusConversionTest, OkStaysOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(ToAbslStatus(grpc::Status::OK).ok());
}

TEST(StatusConversionTest, NamedCodesLineUp) {
  EXPECT_EQ(ToGrpcStatus(absl::ResourceExhaustedError("busy")).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ToAbslStatus(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no")).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(StatusConversionTest, CodesOutsideTheCanonicalRangeBecomeUnknown) {
  const absl::Status odd(static_cast<absl::StatusCode>(42), "odd");
  EXPECT_EQ(ToGrpcStatus(odd).error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(ToGrpcStatus(odd).error_message(), "odd");
  EXPECT_EQ(ToAbslStatus(grpc::Status(static_cast<grpc::StatusCode>(20), "odd")).code(),
            absl::StatusCode::kUnknown);
}

}  // namespace
}  // namespace r1serve::rpc
