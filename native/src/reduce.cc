// Max/min propagate NaN (XLA's semantics): `acc = (x > acc || x != x) ? x : acc` keeps a NaN
// once seen, since every comparison with it is false. Signed zeros order as IEEE maximum /
// minimum do (max(-0, +0) = +0, min = -0), matching the reference's Math.max / Math.min.
#include "reduce.h"

#include <cmath>
#include <limits>

namespace tpusim {
namespace {

inline float widen(float v) { return v; }
inline float widen(uint16_t v) { return bf16ToF32(v); }

struct SumOp {
  static float identity() { return 0.0f; }
  static float apply(float acc, float x) { return acc + x; }
};
struct MaxOp {
  static float identity() { return -std::numeric_limits<float>::infinity(); }
  static float apply(float acc, float x) { return (x > acc || x != x || (x == acc && std::signbit(acc))) ? x : acc; }
};
struct MinOp {
  static float identity() { return std::numeric_limits<float>::infinity(); }
  static float apply(float acc, float x) { return (x < acc || x != x || (x == acc && std::signbit(x))) ? x : acc; }
};

inline void store(void* out, ElemType t, int64_t i, float v) {
  if (t == ElemType::F32) {
    static_cast<float*>(out)[i] = v;
  } else {
    static_cast<uint16_t*>(out)[i] = f32ToBf16(v);
  }
}

// inner == 1: each output is one contiguous row; 8 independent lanes let the compiler vectorise.
template <typename Op, typename T>
void reduceRows(const T* x, void* out, ElemType outType, int64_t outer, int64_t r) {
  constexpr int kLanes = 8;
  for (int64_t o = 0; o < outer; ++o) {
    const T* row = x + o * r;
    float lane[kLanes];
    for (int l = 0; l < kLanes; ++l) lane[l] = Op::identity();
    int64_t i = 0;
    for (; i + kLanes <= r; i += kLanes) {
      for (int l = 0; l < kLanes; ++l) lane[l] = Op::apply(lane[l], widen(row[i + l]));
    }
    float acc = Op::identity();
    for (int l = 0; l < kLanes; ++l) acc = Op::apply(acc, lane[l]);
    for (; i < r; ++i) acc = Op::apply(acc, widen(row[i]));
    store(out, outType, o, acc);
  }
}

// inner > 1: accumulate whole rows of length `inner` into an f32 scratch row.
template <typename Op, typename T>
void reduceColumns(const T* x, void* out, ElemType outType, int64_t outer, int64_t r, int64_t inner, float* acc) {
  for (int64_t o = 0; o < outer; ++o) {
    const T* block = x + o * r * inner;
    for (int64_t j = 0; j < inner; ++j) acc[j] = Op::identity();
    for (int64_t i = 0; i < r; ++i) {
      const T* row = block + i * inner;
      for (int64_t j = 0; j < inner; ++j) acc[j] = Op::apply(acc[j], widen(row[j]));
    }
    for (int64_t j = 0; j < inner; ++j) store(out, outType, o * inner + j, acc[j]);
  }
}

template <typename Op, typename T>
bool run(const T* x, void* out, ElemType outType, int64_t outer, int64_t r, int64_t inner, Workspace& ws) {
  if (inner == 1) {
    reduceRows<Op>(x, out, outType, outer, r);
    return true;
  }
  if (!reserveFloats(&ws.cTmp, &ws.cTmpCap, static_cast<size_t>(inner))) return false;
  reduceColumns<Op>(x, out, outType, outer, r, inner, ws.cTmp);
  return true;
}

template <typename T>
bool dispatchOp(ReduceOp op, const T* x, void* out, ElemType outType, int64_t outer, int64_t r, int64_t inner,
                Workspace& ws) {
  switch (op) {
    case ReduceOp::Sum:
      return run<SumOp>(x, out, outType, outer, r, inner, ws);
    case ReduceOp::Max:
      return run<MaxOp>(x, out, outType, outer, r, inner, ws);
    case ReduceOp::Min:
      return run<MinOp>(x, out, outType, outer, r, inner, ws);
  }
  return false;
}

}  // namespace

bool reduce(ReduceOp op, const void* x, ElemType xType, void* out, ElemType outType, int64_t outer, int64_t r,
            int64_t inner, Workspace& ws) {
  if (xType == ElemType::F32) return dispatchOp(op, static_cast<const float*>(x), out, outType, outer, r, inner, ws);
  return dispatchOp(op, static_cast<const uint16_t*>(x), out, outType, outer, r, inner, ws);
}

}  // namespace tpusim
