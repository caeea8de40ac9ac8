#include "lib/engine/sampler/logits_kernels.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

namespace r1serve::engine {
namespace {

// Eight logical lanes held as two native 16-byte vectors (GCC/Clang vector extensions): SSE2 on
// any x86-64, NEON on Arm. Wider native vectors are not used because a 32-byte vector type on a
// baseline x86-64 build is lowered lane by lane. The lanes are IEEE single precision with no
// fused multiply-add (the file is compiled with -ffp-contract=off), and every sum runs in a fixed
// lane order, so every build computes bit-identical weights and sums.
typedef float F4 __attribute__((vector_size(16)));
typedef int32_t I4 __attribute__((vector_size(16)));
constexpr size_t kLanes = 8;

struct F8 {
  F4 lo, hi;
  float operator[](size_t i) const { return i < 4 ? lo[i] : hi[i - 4]; }
};
struct I8 {
  I4 lo, hi;
};

inline F8 operator+(F8 a, F8 b) { return {a.lo + b.lo, a.hi + b.hi}; }
inline F8 operator-(F8 a, F8 b) { return {a.lo - b.lo, a.hi - b.hi}; }
inline F8 operator*(F8 a, F8 b) { return {a.lo * b.lo, a.hi * b.hi}; }
inline F8 operator+(F8 a, float b) { return {a.lo + b, a.hi + b}; }
inline F8 operator-(F8 a, float b) { return {a.lo - b, a.hi - b}; }
inline F8 operator*(F8 a, float b) { return {a.lo * b, a.hi * b}; }
inline F8& operator+=(F8& a, F8 b) { return a = a + b; }
inline I8 operator>=(F8 a, F8 b) { return {a.lo >= b.lo, a.hi >= b.hi}; }
inline I8 operator>(F8 a, F8 b) { return {a.lo > b.lo, a.hi > b.hi}; }
inline I8 operator<=(F8 a, F8 b) { return {a.lo <= b.lo, a.hi <= b.hi}; }
inline I8 operator==(F8 a, F8 b) { return {a.lo == b.lo, a.hi == b.hi}; }
inline I8 operator!=(F8 a, F8 b) { return {a.lo != b.lo, a.hi != b.hi}; }
inline I8 operator&(I8 a, I8 b) { return {a.lo & b.lo, a.hi & b.hi}; }
inline I8 operator|(I8 a, I8 b) { return {a.lo | b.lo, a.hi | b.hi}; }
inline I8& operator|=(I8& a, I8 b) { return a = a | b; }
// Lane-wise m ? a : b.
inline F8 Select(I8 m, F8 a, F8 b) { return {m.lo ? a.lo : b.lo, m.hi ? a.hi : b.hi}; }
inline F8 Max(F8 a, F8 b) { return Select(a > b, a, b); }

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

inline F8 Splat(float f) { return F8{F4{f, f, f, f}, F4{f, f, f, f}}; }

inline F8 Load(const float* p) {
  F8 v;
  std::memcpy(&v.lo, p, sizeof(v.lo));
  std::memcpy(&v.hi, p + 4, sizeof(v.hi));
  return v;
}

// The last n < 8 elements, other lanes `fill`.
inline F8 LoadTail(const float* p, size_t n, float fill) {
  float lanes[kLanes];
  for (size_t i = 0; i < kLanes; ++i) lanes[i] = i < n ? p[i] : fill;
  return Load(lanes);
}

inline void Store(float* p, F8 v) {
  std::memcpy(p, &v.lo, sizeof(v.lo));
  std::memcpy(p + 4, &v.hi, sizeof(v.hi));
}

inline bool AnyLane(I8 m) {
  const I4 any = m.lo | m.hi;
  return (any[0] | any[1] | any[2] | any[3]) != 0;
}

// Lane order is fixed so that the total does not depend on the build.
inline double SumLanes(F8 v) {
  double s = 0;
  for (size_t i = 0; i < kLanes; ++i) s += v[i];
  return s;
}

inline float MaxLanes(F8 v) {
  float m = v[0];
  for (size_t i = 1; i < kLanes; ++i) m = v[i] > m ? v[i] : m;
  return m;
}

// exp(x) for x <= 0: x = n ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series to degree 7
// (truncation error < 6e-9), times 2^n built in the exponent bits. Lanes below -87 (where 2^n
// would leave the normal range), -inf and NaN give 0. Written once for any lane type V whose
// `Ops` supply Splat, Select and Pow2, so that the portable and the AVX2 lanes run the very
// same operations and round alike.
template <typename V, typename Ops>
[[gnu::always_inline]] inline V ExpNonPositiveCore(V x) {
  constexpr float kMin = -87.0f;
  constexpr float kLog2e = 1.44269504088896341f;
  // ln2 split so that n * kLn2Hi is exact for |n| <= 127 (kLn2Hi has 16 significant bits).
  constexpr float kLn2Hi = 45426.0f / 65536.0f;
  constexpr float kLn2Lo = static_cast<float>(0.69314718055994530942 - 45426.0 / 65536.0);
  // Adding then subtracting 1.5 * 2^23 rounds to the nearest integer (round-to-nearest mode).
  constexpr float kRound = 12582912.0f;
  const auto keep = x >= Ops::Splat(kMin);
  x = Ops::Select(keep, x, Ops::Splat(kMin));
  const V n = (x * kLog2e + kRound) - kRound;
  const V r = (x - n * kLn2Hi) - n * kLn2Lo;
  V p = Ops::Splat(1.0f / 5040.0f);
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return Ops::Select(keep, p * Ops::Pow2(n), Ops::Splat(0.0f));
}

struct PortableOps {
  static F8 Splat(float f) { return r1serve::engine::Splat(f); }
  static F8 Select(I8 m, F8 a, F8 b) { return r1serve::engine::Select(m, a, b); }
  // 2^n for integral n in [-126, 127].
  static F8 Pow2(F8 n) {
    const I4 lo = (__builtin_convertvector(n.lo, I4) + 127) << 23;
    const I4 hi = (__builtin_convertvector(n.hi, I4) + 127) << 23;
    return F8{reinterpret_cast<F4>(lo), reinterpret_cast<F4>(hi)};
  }
};

inline F8 ExpNonPositiveV(F8 x) { return ExpNonPositiveCore<F8, PortableOps>(x); }

inline F8 WeightsV(F8 v, float shift, float scale) { return ExpNonPositiveV((v - shift) * scale); }

// Block sizes of the two-level loops, which skip whole blocks: kBlock where the skip test is
// cheap next to the work it saves (SumExpAtLeast, the walk), kFineBlock where sparse sets (1% of
// a row) must leave most blocks out (the gather, TopN).
constexpr size_t kBlock = 64;
constexpr size_t kFineBlock = 16;

}  // namespace

float ExpNonPositive(float x) { return ExpNonPositiveV(Splat(x))[0]; }

LogitsMax MaxWithNanCheck(std::span<const float> x) {
  const size_t n = x.size();
  const size_t body = n - n % kLanes;
  F8 m = Splat(kNegInf);
  I8 nan = {};
  for (size_t i = 0; i < body; i += kLanes) {
    const F8 v = Load(x.data() + i);
    m = Max(v, m);
    nan |= v != v;
  }
  if (body < n) {
    const F8 v = LoadTail(x.data() + body, n - body, kNegInf);
    m = Max(v, m);
    nan |= v != v;
  }
  return LogitsMax{MaxLanes(m), AnyLane(nan)};
}

int64_t FirstIndexOf(std::span<const float> x, float value) {
  const size_t n = x.size();
  const F8 target = Splat(value);
  size_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    const I8 eq = (Load(x.data() + i) == target) | (Load(x.data() + i + 8) == target) |
                  (Load(x.data() + i + 16) == target) | (Load(x.data() + i + 24) == target);
    if (AnyLane(eq)) break;
  }
  for (; i < n; ++i) {
    if (x[i] == value) return static_cast<int64_t>(i);
  }
  return -1;
}

