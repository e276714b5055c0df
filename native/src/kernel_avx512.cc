// AVX-512F 12x32 microkernel: 24 zmm accumulators, 2 zmm of B, 1 broadcast of A per row.
// Compiled with a target attribute so this file builds with any x86-64 GCC/Clang; it only
// runs after the runtime check in addon.cc.
#include "gemm.h"

#if TPUSIM_X86 && defined(__x86_64__)
#include <immintrin.h>

namespace tpusim {
namespace {

#define TPUSIM_AVX512 __attribute__((target("avx512f")))

TPUSIM_AVX512 void kernel12x32(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
  for (int i = 0; i < 12; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 31), _MM_HINT_T0);
  }
  __m512 lo0 = _mm512_setzero_ps(), hi0 = _mm512_setzero_ps();
  __m512 lo1 = _mm512_setzero_ps(), hi1 = _mm512_setzero_ps();
  __m512 lo2 = _mm512_setzero_ps(), hi2 = _mm512_setzero_ps();
  __m512 lo3 = _mm512_setzero_ps(), hi3 = _mm512_setzero_ps();
  __m512 lo4 = _mm512_setzero_ps(), hi4 = _mm512_setzero_ps();
  __m512 lo5 = _mm512_setzero_ps(), hi5 = _mm512_setzero_ps();
  __m512 lo6 = _mm512_setzero_ps(), hi6 = _mm512_setzero_ps();
  __m512 lo7 = _mm512_setzero_ps(), hi7 = _mm512_setzero_ps();
  __m512 lo8 = _mm512_setzero_ps(), hi8 = _mm512_setzero_ps();
  __m512 lo9 = _mm512_setzero_ps(), hi9 = _mm512_setzero_ps();
  __m512 lo10 = _mm512_setzero_ps(), hi10 = _mm512_setzero_ps();
  __m512 lo11 = _mm512_setzero_ps(), hi11 = _mm512_setzero_ps();
#define TPUSIM_FMA_ROW(i)                          \
  do {                                             \
    const __m512 ai = _mm512_set1_ps(a[i]);        \
    lo##i = _mm512_fmadd_ps(ai, b0, lo##i);        \
    hi##i = _mm512_fmadd_ps(ai, b1, hi##i);        \
  } while (0)
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b);
    const __m512 b1 = _mm512_load_ps(b + 16);
    TPUSIM_FMA_ROW(0);
    TPUSIM_FMA_ROW(1);
    TPUSIM_FMA_ROW(2);
    TPUSIM_FMA_ROW(3);
    TPUSIM_FMA_ROW(4);
    TPUSIM_FMA_ROW(5);
    TPUSIM_FMA_ROW(6);
    TPUSIM_FMA_ROW(7);
    TPUSIM_FMA_ROW(8);
    TPUSIM_FMA_ROW(9);
    TPUSIM_FMA_ROW(10);
    TPUSIM_FMA_ROW(11);
    a += 12;
    b += 32;
  }
#undef TPUSIM_FMA_ROW
#define TPUSIM_STORE_ROW(i)                                    \
  do {                                                         \
    float* row = c + (i) * ldc;                                \
    if (accumulate) {                                          \
      lo##i = _mm512_add_ps(lo##i, _mm512_loadu_ps(row));      \
      hi##i = _mm512_add_ps(hi##i, _mm512_loadu_ps(row + 16)); \
    }                                                          \
    _mm512_storeu_ps(row, lo##i);                              \
    _mm512_storeu_ps(row + 16, hi##i);                         \
  } while (0)
  TPUSIM_STORE_ROW(0);
  TPUSIM_STORE_ROW(1);
  TPUSIM_STORE_ROW(2);
  TPUSIM_STORE_ROW(3);
  TPUSIM_STORE_ROW(4);
  TPUSIM_STORE_ROW(5);
  TPUSIM_STORE_ROW(6);
  TPUSIM_STORE_ROW(7);
  TPUSIM_STORE_ROW(8);
  TPUSIM_STORE_ROW(9);
  TPUSIM_STORE_ROW(10);
  TPUSIM_STORE_ROW(11);
#undef TPUSIM_STORE_ROW
}

// mc: A block 96 x 384 f32 = 144 KiB in L2; B micro-panel 384 x 32 = 48 KiB streamed through L1;
// nc: B block 384 x 4096 = 6 MiB in L3. Same shape of choice as the AVX2 sweep, not measured here (no AVX-512 on the dev host).
const KernelSpec kAvx512{"avx512", 12, 32, 96, 384, 4096, kernel12x32};

}  // namespace

const KernelSpec* avx512Kernel() { return &kAvx512; }

}  // namespace tpusim

#else

namespace tpusim {
const KernelSpec* avx512Kernel() { return nullptr; }
}  // namespace tpusim

#endif
