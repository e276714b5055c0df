// AVX2 + FMA 6x16 microkernel: 12 ymm accumulators, 2 ymm of B, 1 broadcast of A per row.
// Compiled with a target attribute so this file builds with any x86-64 GCC/Clang; it only
// runs after the runtime check in addon.cc.
#include "gemm.h"

#if TPUSIM_X86
#include <immintrin.h>

namespace tpusim {
namespace {

#define TPUSIM_AVX2 __attribute__((target("avx2,fma")))

TPUSIM_AVX2 void kernel6x16(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
  // Start fetching the C tile now; its rows are only touched after the k loop.
  for (int i = 0; i < 6; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 15), _MM_HINT_T0);
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
    __m256 ai = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(ai, b0, c00);
    c01 = _mm256_fmadd_ps(ai, b1, c01);
    ai = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ai, b0, c10);
    c11 = _mm256_fmadd_ps(ai, b1, c11);
    ai = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ai, b0, c20);
    c21 = _mm256_fmadd_ps(ai, b1, c21);
    ai = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ai, b0, c30);
    c31 = _mm256_fmadd_ps(ai, b1, c31);
    ai = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ai, b0, c40);
    c41 = _mm256_fmadd_ps(ai, b1, c41);
    ai = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ai, b0, c50);
    c51 = _mm256_fmadd_ps(ai, b1, c51);
    a += 6;
    b += 16;
  }
#define TPUSIM_STORE_ROW(i, lo, hi)                                          \
  do {                                                                       \
    float* row = c + (i) * ldc;                                              \
    if (accumulate) {                                                        \
      lo = _mm256_add_ps(lo, _mm256_loadu_ps(row));                          \
      hi = _mm256_add_ps(hi, _mm256_loadu_ps(row + 8));                      \
    }                                                                        \
    _mm256_storeu_ps(row, lo);                                               \
    _mm256_storeu_ps(row + 8, hi);                                           \
  } while (0)
  TPUSIM_STORE_ROW(0, c00, c01);
  TPUSIM_STORE_ROW(1, c10, c11);
  TPUSIM_STORE_ROW(2, c20, c21);
  TPUSIM_STORE_ROW(3, c30, c31);
  TPUSIM_STORE_ROW(4, c40, c41);
  TPUSIM_STORE_ROW(5, c50, c51);
#undef TPUSIM_STORE_ROW
}

// mc: A block 96 x 512 f32 = 192 KiB in L2; B micro-panel 512 x 16 = 32 KiB streamed
// through L1; nc: B block 512 x 4080 = 8 MiB in L3. A long kc amortises the C tile's
// load/store; measured best of a small sweep on Zen 3 (kc 256..768, mc 48..288).
const KernelSpec kAvx2{"avx2", 6, 16, 96, 512, 4080, kernel6x16};

}  // namespace

const KernelSpec* avx2Kernel() { return &kAvx2; }

}  // namespace tpusim

#else

namespace tpusim {
const KernelSpec* avx2Kernel() { return nullptr; }
}  // namespace tpusim

#endif
