// Sum / max / min of x viewed as (outer, r, inner) over its middle axis, f32 accumulation.
#pragma once
#include <cstdint>

#include "gemm.h"

namespace tpusim {

enum class ReduceOp : int { Sum = 0, Max = 1, Min = 2 };

// out has outer * inner elements. Returns false when scratch could not be allocated.
bool reduce(ReduceOp op, const void* x, ElemType xType, void* out, ElemType outType, int64_t outer, int64_t r,
            int64_t inner, Workspace& ws);

}  // namespace tpusim
