// TPU-KNN's PartialReduce (the first stage of lax.approx_max_k) over one f32 row: bin b keeps
// the largest of positions b, b + bins, b + 2*bins, ... with its position; ties keep the
// lower position; NaN ranks above every number and +0 above -0 (IEEE total order), exactly
// as the reference kernel (src/tpu/prims/approx_topk.ts) ranks them.
#pragma once
#include <cstdint>

namespace tpusim {

void partialReduce(const float* row, int64_t n, int64_t bins, float* best, int32_t* at);

}  // namespace tpusim
