// r1serve-gateway: the suite's front door (gateway.proto), routing to prefill and decode
// instances and detokenizing through the tokenizer service.
//
//   r1serve-gateway --tokenizer_endpoint=tokenizer:50051
//       --prefill_endpoints=dns:///prefill.r1serve:50051
//       --decode_endpoints=dns:///decode.r1serve:50051
//   r1serve-gateway --mode=colocated --tokenizer_endpoint=127.0.0.1:50051
//       --decode_endpoints=127.0.0.1:50061,127.0.0.1:50062     (decode instances run --role=both)
//
// Health turns SERVING once every instance has been probed once (instances that did not answer
// are retried on every probe round and join when they do).
#include <cstdlib>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "gateway/gateway_metrics.h"
#include "gateway/gateway_service.h"
#include "gateway/instance_discovery.h"
#include "gateway/instance_pool.h"
#include "gateway/routing_policy.h"
#include "gateway/tokenizer_client.h"
#include "lib/rpc/client_channel.h"
#include "lib/rpc/logging.h"
#include "lib/rpc/server_options.h"
#include "lib/rpc/service_host.h"

ABSL_FLAG(std::string, tokenizer_endpoint, "", "gRPC target of the tokenizer service (required)");
ABSL_FLAG(std::string, prefill_endpoints, "",
          "prefill instances, comma-separated: host:port, or dns:///name:port for one instance "
          "per resolved address (required in disaggregated mode)");
ABSL_FLAG(std::string, decode_endpoints, "",
          "decode instances, comma-separated, as --prefill_endpoints (required)");
ABSL_FLAG(std::string, mode, "disaggregated",
          "disaggregated: decode pulls KV from a prefill instance the gateway picks; colocated: "
          "decode instances run --role=both and prefill themselves");
ABSL_FLAG(double, request_timeout_s, 600,
          "deadline of a request whose client set none (and the cap of those that did)");
ABSL_FLAG(int32_t, max_in_flight_requests, 256,
          "Generate/Chat calls in progress at once; more get RESOURCE_EXHAUSTED at once");
ABSL_FLAG(double, probe_interval_s, 1, "how often every instance's Load is probed");
ABSL_FLAG(double, probe_timeout_s, 1, "deadline of one Load probe");
ABSL_FLAG(double, resolve_interval_s, 10, "how often dns:/// endpoints are resolved again");
ABSL_FLAG(int32_t, unhealthy_after_failures, 2,
          "failed probes in a row that take an instance out of routing");
ABSL_FLAG(int32_t, prefill_overload_queue, 4,
          "queued calls at which prefix affinity stops pulling requests to a prefill instance");
ABSL_FLAG(std::string, reward_endpoint, "",
          "gRPC target of the reward service, for Rollout (empty: Rollout is FAILED_PRECONDITION)");
ABSL_FLAG(std::string, downstream_auth_token, "",
          "bearer token the gateway sends to the tokenizer, prefill and decode services");

namespace {

int Fail(absl::string_view message, int code) {
  std::cerr << "r1serve-gateway: " << message << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace r1serve;
  absl::SetProgramUsageMessage(
      "r1serve gateway: --tokenizer_endpoint=T --decode_endpoints=D [--prefill_endpoints=P] "
      "[--mode=disaggregated|colocated]");
  absl::ParseCommandLine(argc, argv);
  rpc::InitLoggingFromFlags();
  absl::StatusOr<rpc::ServerOptions> options = rpc::ServerOptionsFromFlags();
  if (!options.ok()) return Fail(options.status().message(), 2);

  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "disaggregated" && mode != "colocated") {
    return Fail("--mode must be disaggregated or colocated, not \"" + mode + "\"", 2);
  }
  const bool colocated = mode == "colocated";
  if (absl::GetFlag(FLAGS_tokenizer_endpoint).empty()) {
    return Fail("--tokenizer_endpoint is required", 2);
  }
  absl::StatusOr<std::vector<gateway::EndpointSpec>> decode_specs =
      gateway::ParseEndpointList(absl::GetFlag(FLAGS_decode_endpoints), "--decode_endpoints");
  absl::StatusOr<std::vector<gateway::EndpointSpec>> prefill_specs =
      gateway::ParseEndpointList(absl::GetFlag(FLAGS_prefill_endpoints), "--prefill_endpoints");
  if (!decode_specs.ok()) return Fail(decode_specs.status().message(), 2);
  if (!prefill_specs.ok()) return Fail(prefill_specs.status().message(), 2);
  if (decode_specs->empty()) return Fail("--decode_endpoints is required", 2);
  if (!colocated && prefill_specs->empty()) {
    return Fail("--prefill_endpoints is required in disaggregated mode (or use --mode=colocated)",
                2);
  }
  if (colocated && !prefill_specs->empty()) {
    R1_LOG(kWarning, "gateway") << "--prefill_endpoints is ignored with --mode=colocated";
  }
  if (absl::GetFlag(FLAGS_max_in_flight_requests) < 1) {
    return Fail("--max_in_flight_requests must be >= 1", 2);
  }