namespace {

double SumExpAtLeastPortable(std::span<const float> x, float floor, float shift, float scale) {
  // Blocks with no element at or above the floor are skipped after a compare: under a floor near
  // the max (the usual case) few blocks pay for exp().
  const size_t n = x.size();
  const F8 fl = Splat(floor);
  double total = 0;
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    I8 any = {};
    for (size_t j = 0; j < kBlock; j += kLanes) any |= Load(x.data() + i + j) >= fl;
    if (!AnyLane(any)) continue;
    F8 acc = Splat(0.0f);
    for (size_t j = 0; j < kBlock; j += kLanes) {
      const F8 v = Load(x.data() + i + j);
      acc += Select(v >= fl, WeightsV(v, shift, scale), Splat(0.0f));
    }
    total += SumLanes(acc);
  }
  F8 acc = Splat(0.0f);
  for (; i < n; i += kLanes) {
    const F8 v = i + kLanes <= n ? Load(x.data() + i) : LoadTail(x.data() + i, n - i, kNegInf);
    acc += Select(v >= fl, WeightsV(v, shift, scale), Splat(0.0f));
  }
  return total + SumLanes(acc);
}

void ExpScaledPortable(std::span<const float> x, float shift, float scale, std::span<float> out) {
  const size_t n = x.size();
  const size_t body = n - n % kLanes;
  for (size_t i = 0; i < body; i += kLanes) {
    Store(out.data() + i, WeightsV(Load(x.data() + i), shift, scale));
  }
  if (body < n) {
    const F8 w = WeightsV(LoadTail(x.data() + body, n - body, kNegInf), shift, scale);
    for (size_t i = body; i < n; ++i) out[i] = w[i - body];
  }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define R1_SAMPLER_AVX2 1

// The same kernels on native 8-lane AVX2 registers, for CPUs that have them: identical lane
// layout and operation order, so identical results (tested).
typedef float A8 __attribute__((vector_size(32)));
typedef int32_t A8i __attribute__((vector_size(32)));

struct Avx2Ops {
  [[gnu::always_inline]] static A8 Splat(float f) { return A8{f, f, f, f, f, f, f, f}; }
  [[gnu::always_inline]] static A8 Select(A8i m, A8 a, A8 b) { return m ? a : b; }
  [[gnu::always_inline]] static A8 Pow2(A8 n) {
    return reinterpret_cast<A8>((__builtin_convertvector(n, A8i) + 127) << 23);
  }
  [[gnu::always_inline]] static A8 Load(const float* p) {
    A8 v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  [[gnu::always_inline]] static A8 LoadTail(const float* p, size_t n, float fill) {
    float lanes[kLanes];
    for (size_t i = 0; i < kLanes; ++i) lanes[i] = i < n ? p[i] : fill;
    return Load(lanes);
  }
  [[gnu::always_inline]] static bool Any(A8i m) {
    int32_t any = 0;
    for (size_t i = 0; i < kLanes; ++i) any |= m[i];
    return any != 0;
  }
  [[gnu::always_inline]] static double SumLanes(A8 v) {
    double s = 0;
    for (size_t i = 0; i < kLanes; ++i) s += v[i];
    return s;
  }
  [[gnu::always_inline]] static A8 Weights(A8 v, float shift, float scale) {
    return ExpNonPositiveCore<A8, Avx2Ops>((v - shift) * scale);
  }
};

__attribute__((target("avx2"))) double SumExpAtLeastAvx2(std::span<const float> x, float floor,
                                                         float shift, float scale) {
  using O = Avx2Ops;
  const size_t n = x.size();
  const A8 fl = O::Splat(floor);
  const A8 zero = O::Splat(0.0f);
  double total = 0;
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    A8i any = {};
    for (size_t j = 0; j < kBlock; j += kLanes) any |= O::Load(x.data() + i + j) >= fl;
    if (!O::Any(any)) continue;
    A8 acc = zero;
    for (size_t j = 0; j < kBlock; j += kLanes) {
      const A8 v = O::Load(x.data() + i + j);
      acc += O::Select(v >= fl, O::Weights(v, shift, scale), zero);
    }
    total += O::SumLanes(acc);
  }
  A8 acc = zero;
  for (; i < n; i += kLanes) {
    const A8 v =
        i + kLanes <= n ? O::Load(x.data() + i) : O::LoadTail(x.data() + i, n - i, kNegInf);
    acc += O::Select(v >= fl, O::Weights(v, shift, scale), zero);
  }
  return total + O::SumLanes(acc);
}

__attribute__((target("avx2"))) void ExpScaledAvx2(std::span<const float> x, float shift,
                                                   float scale, std::span<float> out) {
  using O = Avx2Ops;
  const size_t n = x.size();
  const size_t body = n - n % kLanes;
  for (size_t i = 0; i < body; i += kLanes) {
    const A8 w = O::Weights(O::Load(x.data() + i), shift, scale);
    std::memcpy(out.data() + i, &w, sizeof(w));
  }
  if (body < n) {
    const A8 w = O::Weights(O::LoadTail(x.data() + body, n - body, kNegInf), shift, scale);
    for (size_t i = body; i < n; ++i) out[i] = w[i - body];
  }
}

bool CpuHasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

#endif  // x86-64

std::atomic<bool> avx2_enabled{true};

bool UseAvx2() {
#ifdef R1_SAMPLER_AVX2
  return CpuHasAvx2() && avx2_enabled.load(std::memory_order_relaxed);
#else
  return false;
#endif
}

}  // namespace

