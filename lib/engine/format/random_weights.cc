#include "lib/engine/format/random_weights.h"

namespace r1serve::engine {
namespace {

// SplitMix64's output function (Steele, Lea, Flood 2014): a strong 64-bit mixer, used here
// counter-style, hash(stream + index), which is what makes every element independent of order.
uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t RandomWeights::Stream(uint64_t seed, absl::string_view canonical_name) {
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a-64 of the name
  for (char c : canonical_name) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  }
  return SplitMix64(SplitMix64(seed) ^ hash);
}

float RandomWeights::StandardDraw(uint64_t stream, uint64_t index) {
  const uint64_t bits = SplitMix64(stream + index * 0xd1b54a32d192ed03ULL);
  const int64_t sum =
      static_cast<int64_t>(bits & 0xffff) + static_cast<int64_t>((bits >> 16) & 0xffff) +
      static_cast<int64_t>((bits >> 32) & 0xffff) + static_cast<int64_t>(bits >> 48);
  // Four U(0, 65535) integers: mean 131070, variance 4 * (65536^2 - 1) / 12. The sum is exact;
  // one double multiplication, correctly rounded, then one rounding to float.
  constexpr double kScale = 1.7320508075688772 / 65536.0;  // sqrt(3) / 65536 ~ 1 / stddev
  return static_cast<float>(static_cast<double>(sum - 131070) * kScale);
}

void RandomWeights::FillRows(const ExpectedTensor& tensor, int64_t first_row, int64_t count,
                             float* out) const {
  const uint64_t stream = Stream(options_.seed, tensor.canonical);
  const int64_t cols = tensor.shape.back();
  double scale = options_.std;
  double offset = 0.0;
  switch (tensor.role) {
    case TensorRole::kNorm:
      scale = 0.05;
      offset = 1.0;
      break;
    case TensorRole::kOutput:
      scale = options_.std * options_.output_scale;
      break;
    case TensorRole::kEmbedding:
      if (options_.tied_output) scale = options_.std * options_.output_scale;
      break;
    case TensorRole::kProjection:
    case TensorRole::kBias:
      break;
  }
  const uint64_t first = static_cast<uint64_t>(first_row * cols);
  const int64_t n = count * cols;
  for (int64_t i = 0; i < n; ++i) {
    const double z = StandardDraw(stream, first + static_cast<uint64_t>(i));
    out[i] = RoundToDType(options_.value_dtype, static_cast<float>(offset + scale * z));
  }
}

}  // namespace r1serve::engine
