// A size-k min-heap per row whose root is the worst kept element: a candidate only costs one
// comparison against the root unless it belongs in the top k, so a row costs O(n + m log k)
// for m replacements.
#include "topk.h"

namespace tpusim {
namespace {

inline float widen(float v) { return v; }
inline float widen(uint16_t v) { return bf16ToF32(v); }

// True when (va, ia) ranks above (vb, ib).
inline bool better(float va, int32_t ia, float vb, int32_t ib) {
  const bool na = va != va, nb = vb != vb;
  if (na || nb) return na && (!nb || ia < ib);
  return va > vb || (va == vb && ia < ib);
}

// Restores the heap property below `i` (root = worst).
void siftDown(float* v, int32_t* idx, int64_t size, int64_t i) {
  const float cv = v[i];
  const int32_t ci = idx[i];
  for (;;) {
    int64_t child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && better(v[child], idx[child], v[child + 1], idx[child + 1])) ++child;
    if (!better(cv, ci, v[child], idx[child])) break;
    v[i] = v[child];
    idx[i] = idx[child];
    i = child;
  }
  v[i] = cv;
  idx[i] = ci;
}

template <typename T>
void topKRows(const T* x, T* values, int32_t* indices, int64_t rows, int64_t n, int64_t k, float* hv, int32_t* hi) {
  for (int64_t row = 0; row < rows; ++row) {
    const T* src = x + row * n;
    for (int64_t i = 0; i < k; ++i) {
      hv[i] = widen(src[i]);
      hi[i] = static_cast<int32_t>(i);
    }
    for (int64_t i = k / 2; i-- > 0;) siftDown(hv, hi, k, i);
    for (int64_t i = k; i < n; ++i) {
      const float v = widen(src[i]);
      if (better(v, static_cast<int32_t>(i), hv[0], hi[0])) {
        hv[0] = v;
        hi[0] = static_cast<int32_t>(i);
        siftDown(hv, hi, k, 0);
      }
    }
    // Pop the worst into the last slot until the heap is empty: descending order.
    T* outV = values + row * k;
    int32_t* outI = indices + row * k;
    for (int64_t size = k; size > 0; --size) {
      const int32_t worst = hi[0];
      outI[size - 1] = worst;
      outV[size - 1] = src[worst];
      hv[0] = hv[size - 1];
      hi[0] = hi[size - 1];
      siftDown(hv, hi, size - 1, 0);
    }
  }
}

}  // namespace

bool topK(const void* x, ElemType type, void* values, int32_t* indices, int64_t rows, int64_t n, int64_t k,
          TopKScratch& scratch) {
  if (k < 0 || k > n || n > INT32_MAX) return false;
  if (k == 0 || rows == 0) return true;
  if (scratch.value.size() < static_cast<size_t>(k)) {
    scratch.value.resize(static_cast<size_t>(k));
    scratch.index.resize(static_cast<size_t>(k));
  }
  if (type == ElemType::F32) {
    topKRows(static_cast<const float*>(x), static_cast<float*>(values), indices, rows, n, k, scratch.value.data(),
             scratch.index.data());
  } else {
    topKRows(static_cast<const uint16_t*>(x), static_cast<uint16_t*>(values), indices, rows, n, k,
             scratch.value.data(), scratch.index.data());
  }
  return true;
}

}  // namespace tpusim
