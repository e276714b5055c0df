// The patch matrix of a convolution (im2col), the GEMM operand of conv_general_dilated.
#pragma once
#include <cstdint>

#include "gemm.h"

namespace tpusim {

constexpr int kMaxSpatial = 8;

struct Im2colGeometry {
  int64_t batch, feat, spatial;   // spatial <= kMaxSpatial
  int64_t batchStride, featStride;  // of x, in elements
  int64_t inSize[kMaxSpatial], inStride[kMaxSpatial];
  int64_t kernelSize[kMaxSpatial], outSize[kMaxSpatial];
  int64_t windowStride[kMaxSpatial], padLow[kMaxSpatial], lhsDilation[kMaxSpatial], rhsDilation[kMaxSpatial];
};

// Rows (n, out position...) row-major; columns (tap..., feature) with features fastest;
// padding and lhs-dilation holes are zero. p holds rows x taps*feat floats.
void im2col(const void* x, ElemType type, const Im2colGeometry& g, float* p);

}  // namespace tpusim
