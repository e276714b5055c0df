// Strided batched SGEMM with f32 or bf16 operands, f32 accumulation.
// C[b](m,n) = sum_k A[b](m,k) * B[b](k,n), every operand addressed by element strides,
// so transposed and batch-strided layouts cost nothing beyond the packing they already do.
#pragma once
#include <cstddef>
#include <cstdint>

// x86 SIMD kernels are compiled (with target attributes) only on x86; TPUSIM_NO_X86 turns them
// off to check the portable build on an x86 host.
#if (defined(__x86_64__) || defined(__i386__)) && !defined(TPUSIM_NO_X86)
#define TPUSIM_X86 1
#else
#define TPUSIM_X86 0
#endif

namespace tpusim {

enum class ElemType : int { F32 = 0, BF16 = 1 };

struct Operand {
  const void* data;
  ElemType type;
  int64_t batchStride;
  int64_t rowStride;
  int64_t colStride;
};

struct GemmProblem {
  int64_t batch, m, n, k;
  Operand a;  // m x k
  Operand b;  // k x n
  void* c;    // m x n, row stride ldc, batch stride cBatchStride; f32 or bf16 (RNE)
  ElemType cType;
  int64_t ldc;
  int64_t cBatchStride;
};

// A register-blocked microkernel: C[MR x NR] (+)= Apanel[kc x MR]^T * Bpanel[kc x NR].
// a: packed k-major (a[k*MR + i]); b: packed k-major (b[k*NR + j]); c row stride ldc.
using MicroKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate);

struct KernelSpec {
  const char* name;
  int mr, nr;
  int64_t mc, kc, nc;  // cache blocking: A block mc x kc in L2, B panel kc x nr in L1, B block kc x nc in L3
  MicroKernel kernel;
};

// Each ISA's kernel; the AVX ones are null when the compiler cannot target x86.
const KernelSpec* avx512Kernel();
const KernelSpec* avx2Kernel();
const KernelSpec* genericKernel();

// Grow-only scratch owned by one JS environment (one worker thread); never shrinks, never freed per call.
struct Workspace {
  float* packA = nullptr;
  size_t packACap = 0;
  float* packB = nullptr;
  size_t packBCap = 0;
  float* cTmp = nullptr;
  size_t cTmpCap = 0;
  ~Workspace();
};

// Makes sure `*buf` holds `count` floats (64-byte aligned). Returns false when memory is exhausted.
bool reserveFloats(float** buf, size_t* cap, size_t count);

// Runs the problem with `spec`. Returns false only when scratch could not be allocated.
bool sgemm(const KernelSpec& spec, Workspace& ws, const GemmProblem& p);

// bf16 helpers (round to nearest even, NaN kept quiet).
inline float bf16ToF32(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
inline uint16_t f32ToBf16(float x) {
  uint32_t u;
  __builtin_memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0) return static_cast<uint16_t>((u >> 16) | 0x0040u);
  uint32_t lsb = (u >> 16) & 1u;
  return static_cast<uint16_t>((u + 0x7fffu + lsb) >> 16);
}

}  // namespace tpusim
