// kv_transfer_bench: KV transfer throughput of a running r1serve-prefill, as decode receives it,
// against a plain memory copy of the same bytes in the same chunk sizes.
//
//   kv_transfer_bench --prefill=127.0.0.1:50061 --prompt_tokens=1024 --runs=5
//
// Each run sends a fresh random prompt twice to PrefillService.Prefill and receives the stream
// exactly as the decode service does (KvStreamReceiver: header check, sequence numbers, CRC32C
// of every chunk, copy into the snapshot). The first call computes the prompt, its chunks
// flowing while later layers compute; the second finds the prompt in prefill's prefix cache, so
// its chunks flow with almost no compute: its rate, from the first KvChunk to the trailer, is
// the transfer path's (loopback, gRPC, checks). The baseline copies the same number of bytes,
// chunk by chunk, from one buffer into another (memcpy, one thread). Prints GB/s of each as
// median (min-max) over the runs, the ratio, and the cold call's time.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/run_stats.h"
#include "lib/rpc/client_channel.h"
#include "r1serve/v1/prefill.grpc.pb.h"
#include "services/engine_common/kv_stream.h"

ABSL_FLAG(std::string, prefill, "127.0.0.1:50061", "address of the prefill instance");
ABSL_FLAG(int, prompt_tokens, 1024, "tokens per prompt");
ABSL_FLAG(int, runs, 5, "measured runs (after one warm-up)");
ABSL_FLAG(uint64_t, max_chunk_bytes, 1 << 20, "PrefillRequest.max_chunk_bytes");
ABSL_FLAG(int64_t, window_mb, 16, "receive window of the stream (decode's own setting: 16)");

namespace r1serve::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

engine::KvHeader HeaderFromInfo(const v1::ModelInfo& info) {
  engine::KvHeader h;
  h.model_fingerprint = info.fingerprint();
  const v1::KvCacheSpec& spec = info.kv_cache();
  h.dtype = spec.dtype() == v1::KV_DTYPE_F32 ? engine::DType::kF32 : engine::DType::kF16;
  h.block_size = static_cast<int>(spec.block_size_tokens());
  h.num_layers = static_cast<int>(spec.num_layers());
  h.num_kv_heads = static_cast<int>(spec.num_kv_heads());
  h.head_dim = static_cast<int>(spec.head_dim());
  const int64_t element = spec.dtype() == v1::KV_DTYPE_F32 ? 4 : 2;
  h.block_bytes = int64_t{h.num_kv_heads} * h.block_size * h.head_dim * element;
  return h;
}

struct Transfer {
  uint64_t bytes = 0;
  uint64_t chunks = 0;
  double seconds = 0;        // first chunk to trailer
  double total_seconds = 0;  // call to trailer
};

absl::StatusOr<Transfer> RunOnce(v1::PrefillService::Stub& stub, const v1::ModelInfo& info,
                                 const engine::KvHeader& header,
                                 const std::vector<int32_t>& prompt) {
  v1::PrefillRequest request;
  request.mutable_prompt_token_ids()->Add(prompt.begin(), prompt.end());
  request.mutable_sampling()->set_temperature(0);
  request.set_model_fingerprint(info.fingerprint());
  *request.mutable_kv_cache() = info.kv_cache();
  request.set_max_chunk_bytes(absl::GetFlag(FLAGS_max_chunk_bytes));

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  const Clock::time_point start = Clock::now();
  auto reader = stub.Prefill(&context, request);
  services::KvStreamReceiver receiver(header, prompt, 1);
  v1::PrefillResponse message;
  Clock::time_point first_chunk{};
  Transfer t;
  absl::Status failure;
  while (failure.ok() && reader->Read(&message)) {
    switch (message.part_case()) {
      case v1::PrefillResponse::kHeader:
        failure = receiver.OnHeader(message.header());
        break;
      case v1::PrefillResponse::kChunk:
        if (t.chunks++ == 0) first_chunk = Clock::now();
        failure = receiver.OnChunk(message.chunk());
        break;
      case v1::PrefillResponse::kFirstToken:
        failure = receiver.OnFirstToken(message.first_token());
        break;
      case v1::PrefillResponse::kTrailer:
        failure = receiver.OnTrailer(message.trailer());
        t.seconds = Seconds(Clock::now() - first_chunk);
        t.total_seconds = Seconds(Clock::now() - start);
        break;
      default:
        failure = absl::DataLossError("empty message");
    }
  }
  if (!failure.ok()) context.TryCancel();
  const grpc::Status status = reader->Finish();
  if (!failure.ok()) return failure;
  if (!status.ok()) return absl::UnavailableError(status.error_message());
  t.bytes = receiver.bytes_received();
  return t;
}

