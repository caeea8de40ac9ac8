// machine_limits: the ceilings the engine's speed is held against, measured on this machine
// with the same thread count: memory read bandwidth (decode streams every weight once per
// step), f32 GEMM throughput (F16 prefill is f32 matrix products) and int8 dot-product
// throughput (Q8_0 prefill multiplies int8).
//
//   build/bin/machine_limits --threads 2 [--runs 5] [--out F]
//
// - read GB/s: each thread sums its half of a 2 GiB buffer (4x the 480 MiB last-level cache the
//   VM reports) with 64-byte vector loads, once in small (4 KiB) pages and once with transparent
//   huge pages asked for (MADV_HUGEPAGE), as the CPU backend's packed Q8_0 weights are.
// - sgemm GFLOP/s: OpenBLAS on its own `threads` threads, 2048 x 2048 x 2048 f32 (absent
//   without OpenBLAS in the build).
// - int8 GOP/s (a multiply-add is 2 ops): the peak of the best int8 instruction the CPU
//   backend uses (DetectCpuKernelLevel), register operands only, every thread at once: AMX
//   tdpbusd on 4 accumulator tiles, or AVX-512 VNNI vpdpbusd on 12 accumulators (absent
//   below kAvx512). Instruction throughput, which no real GEMM reaches (operands come from
//   memory): an upper bound, not a target.
// Output: one JSON object, each figure as {median, min, max, runs}.
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "bench/run_stats.h"
#include "lib/engine/backend/amx_tile_config.h"
#include "lib/engine/backend/cpu_kernels.h"
#include "nlohmann/json.hpp"

#if R1SERVE_HAVE_OPENBLAS
#include <cblas.h>
#endif

ABSL_FLAG(int, threads, 2, "Threads (as the engine benchmark's).");
ABSL_FLAG(int, runs, 5, "Repetitions of each measurement.");
ABSL_FLAG(std::string, out, "", "Also write the JSON here.");

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Sum of [p, p + bytes) as floats, 256 bytes per step in 4 independent vector chains, with
// the widest loads the CPU has (the result is returned so that the loads cannot be dropped).
// A plain C++ loop is not vectorised at -O2 and measures the core, not the memory.
__attribute__((target("avx512f"))) float SumAvx512(const std::byte* p, size_t bytes) {
  __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
  for (size_t i = 0; i + 256 <= bytes; i += 256) {
    a = _mm512_add_ps(a, _mm512_load_ps(reinterpret_cast<const float*>(p + i)));
    b = _mm512_add_ps(b, _mm512_load_ps(reinterpret_cast<const float*>(p + i + 64)));
    c = _mm512_add_ps(c, _mm512_load_ps(reinterpret_cast<const float*>(p + i + 128)));
    d = _mm512_add_ps(d, _mm512_load_ps(reinterpret_cast<const float*>(p + i + 192)));
  }
  float lanes[16];
  _mm512_storeu_ps(lanes, _mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d)));
  return lanes[0];
}
__attribute__((target("avx2"))) float SumAvx2(const std::byte* p, size_t bytes) {
  __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
  for (size_t i = 0; i + 128 <= bytes; i += 128) {
    a = _mm256_add_ps(a, _mm256_load_ps(reinterpret_cast<const float*>(p + i)));
    b = _mm256_add_ps(b, _mm256_load_ps(reinterpret_cast<const float*>(p + i + 32)));
    c = _mm256_add_ps(c, _mm256_load_ps(reinterpret_cast<const float*>(p + i + 64)));
    d = _mm256_add_ps(d, _mm256_load_ps(reinterpret_cast<const float*>(p + i + 96)));
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
  return lanes[0];
}
float SumFloats(const std::byte* p, size_t bytes) {
  return __builtin_cpu_supports("avx512f") ? SumAvx512(p, bytes) : SumAvx2(p, bytes);
}

std::vector<double> ReadBandwidth(int threads, int runs, bool huge_pages) {
  const size_t bytes = size_t{2} << 30;
  void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return {};
  madvise(memory, bytes, huge_pages ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  auto* data = static_cast<std::byte*>(memory);
  std::memset(data, 0, bytes);
  std::vector<double> rates;
  float sink = 0;
  for (int run = 0; run < runs + 1; ++run) {  // run 0 warms up
    std::vector<float> sums(threads);
    const Clock::time_point start = Clock::now();
    std::vector<std::thread> workers;
    const size_t share = bytes / threads / 64 * 64;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] { sums[t] = SumFloats(data + t * share, share); });
    }
    for (std::thread& w : workers) w.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (float s : sums) sink += s;
    if (run > 0) rates.push_back(static_cast<double>(share * threads) / seconds / 1e9);
  }
  munmap(memory, bytes);
  if (sink == 42.0f) std::cerr << "";  // keeps the sums alive
  return rates;
}

