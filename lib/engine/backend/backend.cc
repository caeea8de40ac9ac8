#include "lib/engine/backend/backend.h"

namespace r1serve::engine {

size_t KvCacheSpec::BlockBytes() const {
  return static_cast<size_t>(num_kv_heads) * block_size * head_dim *
         static_cast<size_t>(RowBytes(dtype, 1));
}

}  // namespace r1serve::engine
