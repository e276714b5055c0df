// lax.top_k along the last axis: the k largest of each row, descending, lower index first on
// ties, NaN above every number (as XLA's comparator orders it).
#pragma once
#include <cstdint>
#include <vector>

#include "gemm.h"

namespace tpusim {

struct TopKScratch {
  std::vector<float> value;  // grow-only heap storage, reused across calls
  std::vector<int32_t> index;
};

// values: same element type as x (bits copied); indices: int32. Returns false on bad sizes.
bool topK(const void* x, ElemType type, void* values, int32_t* indices, int64_t rows, int64_t n, int64_t k,
          TopKScratch& scratch);

}  // namespace tpusim
