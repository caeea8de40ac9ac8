// r1serve-loadgen: drives the gateway's Generate with a synthetic workload and reports
// throughput and latency percentiles.
//
//   r1serve-loadgen --target=127.0.0.1:50050 --rate=4 --requests=200
//       --prompt_tokens=256-1024 --output_tokens=128            (Poisson arrivals, 4 req/s)
//   r1serve-loadgen --target=... --concurrency=8 --mix=0.8:64/256,0.2:2048/16 --json
//
// Prompts are random token ids in [--token_id_low, --token_id_high) (or --prompt_text for every
// request); every request sets max_tokens to its drawn output length with ignore_eos, so output
// lengths are exact. Arrivals: Poisson at --rate requests/s, or, with --rate=0, a closed loop of
// --concurrency clients. Prints requests/s, output tokens/s, TTFT, inter-token latency (gap
// between a sample's consecutive tokens) and end-to-end latency p50/p90/p99; --json prints one
// JSON object instead. Exit 1 when no request succeeded.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <map>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/rpc/client_channel.h"
#include "lib/rpc/rpc_metrics.h"
#include "nlohmann/json.hpp"
#include "r1serve/v1/gateway.grpc.pb.h"
#include "tools/loadgen/latency_stats.h"
#include "tools/loadgen/workload.h"

ABSL_FLAG(std::string, target, "", "gateway gRPC target, e.g. 127.0.0.1:50050 (required)");
ABSL_FLAG(std::string, model, "", "served model name; empty = the default one");
ABSL_FLAG(int32_t, requests, 100, "requests to measure");
ABSL_FLAG(int32_t, warmup_requests, 0, "requests sent one at a time before measuring");
ABSL_FLAG(double, rate, 0, "Poisson arrival rate in requests/s; 0 = closed loop (--concurrency)");
ABSL_FLAG(int32_t, concurrency, 8, "clients of the closed loop (with --rate=0)");
ABSL_FLAG(std::string, prompt_tokens, "256", "prompt length: N or A-B (uniform)");
ABSL_FLAG(std::string, output_tokens, "128", "output length: N or A-B (uniform)");
ABSL_FLAG(std::string, mix, "",
          "mixture of shapes WEIGHT:PROMPT/OUTPUT,... (overrides --prompt_tokens and "
          "--output_tokens), e.g. 0.8:64/256,0.2:2048/16");
ABSL_FLAG(std::string, prompt_text, "", "send this text as every prompt instead of random ids");
ABSL_FLAG(int32_t, token_id_low, 1000, "random prompt ids are >= this");
ABSL_FLAG(int32_t, token_id_high, 30000, "random prompt ids are < this");
ABSL_FLAG(double, temperature, 0, "sampling temperature");
ABSL_FLAG(uint64_t, seed, 1, "seed of the workload (shapes, prompts, arrivals)");
ABSL_FLAG(double, timeout_s, 600, "deadline of each request");
ABSL_FLAG(std::string, auth_token, "", "bearer token for the gateway");
ABSL_FLAG(bool, json, false, "print one JSON object instead of the table");

namespace r1serve::loadgen {
namespace {

struct Planned {
  RequestShape shape;
  v1::GatewayGenerateRequest request;
};

struct Outcome {
  bool ok = false;
  std::string error;  // code name
  std::string message;
  double ttft_s = 0;
  double e2e_s = 0;
  uint64_t output_tokens = 0;
  uint64_t prompt_tokens = 0;  // from the final message's usage
  std::vector<double> itl_s;
};

Outcome RunOne(v1::Gateway::Stub& stub, const v1::GatewayGenerateRequest& request) {
  Outcome out;
  grpc::ClientContext context;
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_timeout_s))));
  const absl::Time start = absl::Now();
  absl::Time last = start;
  auto reader = stub.Generate(&context, request);
  v1::GatewayGenerateResponse response;
  while (reader->Read(&response)) {
    const absl::Time now = absl::Now();
    if (response.has_usage()) out.prompt_tokens = response.usage().prompt_tokens();
    uint64_t tokens = 0;
    for (const v1::SampleDelta& d : response.samples()) tokens += d.token_ids_size();
    if (tokens == 0) continue;
    if (out.output_tokens == 0) {
      out.ttft_s = absl::ToDoubleSeconds(now - start);
    } else {
      const double gap = absl::ToDoubleSeconds(now - last) / tokens;
      for (uint64_t i = 0; i < tokens; ++i) out.itl_s.push_back(gap);
    }
    last = now;
    out.output_tokens += tokens;
  }
  grpc::Status status = reader->Finish();
  out.e2e_s = absl::ToDoubleSeconds(absl::Now() - start);
  out.ok = status.ok();
  if (!status.ok()) {
    out.error = std::string(rpc::StatusCodeName(status.error_code()));
    out.message = status.error_message();
  }
  return out;
}

