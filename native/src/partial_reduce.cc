#include "partial_reduce.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "gemm.h"

#if TPUSIM_X86
#include <immintrin.h>
#endif

namespace tpusim {
namespace {

// The total order's key: larger key = ranks higher; every NaN above every number.
inline bool ranksAbove(float v, float cur) {
  if (v > cur) return true;
  if (!(v != v || v == cur)) return false;  // plainly smaller
  if (cur != cur) return false;             // nothing ranks above NaN
  if (v != v) return true;                  // NaN over a number
  int32_t a, b;                             // equal numbers: only +0 over -0 differs
  std::memcpy(&a, &v, 4);
  std::memcpy(&b, &cur, 4);
  return a > b;
}

inline void scalarChunk(const float* chunk, int64_t base, int64_t from, int64_t lim, float* best, int32_t* at) {
  for (int64_t b = from; b < lim; ++b) {
    const float v = chunk[b];
    if (ranksAbove(v, best[b])) {
      best[b] = v;
      at[b] = static_cast<int32_t>(base + b);
    }
  }
}

#if TPUSIM_X86
// Eight bins at a time: a strict ordered `>` with a blend; lanes that are equal or NaN (the
// total order's special cases) are redone by the scalar rule, which is rare in real scores.
__attribute__((target("avx2"))) void partialReduceAvx2(const float* row, int64_t n, int64_t bins, float* best, int32_t* at) {
  for (int64_t c = bins; c < n; c += bins) {
    const int64_t lim = std::min(bins, n - c);
    const float* chunk = row + c;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int64_t b = 0;
    for (; b + 8 <= lim; b += 8) {
      const __m256 v = _mm256_loadu_ps(chunk + b);
      const __m256 cur = _mm256_loadu_ps(best + b);
      const __m256 special = _mm256_cmp_ps(v, cur, _CMP_EQ_UQ);
      if (_mm256_movemask_ps(special) != 0) {
        scalarChunk(chunk, c, b, b + 8, best, at);
        continue;
      }
      const __m256 gt = _mm256_cmp_ps(v, cur, _CMP_GT_OQ);
      _mm256_storeu_ps(best + b, _mm256_blendv_ps(cur, v, gt));
      const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int32_t>(c + b)), lane);
      const __m256i old = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at + b));
      const __m256i next = _mm256_castps_si256(
          _mm256_blendv_ps(_mm256_castsi256_ps(old), _mm256_castsi256_ps(idx), gt));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(at + b), next);
    }
    scalarChunk(chunk, c, b, lim, best, at);
  }
}
#endif

void partialReduceScalar(const float* row, int64_t n, int64_t bins, float* best, int32_t* at) {
  for (int64_t c = bins; c < n; c += bins) scalarChunk(row + c, c, 0, std::min(bins, n - c), best, at);
}

}  // namespace

void partialReduce(const float* row, int64_t n, int64_t bins, float* best, int32_t* at) {
  const int64_t first = std::min(bins, n);
  for (int64_t b = 0; b < first; ++b) {
    best[b] = row[b];
    at[b] = static_cast<int32_t>(b);
  }
#if TPUSIM_X86
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) {
    partialReduceAvx2(row, n, bins, best, at);
    return;
  }
#endif
  partialReduceScalar(row, n, bins, best, at);
}

}  // namespace tpusim