bool Avx2KernelsAvailable() {
#ifdef R1_SAMPLER_AVX2
  return CpuHasAvx2();
#else
  return false;
#endif
}

bool EnableAvx2Kernels(bool enable) { return avx2_enabled.exchange(enable); }

double SumExpAtLeast(std::span<const float> x, float floor, float shift, float scale) {
#ifdef R1_SAMPLER_AVX2
  if (UseAvx2()) return SumExpAtLeastAvx2(x, floor, shift, scale);
#endif
  return SumExpAtLeastPortable(x, floor, shift, scale);
}

void ExpScaled(std::span<const float> x, float shift, float scale, std::span<float> out) {
#ifdef R1_SAMPLER_AVX2
  if (UseAvx2()) return ExpScaledAvx2(x, shift, scale, out);
#endif
  ExpScaledPortable(x, shift, scale, out);
}

double SumWeightsAtLeast(std::span<const float> x, std::span<const float> w, float floor) {
  const size_t n = x.size();
  const size_t body = n - n % kLanes;
  const F8 fl = Splat(floor);
  double total = 0;
  F8 acc = Splat(0.0f);
  size_t in_acc = 0;
  for (size_t i = 0; i < body; i += kLanes) {
    acc += Select(Load(x.data() + i) >= fl, Load(w.data() + i), Splat(0.0f));
    // Flush to double every 64 adds per lane: float partial sums stay accurate to ~1e-6.
    if (++in_acc == 64) {
      total += SumLanes(acc);
      acc = Splat(0.0f);
      in_acc = 0;
    }
  }
  if (body < n) {
    acc += Select(LoadTail(x.data() + body, n - body, kNegInf) >= fl,
                  LoadTail(w.data() + body, n - body, 0.0f), Splat(0.0f));
  }
  return total + SumLanes(acc);
}

