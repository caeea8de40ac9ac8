// Which engine instances exist: parses the --prefill_endpoints / --decode_endpoints lists and
// turns each entry into instances. "host:port" (or any gRPC target that is not dns:///) is one
// instance, dialled as written. "dns:///name:port" is resolved by the gateway itself, and every
// address it yields is one instance (a Kubernetes headless service names one pod per address);
// Refresh() re-resolves, so pods that come and go are picked up.
//
//   ASSIGN_OR_RETURN(std::vector<EndpointSpec> specs,
//                    ParseEndpointList("dns:///decode.r1serve:50051", "--decode_endpoints"));
//   InstanceDiscovery discovery(specs, SystemResolver());
//   InstanceDiscovery::Diff diff = discovery.Refresh();   // added / removed addresses
//
// Pure apart from the resolver, which tests replace.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace r1serve::gateway {

struct EndpointSpec {
  std::string target;    // as written
  bool resolve = false;  // dns:///host:port: one instance per resolved address
  std::string host;      // when resolve
  int port = 0;          // when resolve
};

// Comma-separated entries, spaces around them ignored. INVALID_ARGUMENT naming `flag_name` for
// an empty entry or a dns:/// entry without a host or a valid port. An empty list is OK (no
// instances of that role).
absl::StatusOr<std::vector<EndpointSpec>> ParseEndpointList(absl::string_view list,
                                                            absl::string_view flag_name);

// Host name -> its addresses (IPv4 dotted or bare IPv6, without brackets or port).
using Resolver = std::function<absl::StatusOr<std::vector<std::string>>(const std::string& host)>;

// getaddrinfo (TCP, IPv4 and IPv6).
Resolver SystemResolver();

class InstanceDiscovery {
 public:
  struct Diff {
    std::vector<std::string> added;
    std::vector<std::string> removed;
  };

  InstanceDiscovery(std::vector<EndpointSpec> specs, Resolver resolver);

  // Resolves every dns:/// entry again. A name that fails to resolve keeps the addresses it had
  // (a DNS hiccup must not drop instances that still answer their health checks; an instance
  // that really went away fails its health checks instead).
  Diff Refresh();

  // Every instance address, sorted.
  const std::set<std::string>& addresses() const { return addresses_; }

 private:
  std::vector<EndpointSpec> specs_;
  Resolver resolver_;
  std::vector<std::set<std::string>> resolved_;  // per spec, the addresses it last yielded
  std::set<std::string> addresses_;
};

}  // namespace r1serve::gateway