nlohmann::json ToJson(const LatencySummary& s) {
  return {{"count", s.count},   {"mean", s.mean * 1e3}, {"p50", s.p50 * 1e3},
          {"p90", s.p90 * 1e3}, {"p99", s.p99 * 1e3},   {"max", s.max * 1e3}};
}

int Main() {
  const std::string target = absl::GetFlag(FLAGS_target);
  if (target.empty()) {
    std::cerr << "r1serve-loadgen: --target is required\n";
    return 2;
  }
  absl::StatusOr<Workload> workload =
      absl::GetFlag(FLAGS_mix).empty() ? Workload::FromLengths(absl::GetFlag(FLAGS_prompt_tokens),
                                                               absl::GetFlag(FLAGS_output_tokens))
                                       : Workload::FromMix(absl::GetFlag(FLAGS_mix));
  if (!workload.ok()) {
    std::cerr << "r1serve-loadgen: " << workload.status().message() << "\n";
    return 2;
  }
  const int total = absl::GetFlag(FLAGS_requests);
  const int warmup = absl::GetFlag(FLAGS_warmup_requests);
  const double rate = absl::GetFlag(FLAGS_rate);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  if (total < 1 || warmup < 0 || rate < 0 || (rate == 0 && concurrency < 1) ||
      absl::GetFlag(FLAGS_token_id_low) >= absl::GetFlag(FLAGS_token_id_high)) {
    std::cerr << "r1serve-loadgen: need --requests >= 1, --rate >= 0, --concurrency >= 1 and "
                 "--token_id_low < --token_id_high\n";
    return 2;
  }

  // The whole workload up front, from the seed: runs with the same flags send the same requests.
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
  std::vector<Planned> plan(warmup + total);
  for (Planned& p : plan) {
    p.shape = workload->Draw(rng);
    v1::GatewayGenerateRequest& r = p.request;
    r.set_model(absl::GetFlag(FLAGS_model));
    if (!absl::GetFlag(FLAGS_prompt_text).empty()) {
      r.set_text(absl::GetFlag(FLAGS_prompt_text));
    } else {
      for (int32_t id : RandomTokenIds(p.shape.prompt_tokens, absl::GetFlag(FLAGS_token_id_low),
                                       absl::GetFlag(FLAGS_token_id_high), rng)) {
        r.mutable_token_ids()->add_ids(id);
      }
    }
    r.mutable_sampling()->set_temperature(static_cast<float>(absl::GetFlag(FLAGS_temperature)));
    r.mutable_sampling()->set_max_tokens(p.shape.output_tokens);
    r.mutable_sampling()->set_ignore_eos(true);
  }
  std::vector<double> gaps;
  for (int i = 0; i < total; ++i) gaps.push_back(rate > 0 ? NextArrivalGap(rate, rng) : 0);

  rpc::ChannelOptions channel_options;
  channel_options.auth_token = absl::GetFlag(FLAGS_auth_token);  // on every call, checked
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      rpc::CreateChannel(target, channel_options);
  if (!channel.ok()) {
    std::cerr << "r1serve-loadgen: " << channel.status().message() << "\n";
    return 2;
  }
  if (absl::Status ready = rpc::WaitForChannelReady(**channel, absl::Seconds(10)); !ready.ok()) {
    std::cerr << "r1serve-loadgen: cannot reach " << target << ": " << ready.message() << "\n";
    return 1;
  }
  auto stub = v1::Gateway::NewStub(*channel);
  for (int i = 0; i < warmup; ++i) RunOne(*stub, plan[i].request);

  std::vector<Outcome> outcomes(total);
  const absl::Time start = absl::Now();
  if (rate > 0) {
    std::vector<std::thread> threads;
    absl::Time next = start;
    for (int i = 0; i < total; ++i) {
      next += absl::Seconds(gaps[i]);
      absl::SleepFor(next - absl::Now());
      threads.emplace_back([&, i] { outcomes[i] = RunOne(*stub, plan[warmup + i].request); });
    }
    for (std::thread& t : threads) t.join();
  } else {
    std::atomic<int> next{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < concurrency; ++c) {
      clients.emplace_back([&] {
        for (int i = next.fetch_add(1); i < total; i = next.fetch_add(1)) {
          outcomes[i] = RunOne(*stub, plan[warmup + i].request);
        }
      });
    }
    for (std::thread& t : clients) t.join();
  }
  const double duration = absl::ToDoubleSeconds(absl::Now() - start);

  std::vector<double> ttft, itl, e2e;
  uint64_t output_tokens = 0;
  uint64_t prompt_tokens = 0;
  int completed = 0;
  std::map<std::string, int> errors;
  std::string first_error;
  for (int i = 0; i < total; ++i) {
    const Outcome& o = outcomes[i];
    if (!o.ok) {
      ++errors[o.error];
      if (first_error.empty()) first_error = o.error + ": " + o.message;
      continue;
    }
    ++completed;
    ttft.push_back(o.ttft_s);
    e2e.push_back(o.e2e_s);
    itl.insert(itl.end(), o.itl_s.begin(), o.itl_s.end());
    output_tokens += o.output_tokens;
    prompt_tokens += o.prompt_tokens;
  }
  const LatencySummary t = Summarize(ttft), l = Summarize(itl), e = Summarize(e2e);
  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::json j = {{"requests", total},
                        {"completed", completed},
                        {"failed", total - completed},
                        {"errors", errors},
                        {"duration_s", duration},
                        {"request_throughput", completed / duration},
                        {"output_throughput", output_tokens / duration},
                        {"prompt_tokens", prompt_tokens},
                        {"output_tokens", output_tokens},
                        {"ttft_ms", ToJson(t)},
                        {"itl_ms", ToJson(l)},
                        {"e2e_ms", ToJson(e)}};
    std::cout << j.dump() << "\n";
  } else {
    std::cout << absl::StrFormat(
        "requests %d completed %d failed %d in %.2f s\n"
        "throughput %.2f requests/s, %.1f output tokens/s (%llu prompt, %llu output tokens)\n",
        total, completed, total - completed, duration, completed / duration,
        output_tokens / duration, static_cast<unsigned long long>(prompt_tokens),
        static_cast<unsigned long long>(output_tokens));
    for (const auto& [name, s] :
         {std::pair{"TTFT", t}, std::pair{"inter-token", l}, std::pair{"end-to-end", e}}) {
      std::cout << absl::StrFormat(
          "%-12s ms  p50 %9.2f  p90 %9.2f  p99 %9.2f  mean %9.2f  max %9.2f\n", name, s.p50 * 1e3,
          s.p90 * 1e3, s.p99 * 1e3, s.mean * 1e3, s.max * 1e3);
    }
    if (!first_error.empty()) std::cout << "first error: " << first_error << "\n";
  }
  return completed > 0 ? 0 : 1;
}

}  // namespace
}  // namespace r1serve::loadgen

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "r1serve-loadgen --target=HOST:PORT [--rate=R | --concurrency=C] [--requests=N] "
      "[--prompt_tokens=SPEC --output_tokens=SPEC | --mix=...] [--json]");
  absl::ParseCommandLine(argc, argv);
  return r1serve::loadgen::Main();
}