size_t GatherAtLeast(std::span<const float> x, float floor, std::span<float> out_x,
                     std::span<int32_t> out_index) {
  // Branch-free cursor: every element is written at the cursor, which moves on only past the
  // kept ones (so the outputs need room for all of x). Blocks with nothing kept are skipped:
  // small blocks, so that a sparse set (1% of a row) leaves most of them out.
  const size_t n = x.size();
  float* ox = out_x.data();
  int32_t* oi = out_index.data();
  size_t count = 0;
  const F8 fl = Splat(floor);
  size_t i = 0;
  for (; i + kFineBlock <= n; i += kFineBlock) {
    if (!AnyLane((Load(x.data() + i) >= fl) | (Load(x.data() + i + kLanes) >= fl))) continue;
    for (size_t j = i; j < i + kFineBlock; ++j) {
      ox[count] = x[j];
      oi[count] = static_cast<int32_t>(j);
      count += x[j] >= floor;
    }
  }
  for (; i < n; ++i) {
    ox[count] = x[i];
    oi[count] = static_cast<int32_t>(i);
    count += x[i] >= floor;
  }
  return count;
}

int64_t SampleCumulativeWeights(std::span<const float> x, std::span<const float> w, float floor,
                                double target) {
  // Two levels: whole blocks are skipped by their (vectorized) total, and only the block where
  // the cumulative weight passes the target is walked element by element.
  const size_t n = x.size();
  const F8 fl = Splat(floor);
  alignas(16) float kept[kBlock];
  double cumulative = 0;
  int64_t last_positive = -1;
  for (size_t i = 0; i < n; i += kBlock) {
    F8 acc = Splat(0.0f);
    for (size_t j = 0; j < kBlock; j += kLanes) {
      const size_t at = i + j;
      F8 v = Splat(kNegInf);
      F8 wv = Splat(0.0f);
      if (at + kLanes <= n) {
        v = Load(x.data() + at);
        wv = Load(w.data() + at);
      } else if (at < n) {
        v = LoadTail(x.data() + at, n - at, kNegInf);
        wv = LoadTail(w.data() + at, n - at, 0.0f);
      }
      const F8 kept_w = Select(v >= fl, wv, Splat(0.0f));
      Store(kept + j, kept_w);
      acc += kept_w;
    }
    const double block_total = SumLanes(acc);
    if (block_total <= 0) continue;
    if (cumulative + block_total <= target) {
      cumulative += block_total;
      size_t j = kBlock - 1;
      while (kept[j] <= 0) --j;  // block_total > 0: some lane is positive
      last_positive = static_cast<int64_t>(i + j);
      continue;
    }
    for (size_t j = 0; j < kBlock; ++j) {
      if (kept[j] <= 0) continue;
      last_positive = static_cast<int64_t>(i + j);
      cumulative += kept[j];
      if (cumulative > target) return last_positive;
    }
  }
  return last_positive;
}

