#include "im2col.h"

#include <cstring>

namespace tpusim {
namespace {

inline float widen(float v) { return v; }
inline float widen(uint16_t v) { return bf16ToF32(v); }

template <typename T>
void run(const T* x, const Im2colGeometry& g, float* p) {
  const int ns = static_cast<int>(g.spatial);
  int64_t positions = 1, taps = 1;
  for (int s = 0; s < ns; ++s) {
    positions *= g.outSize[s];
    taps *= g.kernelSize[s];
  }
  int64_t pos[kMaxSpatial] = {0}, tap[kMaxSpatial] = {0};
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int s = 0; s < ns; ++s) pos[s] = 0;
    for (int64_t q = 0; q < positions; ++q) {
      for (int s = 0; s < ns; ++s) tap[s] = 0;
      for (int64_t t = 0; t < taps; ++t) {
        int64_t offset = n * g.batchStride;
        bool inside = true;
        for (int s = 0; s < ns && inside; ++s) {
          const int64_t dilated = pos[s] * g.windowStride[s] - g.padLow[s] + tap[s] * g.rhsDilation[s];
          const int64_t ld = g.lhsDilation[s];
          if (dilated < 0 || dilated % ld != 0 || dilated / ld >= g.inSize[s]) inside = false;
          else offset += (dilated / ld) * g.inStride[s];
        }
        if (!inside) {
          std::memset(p, 0, sizeof(float) * g.feat);
        } else if (sizeof(T) == sizeof(float) && g.featStride == 1) {
          std::memcpy(p, x + offset, sizeof(float) * g.feat);
        } else {
          const T* src = x + offset;
          for (int64_t c = 0; c < g.feat; ++c) p[c] = widen(src[c * g.featStride]);
        }
        p += g.feat;
        for (int s = ns - 1; s >= 0; --s) {
          if (++tap[s] < g.kernelSize[s]) break;
          tap[s] = 0;
        }
      }
      for (int s = ns - 1; s >= 0; --s) {
        if (++pos[s] < g.outSize[s]) break;
        pos[s] = 0;
      }
    }
  }
}

}  // namespace

void im2col(const void* x, ElemType type, const Im2colGeometry& g, float* p) {
  if (type == ElemType::F32) run(static_cast<const float*>(x), g, p);
  else run(static_cast<const uint16_t*>(x), g, p);
}

}  // namespace tpusim