  rpc::ChannelOptions channel_options;
  channel_options.max_message_bytes = options->max_message_bytes;
  channel_options.auth_token = absl::GetFlag(FLAGS_downstream_auth_token);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> tokenizer_channel =
      rpc::CreateChannel(absl::GetFlag(FLAGS_tokenizer_endpoint), channel_options);
  if (!tokenizer_channel.ok()) return Fail(tokenizer_channel.status().message(), 2);

  rpc::ServiceHost host("gateway", *options);
  gateway::GatewayMetrics metrics(host.metrics_registry());
  gateway::PoolOptions pool_options{
      .probe_interval = absl::Seconds(absl::GetFlag(FLAGS_probe_interval_s)),
      .probe_timeout = absl::Seconds(absl::GetFlag(FLAGS_probe_timeout_s)),
      .resolve_interval = absl::Seconds(absl::GetFlag(FLAGS_resolve_interval_s)),
      .health = {.failures_to_unhealthy =
                     std::max(1, absl::GetFlag(FLAGS_unhealthy_after_failures))},
      .channel = channel_options};
  gateway::InstancePool decode(gateway::PoolRole::kDecode, *decode_specs, gateway::SystemResolver(),
                               pool_options, &metrics);
  std::unique_ptr<gateway::InstancePool> prefill;
  if (!colocated) {
    prefill =
        std::make_unique<gateway::InstancePool>(gateway::PoolRole::kPrefill, *prefill_specs,
                                                gateway::SystemResolver(), pool_options, &metrics);
  }
  gateway::LoadAwareRouter router(gateway::RoutingOptions{
      .prefill_overload_queue =
          static_cast<uint32_t>(std::max(1, absl::GetFlag(FLAGS_prefill_overload_queue)))});
  gateway::TokenizerClient tokenizer(*tokenizer_channel);
  std::unique_ptr<gateway::RewardClient> reward;
  if (!absl::GetFlag(FLAGS_reward_endpoint).empty()) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> reward_channel =
        rpc::CreateChannel(absl::GetFlag(FLAGS_reward_endpoint), channel_options);
    if (!reward_channel.ok()) return Fail(reward_channel.status().message(), 2);
    reward = std::make_unique<gateway::RewardClient>(*reward_channel);
  }

  gateway::GatewayService service(
      &host,
      gateway::PipelineDeps{.tokenizer = &tokenizer,
                            .decode = &decode,
                            .prefill = prefill.get(),
                            .router = &router,
                            .metrics = &metrics,
                            .reward = reward.get()},
      gateway::GatewayOptions{
          .max_in_flight_requests = absl::GetFlag(FLAGS_max_in_flight_requests),
          .request_timeout = absl::Seconds(absl::GetFlag(FLAGS_request_timeout_s))});
  host.AddService(&service);
  if (absl::Status started = host.Start(); !started.ok()) return Fail(started.message(), 1);
  decode.Start();
  if (prefill) prefill->Start();
  R1_LOG(kInfo, "gateway") << mode << " mode: " << decode.size() << " decode instance(s)"
                           << (prefill ? absl::StrCat(", ", prefill->size(), " prefill instance(s)")
                                       : std::string());
  host.SetServing(true);
  host.ServeUntilSignal();
  return EXIT_SUCCESS;
}