namespace {

// "a ranks before b": larger value, then lower index.
inline bool RanksBefore(const RankedLogit& a, const RankedLogit& b) {
  return a.value > b.value || (a.value == b.value && a.index < b.index);
}

}  // namespace

std::vector<RankedLogit> TopN(std::span<const float> x, std::span<const int32_t> index_of,
                              float floor, size_t n) {
  std::vector<RankedLogit> heap;  // heap.front() is the entry that ranks last
  if (n == 0) return heap;
  heap.reserve(n);
  const size_t size = x.size();
  // Elements arrive in increasing index, so a later element only enters by a strictly larger
  // value: that keeps the lower index on ties.
  auto offer = [&](size_t i) {
    const float v = x[i];
    if (!(v >= floor)) return;
    if (heap.size() == n && !(v > heap.front().value)) return;
    const RankedLogit entry{index_of.empty() ? static_cast<int32_t>(i) : index_of[i], v};
    if (heap.size() == n) {
      std::pop_heap(heap.begin(), heap.end(), RanksBefore);
      heap.back() = entry;
    } else {
      heap.push_back(entry);
    }
    std::push_heap(heap.begin(), heap.end(), RanksBefore);
  };
  size_t i = 0;
  for (; i + kFineBlock <= size; i += kFineBlock) {
    // Skip the block unless some element would be offered a place: >= floor while the heap
    // fills, then > the last entry.
    const F8 a = Load(x.data() + i);
    const F8 b = Load(x.data() + i + kLanes);
    if (heap.size() < n) {
      const F8 fl = Splat(floor);
      if (!AnyLane((a >= fl) | (b >= fl))) continue;
    } else {
      const F8 bar = Splat(heap.front().value);
      if (!AnyLane((a > bar) | (b > bar))) continue;
    }
    for (size_t j = i; j < i + kFineBlock; ++j) offer(j);
  }
  for (; i < size; ++i) offer(i);
  std::sort_heap(heap.begin(), heap.end(), RanksBefore);
  return heap;
}

