#include "gateway/instance_discovery.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lib/rpc/logging.h"

namespace r1serve::gateway {
namespace {

constexpr absl::string_view kDnsScheme = "dns:///";

std::string JoinHostPort(const std::string& address, int port) {
  if (address.find(':') != std::string::npos) return absl::StrCat("[", address, "]:", port);
  return absl::StrCat(address, ":", port);
}

}  // namespace

absl::StatusOr<std::vector<EndpointSpec>> ParseEndpointList(absl::string_view list,
                                                            absl::string_view flag_name) {
  std::vector<EndpointSpec> specs;
  if (absl::StripAsciiWhitespace(list).empty()) return specs;
  for (absl::string_view raw : absl::StrSplit(list, ',')) {
    absl::string_view entry = absl::StripAsciiWhitespace(raw);
    if (entry.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag_name, " has an empty entry in \"", list, "\""));
    }
    EndpointSpec spec;
    spec.target = std::string(entry);
    if (absl::ConsumePrefix(&entry, kDnsScheme)) {
      const size_t colon = entry.rfind(':');
      int port = 0;
      if (colon == absl::string_view::npos || colon == 0 ||
          !absl::SimpleAtoi(entry.substr(colon + 1), &port) || port <= 0 || port > 65535) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag_name, " entry \"", spec.target,
                         "\" must be dns:///NAME:PORT with a port in 1-65535"));
      }
      spec.resolve = true;
      spec.host = std::string(entry.substr(0, colon));
      spec.port = port;
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

Resolver SystemResolver() {
  return [](const std::string& host) -> absl::StatusOr<std::vector<std::string>> {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* result = nullptr;
    if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result); rc != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot resolve \"", host, "\": ", gai_strerror(rc)));
    }
    std::vector<std::string> out;
    for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
      char text[INET6_ADDRSTRLEN] = {};
      const void* addr =
          ai->ai_family == AF_INET
              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
              : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
      if (inet_ntop(ai->ai_family, addr, text, sizeof(text)) != nullptr) out.emplace_back(text);
    }
    freeaddrinfo(result);
    return out;
  };
}

InstanceDiscovery::InstanceDiscovery(std::vector<EndpointSpec> specs, Resolver resolver)
    : specs_(std::move(specs)), resolver_(std::move(resolver)), resolved_(specs_.size()) {}

InstanceDiscovery::Diff InstanceDiscovery::Refresh() {
  for (size_t i = 0; i < specs_.size(); ++i) {
    const EndpointSpec& spec = specs_[i];
    if (!spec.resolve) {
      resolved_[i] = {spec.target};
      continue;
    }
    absl::StatusOr<std::vector<std::string>> found = resolver_(spec.host);
    if (!found.ok()) {
      R1_LOG(kWarning, "gateway") << found.status().message() << "; keeping the "
                                  << resolved_[i].size() << " instance(s) of " << spec.target;
      continue;
    }
    std::set<std::string> now;
    for (const std::string& address : *found) now.insert(JoinHostPort(address, spec.port));
    resolved_[i] = std::move(now);
  }
  std::set<std::string> all;
  for (const std::set<std::string>& s : resolved_) all.insert(s.begin(), s.end());
  Diff diff;
  for (const std::string& a : all) {
    if (!addresses_.contains(a)) diff.added.push_back(a);
  }
  for (const std::string& a : addresses_) {
    if (!all.contains(a)) diff.removed.push_back(a);
  }
  addresses_ = std::move(all);
  return diff;
}

}  // namespace r1serve::gateway