// Copies `bytes` in pieces of `chunk` bytes from one buffer into another; seconds taken.
double MemcpySeconds(uint64_t bytes, uint64_t chunk) {
  std::vector<char> from(bytes, 1), to(bytes, 0);
  const Clock::time_point start = Clock::now();
  for (uint64_t off = 0; off < bytes; off += chunk) {
    std::memcpy(to.data() + off, from.data() + off, std::min(chunk, bytes - off));
  }
  const double s = Seconds(Clock::now() - start);
  if (to[bytes / 2] != 1) std::abort();  // keep the copy observable
  return s;
}

int Main() {
  rpc::ChannelOptions options;
  options.stream_window_bytes = absl::GetFlag(FLAGS_window_mb) << 20;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      rpc::CreateChannel(absl::GetFlag(FLAGS_prefill), options);
  if (!channel.ok()) {
    std::cerr << channel.status() << "\n";
    return 1;
  }
  auto stub = v1::PrefillService::NewStub(*channel);
  v1::LoadReport load;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s = stub->Load(&context, v1::LoadRequest(), &load);
    if (!s.ok()) {
      std::cerr << "Load: " << s.error_message() << "\n";
      return 1;
    }
  }
  const engine::KvHeader header = HeaderFromInfo(load.model());
  std::mt19937 rng(1);
  std::vector<double> transfer_gbs, memcpy_gbs, cold_s;
  uint64_t bytes = 0;
  std::uniform_int_distribution<int32_t> id(100,
                                            static_cast<int32_t>(load.model().vocab_size()) - 1000);
  for (int run = -1; run < absl::GetFlag(FLAGS_runs); ++run) {
    std::vector<int32_t> prompt;
    for (int i = 0; i < absl::GetFlag(FLAGS_prompt_tokens); ++i) prompt.push_back(id(rng));
    absl::StatusOr<Transfer> cold = RunOnce(*stub, load.model(), header, prompt);
    absl::StatusOr<Transfer> warm = cold.ok() ? RunOnce(*stub, load.model(), header, prompt) : cold;
    if (!warm.ok()) {
      std::cerr << "Prefill: " << warm.status() << "\n";
      return 1;
    }
    if (run < 0) continue;  // warm-up
    bytes = warm->bytes;
    transfer_gbs.push_back(warm->bytes / warm->seconds / 1e9);
    cold_s.push_back(cold->total_seconds);
    memcpy_gbs.push_back(warm->bytes /
                         MemcpySeconds(warm->bytes, absl::GetFlag(FLAGS_max_chunk_bytes)) / 1e9);
  }
  const RunStats tr = SummarizeRuns(transfer_gbs), mc = SummarizeRuns(memcpy_gbs),
                 cs = SummarizeRuns(cold_s);
  std::cout << absl::StrFormat(
      "KV of a %d-token prompt: %.1f MiB in %d-byte chunks (%d layers, %d KV heads, head_dim %d)\n"
      "  gRPC KV transfer (checked, assembled): %.2f GB/s (%.2f-%.2f)\n"
      "  memcpy of the same bytes:              %.2f GB/s (%.2f-%.2f)\n"
      "  ratio transfer / memcpy:               %.3f\n"
      "  cold call (compute, transfer overlapping): %.3f s (%.3f-%.3f)\n",
      absl::GetFlag(FLAGS_prompt_tokens), bytes / 1048576.0,
      static_cast<int>(absl::GetFlag(FLAGS_max_chunk_bytes)), header.num_layers,
      header.num_kv_heads, header.head_dim, tr.median, tr.min, tr.max, mc.median, mc.min, mc.max,
      tr.median / mc.median, cs.median, cs.min, cs.max);
  return 0;
}

}  // namespace
}  // namespace r1serve::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return r1serve::bench::Main();
}
