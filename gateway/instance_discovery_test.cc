#include "gateway/instance_discovery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace r1serve::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ParseEndpointListTest, PlainAndDnsEntries) {
  absl::StatusOr<std::vector<EndpointSpec>> specs = ParseEndpointList(
      " 127.0.0.1:5001, dns:///decode.r1serve:50051 ,host:7", "--decode_endpoints");
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 3u);
  EXPECT_EQ((*specs)[0].target, "127.0.0.1:5001");
  EXPECT_FALSE((*specs)[0].resolve);
  EXPECT_TRUE((*specs)[1].resolve);
  EXPECT_EQ((*specs)[1].host, "decode.r1serve");
  EXPECT_EQ((*specs)[1].port, 50051);
  EXPECT_EQ((*specs)[2].target, "host:7");
}

TEST(ParseEndpointListTest, EmptyListIsNoInstances) {
  EXPECT_THAT(*ParseEndpointList("", "--prefill_endpoints"), IsEmpty());
  EXPECT_THAT(*ParseEndpointList("  ", "--prefill_endpoints"), IsEmpty());
}

TEST(ParseEndpointListTest, BadEntriesNameTheFlag) {
  for (const char* bad :
       {"a:1,,b:2", "dns:///nohost", "dns:///:80", "dns:///h:0", "dns:///h:x", "dns:///h:70000"}) {
    absl::StatusOr<std::vector<EndpointSpec>> specs = ParseEndpointList(bad, "--decode_endpoints");
    ASSERT_FALSE(specs.ok()) << bad;
    EXPECT_EQ(specs.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(specs.status().message().find("--decode_endpoints"), std::string::npos) << bad;
  }
}

// A resolver whose answers the test changes between refreshes.
struct FakeDns {
  std::map<std::string, absl::StatusOr<std::vector<std::string>>> answers;
  Resolver resolver() {
    return [this](const std::string& host) -> absl::StatusOr<std::vector<std::string>> {
      auto it = answers.find(host);
      if (it == answers.end()) return absl::UnavailableError("no such host " + host);
      return it->second;
    };
  }
};

TEST(InstanceDiscoveryTest, EachResolvedAddressIsAnInstance) {
  FakeDns dns;
  dns.answers["decode.svc"] = std::vector<std::string>{"10.0.0.2", "10.0.0.1", "fd00::5"};
  InstanceDiscovery discovery(
      *ParseEndpointList("dns:///decode.svc:50051,127.0.0.1:9", "--decode_endpoints"),
      dns.resolver());
  InstanceDiscovery::Diff diff = discovery.Refresh();
  EXPECT_THAT(diff.added,
              ElementsAre("10.0.0.1:50051", "10.0.0.2:50051", "127.0.0.1:9", "[fd00::5]:50051"));
  EXPECT_THAT(diff.removed, IsEmpty());
  EXPECT_EQ(discovery.addresses().size(), 4u);
}

TEST(InstanceDiscoveryTest, RefreshReportsPodsComingAndGoing) {
  FakeDns dns;
  dns.answers["p"] = std::vector<std::string>{"10.0.0.1", "10.0.0.2"};
  InstanceDiscovery discovery(*ParseEndpointList("dns:///p:1", "--prefill_endpoints"),
                              dns.resolver());
  discovery.Refresh();
  dns.answers["p"] = std::vector<std::string>{"10.0.0.2", "10.0.0.3"};
  InstanceDiscovery::Diff diff = discovery.Refresh();
  EXPECT_THAT(diff.added, ElementsAre("10.0.0.3:1"));
  EXPECT_THAT(diff.removed, ElementsAre("10.0.0.1:1"));
  diff = discovery.Refresh();
  EXPECT_THAT(diff.added, IsEmpty());
  EXPECT_THAT(diff.removed, IsEmpty());
}

TEST(InstanceDiscoveryTest, ResolutionFailureKeepsKnownInstances) {
  FakeDns dns;
  dns.answers["p"] = std::vector<std::string>{"10.0.0.1"};
  InstanceDiscovery discovery(*ParseEndpointList("dns:///p:1", "--prefill_endpoints"),
                              dns.resolver());
  discovery.Refresh();
  dns.answers["p"] = absl::UnavailableError("SERVFAIL");
  InstanceDiscovery::Diff diff = discovery.Refresh();
  EXPECT_THAT(diff.removed, IsEmpty());
  EXPECT_THAT(discovery.addresses(), ElementsAre("10.0.0.1:1"));
  // An empty answer is an answer: the service has no pods now.
  dns.answers["p"] = std::vector<std::string>{};
  diff = discovery.Refresh();
  EXPECT_THAT(diff.removed, ElementsAre("10.0.0.1:1"));
}

TEST(InstanceDiscoveryTest, DuplicateTargetsAreOneInstance) {
  FakeDns dns;
  dns.answers["p"] = std::vector<std::string>{"127.0.0.1"};
  InstanceDiscovery discovery(*ParseEndpointList("dns:///p:5,127.0.0.1:5", "--decode_endpoints"),
                              dns.resolver());
  EXPECT_THAT(discovery.Refresh().added, ElementsAre("127.0.0.1:5"));
}

TEST(SystemResolverTest, ResolvesLocalhost) {
  absl::StatusOr<std::vector<std::string>> found = SystemResolver()("localhost");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_FALSE(found->empty());
  EXPECT_FALSE(SystemResolver()("no-such-host.invalid").ok());
}

}  // namespace
}  // namespace r1serve::gateway
