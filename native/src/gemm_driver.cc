// The BLIS-style loop nest around a microkernel: B is packed once per (jc, pc) block into
// kc x nr column panels, A once per (pc, ic) block into mc x kc row panels, both widened
// to f32 (bf16 is a 16-bit shift) so every microkernel only ever sees packed f32.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "gemm.h"

namespace tpusim {

Workspace::~Workspace() {
  std::free(packA);
  std::free(packB);
  std::free(cTmp);
}

bool reserveFloats(float** buf, size_t* cap, size_t count) {
  if (count <= *cap) return true;
  size_t bytes = ((count * sizeof(float) + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) return false;
  std::free(*buf);
  *buf = static_cast<float*>(p);
  *cap = bytes / sizeof(float);
  return true;
}

namespace {

inline float widen(float v) { return v; }
inline float widen(uint16_t v) { return bf16ToF32(v); }

// A(rows, cols) at a[i*rs + j*cs] into panels of `mr` rows, k-major; rows past `mc` are zero.
template <typename T>
void packA(const T* a, int64_t rs, int64_t cs, int64_t mc, int64_t kc, int mr, float* dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += mr) {
    const int64_t rows = std::min<int64_t>(mr, mc - i0);
    const T* panel = a + i0 * rs;
    for (int64_t k = 0; k < kc; ++k) {
      const T* col = panel + k * cs;
      int64_t i = 0;
      for (; i < rows; ++i) dst[i] = widen(col[i * rs]);
      for (; i < mr; ++i) dst[i] = 0.0f;
      dst += mr;
    }
  }
}

// B(kc, nc) at b[k*rs + j*cs] into panels of `nr` columns, k-major; columns past `nc` are zero.
// Row-major B (cs == 1) is read one row at a time across every panel, so the hardware
// prefetcher sees one sequential stream rather than kc strided ones.
template <typename T>
void packB(const T* b, int64_t rs, int64_t cs, int64_t kc, int64_t nc, int nr, float* dst) {
  const int64_t fullPanels = nc / nr;
  const int64_t panelSize = kc * nr;
  if (cs == 1) {
    for (int64_t k = 0; k < kc; ++k) {
      const T* row = b + k * rs;
      float* out = dst + k * nr;
      for (int64_t p = 0; p < fullPanels; ++p) {
        const T* src = row + p * nr;
        float* o = out + p * panelSize;
        if constexpr (sizeof(T) == sizeof(float)) {
          std::memcpy(o, src, sizeof(float) * nr);
        } else {
          for (int j = 0; j < nr; ++j) o[j] = widen(src[j]);
        }
      }
    }
  } else {
    for (int64_t p = 0; p < fullPanels; ++p) {
      const T* panel = b + p * nr * cs;
      float* o = dst + p * panelSize;
      for (int64_t k = 0; k < kc; ++k) {
        const T* row = panel + k * rs;
        for (int j = 0; j < nr; ++j) o[j] = widen(row[j * cs]);
        o += nr;
      }
    }
  }
  const int64_t tail = nc - fullPanels * nr;
  if (tail == 0) return;
  const T* panel = b + fullPanels * nr * cs;
  float* o = dst + fullPanels * panelSize;
  for (int64_t k = 0; k < kc; ++k) {
    const T* row = panel + k * rs;
    int64_t j = 0;
    for (; j < tail; ++j) o[j] = widen(row[j * cs]);
    for (; j < nr; ++j) o[j] = 0.0f;
    o += nr;
  }
}

void packAAny(const Operand& op, int64_t offset, int64_t mc, int64_t kc, int mr, float* dst) {
  if (op.type == ElemType::F32) {
    packA(static_cast<const float*>(op.data) + offset, op.rowStride, op.colStride, mc, kc, mr, dst);
  } else {
    packA(static_cast<const uint16_t*>(op.data) + offset, op.rowStride, op.colStride, mc, kc, mr, dst);
  }
}

void packBAny(const Operand& op, int64_t offset, int64_t kc, int64_t nc, int nr, float* dst) {
  if (op.type == ElemType::F32) {
    packB(static_cast<const float*>(op.data) + offset, op.rowStride, op.colStride, kc, nc, nr, dst);
  } else {
    packB(static_cast<const uint16_t*>(op.data) + offset, op.rowStride, op.colStride, kc, nc, nr, dst);
  }
}

constexpr int kMaxTile = 12 * 32;

}  // namespace

bool sgemm(const KernelSpec& spec, Workspace& ws, const GemmProblem& p) {
  if (p.batch <= 0 || p.m <= 0 || p.n <= 0) return true;
  const int mr = spec.mr, nr = spec.nr;
  const int64_t roundedMc = (spec.mc + mr - 1) / mr * mr;
  const int64_t roundedNc = (spec.nc + nr - 1) / nr * nr;
  if (!reserveFloats(&ws.packA, &ws.packACap, static_cast<size_t>(roundedMc * spec.kc))) return false;
  if (!reserveFloats(&ws.packB, &ws.packBCap, static_cast<size_t>(roundedNc * spec.kc))) return false;
  const bool directC = p.cType == ElemType::F32;
  if (!directC && !reserveFloats(&ws.cTmp, &ws.cTmpCap, static_cast<size_t>(p.m * p.n))) return false;
  alignas(64) float tile[kMaxTile];

  for (int64_t bi = 0; bi < p.batch; ++bi) {
    const int64_t aBatch = bi * p.a.batchStride;
    const int64_t bBatch = bi * p.b.batchStride;
    float* c = directC ? static_cast<float*>(p.c) + bi * p.cBatchStride : ws.cTmp;
    const int64_t ldc = directC ? p.ldc : p.n;

    if (p.k <= 0) {
      for (int64_t i = 0; i < p.m; ++i) std::memset(c + i * ldc, 0, sizeof(float) * p.n);
    }
    for (int64_t jc = 0; jc < p.n && p.k > 0; jc += spec.nc) {
      const int64_t nc = std::min(spec.nc, p.n - jc);
      for (int64_t pc = 0; pc < p.k; pc += spec.kc) {
        const int64_t kc = std::min(spec.kc, p.k - pc);
        const bool accumulate = pc > 0;
        packBAny(p.b, bBatch + pc * p.b.rowStride + jc * p.b.colStride, kc, nc, nr, ws.packB);
        for (int64_t ic = 0; ic < p.m; ic += spec.mc) {
          const int64_t mc = std::min(spec.mc, p.m - ic);
          packAAny(p.a, aBatch + ic * p.a.rowStride + pc * p.a.colStride, mc, kc, mr, ws.packA);
          for (int64_t jr = 0; jr < nc; jr += nr) {
            const int64_t cols = std::min<int64_t>(nr, nc - jr);
            const float* bPanel = ws.packB + jr * kc;
            for (int64_t ir = 0; ir < mc; ir += mr) {
              const int64_t rows = std::min<int64_t>(mr, mc - ir);
              const float* aPanel = ws.packA + ir * kc;
              float* cTile = c + (ic + ir) * ldc + jc + jr;
              if (rows == mr && cols == nr) {
                spec.kernel(kc, aPanel, bPanel, cTile, ldc, accumulate);
                continue;
              }
              // Edge tile: full-size kernel into a local tile, then copy the valid part.
              spec.kernel(kc, aPanel, bPanel, tile, nr, false);
              for (int64_t i = 0; i < rows; ++i) {
                float* dst = cTile + i * ldc;
                const float* src = tile + i * nr;
                if (accumulate) {
                  for (int64_t j = 0; j < cols; ++j) dst[j] += src[j];
                } else {
                  for (int64_t j = 0; j < cols; ++j) dst[j] = src[j];
                }
              }
            }
          }
        }
      }
    }

    if (!directC) {
      uint16_t* out = static_cast<uint16_t*>(p.c) + bi * p.cBatchStride;
      for (int64_t i = 0; i < p.m; ++i) {
        const float* src = ws.cTmp + i * p.n;
        uint16_t* dst = out + i * p.ldc;
        for (int64_t j = 0; j < p.n; ++j) dst[j] = f32ToBf16(src[j]);
      }
    }
  }
  return true;
}

// ---- portable microkernel: 4 x 16 plain loops (the compiler vectorises what it can) ----
namespace {
constexpr int kGenMr = 4, kGenNr = 16;
void genericKernel4x16(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
  float acc[kGenMr][kGenNr] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int i = 0; i < kGenMr; ++i) {
      const float ai = a[i];
      for (int j = 0; j < kGenNr; ++j) acc[i][j] += ai * b[j];
    }
    a += kGenMr;
    b += kGenNr;
  }
  for (int i = 0; i < kGenMr; ++i) {
    float* row = c + i * ldc;
    if (accumulate) {
      for (int j = 0; j < kGenNr; ++j) row[j] += acc[i][j];
    } else {
      for (int j = 0; j < kGenNr; ++j) row[j] = acc[i][j];
    }
  }
}
const KernelSpec kGeneric{"generic", kGenMr, kGenNr, 128, 256, 4096, genericKernel4x16};
}  // namespace

const KernelSpec* genericKernel() { return &kGeneric; }

}  // namespace tpusim