namespace {

// Below this many elements the selection sorts.
constexpr size_t kSortCutoff = 128;
// Elements sampled to place the bracket, and the bracket's half-width in sample ranks: the
// bracket then holds ~3% of the set when the sample's guess is right.
constexpr size_t kSampleSize = 256;
constexpr size_t kBracketHalfWidth = 4;
// Block of the compaction's skip test.
constexpr size_t kCompactBlock = 16;

// Sorts the (small) set by value and walks it down, tie groups at once.
float SelectBySorting(std::span<const float> x, std::span<const float> w, double remaining) {
  std::vector<uint32_t> order(x.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return x[a] > x[b]; });
  double cumulative = 0;
  for (size_t i = 0; i < order.size();) {
    const float v = x[order[i]];
    for (; i < order.size() && x[order[i]] == v; ++i) cumulative += w[order[i]];
    if (cumulative >= remaining) return v;
  }
  return x[order.back()];
}

struct BracketMass {
  double above = 0;   // weights of x > hi
  double within = 0;  // weights of lo <= x <= hi
};

BracketMass MassAroundBracket(std::span<const float> x, std::span<const float> w, float lo,
                              float hi) {
  const size_t n = x.size();
  const size_t body = n - n % kLanes;
  const F8 lo_v = Splat(lo);
  const F8 hi_v = Splat(hi);
  const F8 zero = Splat(0.0f);
  BracketMass mass;
  F8 above = zero;
  F8 within = zero;
  size_t in_acc = 0;
  for (size_t i = 0; i < body; i += kLanes) {
    const F8 v = Load(x.data() + i);
    const F8 wv = Load(w.data() + i);
    above += Select(v > hi_v, wv, zero);
    within += Select((v >= lo_v) & (v <= hi_v), wv, zero);
    if (++in_acc == 64) {
      mass.above += SumLanes(above);
      mass.within += SumLanes(within);
      above = within = zero;
      in_acc = 0;
    }
  }
  if (body < n) {
    const F8 v = LoadTail(x.data() + body, n - body, kNegInf);
    const F8 wv = LoadTail(w.data() + body, n - body, 0.0f);
    above += Select(v > hi_v, wv, zero);
    within += Select((v >= lo_v) & (v <= hi_v), wv, zero);
  }
  mass.above += SumLanes(above);
  mass.within += SumLanes(within);
  return mass;
}

// Copies the elements with lo <= x <= hi, in order, to the fronts of out_x and out_w, which may
// be x and w themselves (the write cursor never passes the read position). Blocks without such
// an element are skipped after a vector test; the others go through a branch-free cursor.
size_t CompactRange(std::span<const float> x, std::span<const float> w, float lo, float hi,
                    float* out_x, float* out_w) {
  const size_t n = x.size();
  const F8 lo_v = Splat(lo);
  const F8 hi_v = Splat(hi);
  size_t count = 0;
  size_t i = 0;
  auto copy = [&](size_t from, size_t to) {
    for (size_t j = from; j < to; ++j) {
      const float v = x[j];
      const float wv = w[j];
      out_x[count] = v;
      out_w[count] = wv;
      count += v >= lo && v <= hi;
    }
  };
  for (; i + kCompactBlock <= n; i += kCompactBlock) {
    const F8 a = Load(x.data() + i);
    const F8 b = Load(x.data() + i + kLanes);
    if (!AnyLane(((a >= lo_v) & (a <= hi_v)) | ((b >= lo_v) & (b <= hi_v)))) continue;
    copy(i, i + kCompactBlock);
  }
  copy(i, n);
  return count;
}

constexpr float kPosInf = std::numeric_limits<float>::infinity();

}  // namespace