// Runs fn(thread) on `threads` threads at once; returns the summed ops / s, fn returning the
// ops it did.
template <typename Fn>
double OnAllThreads(int threads, const Fn& fn) {
  std::vector<double> ops(threads);
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) workers.emplace_back([&, t] { ops[t] = fn(); });
  for (std::thread& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  double total = 0;
  for (double o : ops) total += o;
  return total / seconds;
}

constexpr int64_t kInt8Steps = 20'000'000;

__attribute__((target("avx512f,avx512vnni"))) double VnniOps() {
  constexpr int kChains = 12;  // > latency x throughput of vpdpbusd
  __m512i acc[kChains];
  for (__m512i& a : acc) a = _mm512_setzero_si512();
  const __m512i u = _mm512_set1_epi32(0x01010101), s = _mm512_set1_epi32(0x02020202);
  for (int64_t i = 0; i < kInt8Steps; ++i) {
#pragma GCC unroll 12
    for (__m512i& a : acc) a = _mm512_dpbusd_epi32(a, u, s);
  }
  int32_t lanes[16];
  __m512i total = acc[0];
  for (int c = 1; c < kChains; ++c) total = _mm512_add_epi32(total, acc[c]);
  _mm512_storeu_si512(lanes, total);
  if (lanes[0] == 42) std::cerr << "";
  return 2.0 * 64 * kChains * kInt8Steps;
}

__attribute__((target("amx-tile,amx-int8"))) double AmxOps() {
  alignas(64) r1serve::engine::TileConfig config;
  for (int t = 0; t < 6; ++t) {  // C0..C3, A, B: 16 rows of 64 bytes each
    config.rows[t] = 16;
    config.colsb[t] = 64;
  }
  r1serve::engine::LoadTileConfig(config);
  alignas(64) int8_t operand[16 * 64];
  std::memset(operand, 1, sizeof(operand));
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, operand, 64);
  _tile_loadd(5, operand, 64);
  const int64_t steps = kInt8Steps / 16;
  for (int64_t i = 0; i < steps; ++i) {
    _tile_dpbusd(0, 4, 5);
    _tile_dpbusd(1, 4, 5);
    _tile_dpbusd(2, 4, 5);
    _tile_dpbusd(3, 4, 5);
  }
  alignas(64) int32_t out[16 * 16];
  _tile_stored(0, out, 64);
  _tile_release();
  if (out[0] == 42) std::cerr << "";
  return 2.0 * 16 * 16 * 64 * 4 * steps;
}

#if R1SERVE_HAVE_OPENBLAS
std::vector<double> SgemmGflops(int threads, int runs) {
  constexpr int kN = 2048;
  std::vector<float> a(size_t{kN} * kN, 0.5f), b(size_t{kN} * kN, 0.25f), c(size_t{kN} * kN);
  openblas_set_num_threads(threads);
  std::vector<double> rates;
  for (int run = 0; run < runs + 1; ++run) {
    const Clock::time_point start = Clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, kN, kN, kN, 1.0f, a.data(), kN, b.data(),
                kN, 0.0f, c.data(), kN);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (run > 0) rates.push_back(2.0 * kN * kN * kN / seconds / 1e9);
  }
  return rates;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Memory read GB/s and sgemm GFLOP/s of this machine.\n"
      "  machine_limits [--threads 2] [--runs 5] [--out F]");
  absl::ParseCommandLine(argc, argv);
  const int threads = std::max(1, absl::GetFlag(FLAGS_threads));
  const int runs = std::max(1, absl::GetFlag(FLAGS_runs));
  Json result = {{"threads", threads}, {"runs", runs}};
  result["read_gb_per_s_small_pages"] =
      r1serve::bench::RunStatsJson(ReadBandwidth(threads, runs, false));
  result["read_gb_per_s_huge_pages"] =
      r1serve::bench::RunStatsJson(ReadBandwidth(threads, runs, true));
#if R1SERVE_HAVE_OPENBLAS
  result["sgemm_gflop_per_s"] = r1serve::bench::RunStatsJson(SgemmGflops(threads, runs));
#endif
  const r1serve::engine::CpuKernelLevel level = r1serve::engine::DetectCpuKernelLevel();
  if (level >= r1serve::engine::CpuKernelLevel::kAvx512) {
    const bool amx = level >= r1serve::engine::CpuKernelLevel::kAmx;
    std::vector<double> rates;
    for (int run = 0; run < runs; ++run) {
      rates.push_back(OnAllThreads(threads, amx ? &AmxOps : &VnniOps) / 1e9);
    }
    result["int8_gop_per_s"] = r1serve::bench::RunStatsJson(rates);
    result["int8_instruction"] = amx ? "amx tdpbusd" : "avx512 vpdpbusd";
  }
  const std::string json = result.dump(2) + "\n";
  if (const std::string out = absl::GetFlag(FLAGS_out); !out.empty()) std::ofstream(out) << json;
  std::cout << json;
  return 0;
}
