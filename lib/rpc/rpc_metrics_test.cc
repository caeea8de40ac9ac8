#include "lib/rpc/rpc_metrics.h"

#include <prometheus/text_serializer.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace r1serve::rpc {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Scrape(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST(RpcMetricsTest, SplitsMethodPaths) {
  EXPECT_EQ(SplitMethodPath("/r1serve.v1.Decode/Generate"),
            std::make_pair(std::string("r1serve.v1.Decode"), std::string("Generate")));
  EXPECT_EQ(SplitMethodPath("Generate"), std::make_pair(std::string(), std::string("Generate")));
  EXPECT_EQ(SplitMethodPath("/NoMethod/"),
            std::make_pair(std::string(), std::string("/NoMethod/")));
}

TEST(RpcMetricsTest, NamesStatusCodes) {
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
}

TEST(RpcMetricsTest, KnowsCompiledInMethodsOnly) {
  EXPECT_TRUE(IsKnownMethod("/grpc.health.v1.Health/Check"));
  EXPECT_TRUE(IsKnownMethod("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"));
  EXPECT_FALSE(IsKnownMethod("/grpc.health.v1.Health/Nope"));
  EXPECT_FALSE(IsKnownMethod("/made.Up/Method"));
  EXPECT_FALSE(IsKnownMethod("garbage"));
}

TEST(RpcMetricsTest, CountsObservesAndTracksInFlight) {
  prometheus::Registry registry;
  RpcMetrics metrics(registry);
  const char* path = "/grpc.health.v1.Health/Check";
  metrics.CallStarted(path);
  metrics.CallStarted(path);
  EXPECT_THAT(Scrape(registry), HasSubstr("r1serve_rpc_in_flight{method=\"Check\","
                                          "service=\"grpc.health.v1.Health\"} 2"));
  metrics.CallFinished(path, grpc::StatusCode::OK, absl::Milliseconds(3));
  metrics.CallFinished(path, grpc::StatusCode::UNAVAILABLE, absl::Seconds(45));
  const std::string text = Scrape(registry);
  EXPECT_THAT(text, HasSubstr("r1serve_rpc_in_flight{method=\"Check\","
                              "service=\"grpc.health.v1.Health\"} 0"));
  EXPECT_THAT(text, HasSubstr("r1serve_rpc_requests_total{code=\"OK\",method=\"Check\","
                              "service=\"grpc.health.v1.Health\"} 1"));
  EXPECT_THAT(text, HasSubstr("r1serve_rpc_requests_total{code=\"UNAVAILABLE\",method=\"Check\","
                              "service=\"grpc.health.v1.Health\"} 1"));
  EXPECT_THAT(text, HasSubstr("r1serve_rpc_latency_seconds_bucket{method=\"Check\","
                              "service=\"grpc.health.v1.Health\",le=\"0.005\"} 1"));
  EXPECT_THAT(text, HasSubstr("r1serve_rpc_latency_seconds_bucket{method=\"Check\","
                              "service=\"grpc.health.v1.Health\",le=\"60\"} 2"));
}

TEST(RpcMetricsTest, UnknownMethodsShareOneLabelSet) {
  prometheus::Registry registry;
  RpcMetrics metrics(registry);
  for (const char* path : {"/made.Up/One", "/made.Up/Two", "junk"}) {
    metrics.CallStarted(path);
    metrics.CallFinished(path, grpc::StatusCode::UNIMPLEMENTED, absl::Microseconds(10));
  }
  const std::string text = Scrape(registry);
  EXPECT_THAT(text, HasSubstr("r1serve_rpc_requests_total{code=\"UNIMPLEMENTED\","
                              "method=\"unknown\",service=\"unknown\"} 3"));
  EXPECT_THAT(text, Not(HasSubstr("made.Up")));
}

}  // namespace
}  // namespace r1serve::rpc