float SelectWeightedThreshold(std::span<const float> x, std::span<const float> w, float floor,
                              double target, SelectionScratch& scratch) {
  // Floyd-Rivest in spirit: a sample guesses a narrow bracket [lo, hi] of values that holds the
  // answer; one vectorized pass weighs what lies above and inside it, and the search goes on in
  // whichever part holds the cut, copied out (the first level reads the caller's arrays; later
  // ones work in `scratch` in place). A wrong guess still shrinks the set (the part chosen never
  // holds both ends of the bracket), and a bracket that fails to shrink falls back to a single
  // pivot. Only elements >= floor take part: the first level folds the floor into its tests.
  if (scratch.x.size() < x.size()) {
    scratch.x.resize(x.size());
    scratch.w.resize(x.size());
  }
  double remaining = target;
  double region_mass = SumWeightsAtLeast(x, w, floor);
  std::pair<float, float> sample[kSampleSize];
  while (x.size() > kSortCutoff) {
    const size_t n = x.size();
    // Sample the region at a stride, stepping forward from each stride position to the next
    // element >= floor. A region too sparse for that (under ~1/32 of the set) is copied out
    // first: the copy then skips most blocks whole.
    size_t probes = 0;
    for (size_t k = 0; k < kSampleSize && probes <= 32 * kSampleSize; ++k) {
      size_t at = (2 * k + 1) * n / (2 * kSampleSize);
      for (; !(x[at] >= floor) && probes <= 32 * kSampleSize; ++probes) {
        at = at + 1 < n ? at + 1 : 0;
      }
      sample[k] = {x[at], w[at]};
    }
    if (probes > 32 * kSampleSize) {
      const size_t kept = CompactRange(x, w, floor, kPosInf, scratch.x.data(), scratch.w.data());
      x = std::span<const float>(scratch.x.data(), kept);
      w = std::span<const float>(scratch.w.data(), kept);
      floor = kNegInf;
      continue;
    }
    std::sort(sample, sample + kSampleSize,
              [](const auto& a, const auto& b) { return a.first > b.first; });
    double sample_mass = 0;
    for (const auto& [v, wv] : sample) sample_mass += wv;
    // Where the cut should fall among the sample, as a share of the region's mass.
    const double fraction = region_mass > 0 ? remaining / region_mass : 1.0;
    size_t rank = kSampleSize / 2;
    if (sample_mass > 0) {
      double cumulative = 0;
      for (rank = 0; rank + 1 < kSampleSize; ++rank) {
        cumulative += sample[rank].second;
        if (cumulative >= fraction * sample_mass) break;
      }
    }
    float hi = sample[rank >= kBracketHalfWidth ? rank - kBracketHalfWidth : 0].first;
    float lo = sample[std::min(rank + kBracketHalfWidth, kSampleSize - 1)].first;
    for (int attempt = 0; attempt < 2; ++attempt) {
      const BracketMass mass = MassAroundBracket(x, w, lo, hi);
      float keep_lo, keep_hi;
      if (mass.above >= remaining) {
        keep_lo = std::nextafter(hi, kPosInf);
        keep_hi = kPosInf;
        region_mass = mass.above;
      } else if (mass.above + mass.within >= remaining) {
        if (lo == hi) return hi;
        remaining -= mass.above;
        keep_lo = lo;
        keep_hi = hi;
        region_mass = mass.within;
      } else {
        remaining -= mass.above + mass.within;
        keep_lo = floor;
        keep_hi = std::nextafter(lo, kNegInf);
        region_mass = std::max(0.0, region_mass - mass.above - mass.within);
      }
      const size_t kept = CompactRange(x, w, keep_lo, keep_hi, scratch.x.data(), scratch.w.data());
      x = std::span<const float>(scratch.x.data(), kept);
      w = std::span<const float>(scratch.w.data(), kept);
      // From here on every element is in the region.
      floor = kNegInf;
      // Nothing below lo: every weight together falls short of the target, keep everything.
      if (kept == 0) return lo;
      if (kept < n) break;
      // The bracket spanned the whole set: retry with the sample's median as a single pivot,
      // which always splits off at least the pivot's tie group.
      lo = hi = sample[kSampleSize / 2].first;
    }
  }
  if (floor > kNegInf) {
    const size_t kept = CompactRange(x, w, floor, kPosInf, scratch.x.data(), scratch.w.data());
    x = std::span<const float>(scratch.x.data(), kept);
    w = std::span<const float>(scratch.w.data(), kept);
  }
  if (x.empty()) return floor;
  return SelectBySorting(x, w, remaining);
}

}  // namespace r1serve::engine
