// N-API surface of the fast kernels. Every entry takes typed arrays (usually views into a
// core's SharedArrayBuffer arena, read in place) plus a Float64Array descriptor the JS side
// reuses, checks every index it will touch against the arrays' lengths, and returns false
// (having written nothing) when it cannot run the case.
#include <node_api.h>

#include <cstdint>
#include <cstring>
#include <new>

#include "gemm.h"
#include "im2col.h"
#include "partial_reduce.h"
#include "reduce.h"
#include "topk.h"

namespace tpusim {
namespace {

struct Instance {
  const KernelSpec* spec = nullptr;
  Workspace ws;
  TopKScratch topk;
};

// A SIMD kernel is trusted only after it matches the portable one on a small problem with
// edge tiles in every direction and two kc blocks: a kernel that cannot be exercised on the
// build host (AVX-512 on an AVX2 machine) never silently serves wrong numbers.
bool agreesWithGeneric(const KernelSpec& spec) {
  constexpr int64_t m = 29, n = 45, k = 700;
  static float a[m * k], b[k * n], want[m * n], got[m * n];
  for (int64_t i = 0; i < m * k; ++i) a[i] = static_cast<float>((i * 7919) % 23) / 23.0f - 0.5f;
  for (int64_t i = 0; i < k * n; ++i) b[i] = static_cast<float>((i * 104729) % 19) / 19.0f - 0.5f;
  GemmProblem p{1, m, n, k, {a, ElemType::F32, 0, k, 1}, {b, ElemType::F32, 0, n, 1}, want, ElemType::F32, n, 0};
  Workspace ws;
  if (!sgemm(*genericKernel(), ws, p)) return false;
  p.c = got;
  if (!sgemm(spec, ws, p)) return false;
  for (int64_t i = 0; i < m * n; ++i) {
    const float diff = want[i] > got[i] ? want[i] - got[i] : got[i] - want[i];
    if (!(diff <= 1e-3f)) return false;  // |terms| <= 0.25, k = 700: f32 reorderings stay far below
  }
  return true;
}

// Best kernel for this CPU: by CPUID, confirmed by agreesWithGeneric (once per process).
const KernelSpec* bestKernel() {
  static const KernelSpec* best = [] {
#if TPUSIM_X86
    __builtin_cpu_init();
    if (avx512Kernel() != nullptr && __builtin_cpu_supports("avx512f") && agreesWithGeneric(*avx512Kernel())) {
      return avx512Kernel();
    }
    if (avx2Kernel() != nullptr && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        agreesWithGeneric(*avx2Kernel())) {
      return avx2Kernel();
    }
#endif
    return genericKernel();
  }();
  return best;
}

struct Array {
  void* data = nullptr;
  size_t length = 0;
  napi_typedarray_type type = napi_int8_array;
};

bool getArray(napi_env env, napi_value v, Array* out) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_value buffer;
  size_t offset;
  return napi_get_typedarray_info(env, v, &out->type, &out->length, &out->data, &buffer, &offset) == napi_ok;
}

bool elemType(const Array& a, ElemType* t) {
  if (a.type == napi_float32_array) {
    *t = ElemType::F32;
    return true;
  }
  if (a.type == napi_uint16_array) {
    *t = ElemType::BF16;
    return true;
  }
  return false;
}

// The descriptor: a Float64Array of at least `count` integral values.
bool getDesc(napi_env env, napi_value v, size_t count, int64_t* out) {
  Array a;
  if (!getArray(env, v, &a) || a.type != napi_float64_array || a.length < count) return false;
  const double* d = static_cast<const double*>(a.data);
  for (size_t i = 0; i < count; ++i) {
    if (!(d[i] >= -9.0e15 && d[i] <= 9.0e15)) return false;
    out[i] = static_cast<int64_t>(d[i]);
  }
  return true;
}

napi_value boolean(napi_env env, bool b) {
  napi_value r;
  napi_get_boolean(env, b, &r);
  return r;
}

Instance* instance(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<Instance*>(data);
}

// True when every offset base + sum(i_d * stride_d), 0 <= i_d < size_d, lies in [0, length).
bool inBounds(size_t length, int64_t base, const int64_t* sizes, const int64_t* strides, int rank) {
  int64_t lo = base, hi = base;
  for (int d = 0; d < rank; ++d) {
    if (sizes[d] <= 0) return true;  // nothing is touched
    const int64_t span = (sizes[d] - 1) * strides[d];
    if (span < 0) lo += span; else hi += span;
  }
  return lo >= 0 && hi < static_cast<int64_t>(length);
}

// gemm(a, b, c, desc): desc = [batch, m, n, k, aOff, aBatch, aRow, aCol, bOff, bBatch, bRow, bCol,
//                              cOff, cBatch, ldc]; a/b Float32Array or Uint16Array (bf16 bits).
napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Array a, b, c;
  int64_t d[15];
  GemmProblem p;
  if (argc < 4 || !getArray(env, argv[0], &a) || !getArray(env, argv[1], &b) || !getArray(env, argv[2], &c) ||
      !getDesc(env, argv[3], 15, d) || !elemType(a, &p.a.type) || !elemType(b, &p.b.type) || !elemType(c, &p.cType)) {
    return boolean(env, false);
  }
  p.batch = d[0];
  p.m = d[1];
  p.n = d[2];
  p.k = d[3];
  p.a.batchStride = d[5];
  p.a.rowStride = d[6];
  p.a.colStride = d[7];
  p.b.batchStride = d[9];
  p.b.rowStride = d[10];
  p.b.colStride = d[11];
  p.cBatchStride = d[13];
  p.ldc = d[14];
  const int64_t aSizes[3] = {p.batch, p.m, p.k}, aStrides[3] = {p.a.batchStride, p.a.rowStride, p.a.colStride};
  const int64_t bSizes[3] = {p.batch, p.k, p.n}, bStrides[3] = {p.b.batchStride, p.b.rowStride, p.b.colStride};
  const int64_t cSizes[3] = {p.batch, p.m, p.n}, cStrides[3] = {p.cBatchStride, p.ldc, 1};
  if (p.batch < 0 || p.m < 0 || p.n < 0 || p.k < 0 || !inBounds(a.length, d[4], aSizes, aStrides, 3) ||
      !inBounds(b.length, d[8], bSizes, bStrides, 3) || !inBounds(c.length, d[12], cSizes, cStrides, 3)) {
    return boolean(env, false);
  }
  const size_t aItem = p.a.type == ElemType::F32 ? 4 : 2, bItem = p.b.type == ElemType::F32 ? 4 : 2,
               cItem = p.cType == ElemType::F32 ? 4 : 2;
  p.a.data = static_cast<const char*>(a.data) + d[4] * aItem;
  p.b.data = static_cast<const char*>(b.data) + d[8] * bItem;
  p.c = static_cast<char*>(c.data) + d[12] * cItem;
  Instance* inst = instance(env);
  return boolean(env, sgemm(*inst->spec, inst->ws, p));
}

// reduce(op, x, out, desc): op 0 sum, 1 max, 2 min; desc = [outer, r, inner].
napi_value Reduce(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t op = -1;
  Array x, out;
  int64_t d[3];
  ElemType xt, ot;
  if (argc < 4 || napi_get_value_int32(env, argv[0], &op) != napi_ok || op < 0 || op > 2 ||
      !getArray(env, argv[1], &x) || !getArray(env, argv[2], &out) || !getDesc(env, argv[3], 3, d) ||
      !elemType(x, &xt) || !elemType(out, &ot)) {
    return boolean(env, false);
  }
  const int64_t outer = d[0], r = d[1], inner = d[2];
  if (outer < 0 || r < 0 || inner < 0 || static_cast<int64_t>(x.length) != outer * r * inner ||
      static_cast<int64_t>(out.length) != outer * inner) {
    return boolean(env, false);
  }
  return boolean(env, reduce(static_cast<ReduceOp>(op), x.data, xt, out.data, ot, outer, r, inner, instance(env)->ws));
}

// topK(x, values, indices, desc): desc = [rows, n, k]; values share x's type, indices Int32Array.
napi_value TopK(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Array x, values, indices;
  int64_t d[3];
  ElemType xt, vt;
  if (argc < 4 || !getArray(env, argv[0], &x) || !getArray(env, argv[1], &values) ||
      !getArray(env, argv[2], &indices) || !getDesc(env, argv[3], 3, d) || !elemType(x, &xt) ||
      !elemType(values, &vt) || xt != vt || indices.type != napi_int32_array) {
    return boolean(env, false);
  }
  const int64_t rows = d[0], n = d[1], k = d[2];
  if (rows < 0 || n < 0 || k < 0 || static_cast<int64_t>(x.length) != rows * n ||
      static_cast<int64_t>(values.length) != rows * k || static_cast<int64_t>(indices.length) != rows * k) {
    return boolean(env, false);
  }
  Instance* inst = instance(env);
  return boolean(env, topK(x.data, xt, values.data, static_cast<int32_t*>(indices.data), rows, n, k, inst->topk));
}

// partialReduce(x, best, at, desc): desc = [offset, n, bins]; the row x[offset, offset + n)
// (Float32Array) into best (Float32Array) and at (Int32Array), each of at least `bins`.
napi_value PartialReduce(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Array x, best, at;
  int64_t d[3];
  if (argc < 4 || !getArray(env, argv[0], &x) || !getArray(env, argv[1], &best) || !getArray(env, argv[2], &at) ||
      !getDesc(env, argv[3], 3, d) || x.type != napi_float32_array || best.type != napi_float32_array ||
      at.type != napi_int32_array) {
    return boolean(env, false);
  }
  const int64_t offset = d[0], n = d[1], bins = d[2];
  if (offset < 0 || n < 0 || bins <= 0 || offset + n > static_cast<int64_t>(x.length) ||
      bins > static_cast<int64_t>(best.length) || bins > static_cast<int64_t>(at.length) || n > INT32_MAX) {
    return boolean(env, false);
  }
  partialReduce(static_cast<const float*>(x.data) + offset, n, bins, static_cast<float*>(best.data),
                static_cast<int32_t*>(at.data));
  return boolean(env, true);
}

// im2col(x, patches, desc): desc = [batch, feat, spatial, batchStride, featStride, then per
// spatial dim: inSize, inStride, kernelSize, outSize, windowStride, padLow, lhsDilation, rhsDilation].
napi_value Im2col(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Array x, p;
  ElemType xt;
  int64_t d[5 + 8 * kMaxSpatial];
  if (argc < 3 || !getArray(env, argv[0], &x) || !getArray(env, argv[1], &p) || !elemType(x, &xt) ||
      p.type != napi_float32_array || !getDesc(env, argv[2], 5, d) || d[2] < 0 || d[2] > kMaxSpatial ||
      !getDesc(env, argv[2], static_cast<size_t>(5 + 8 * d[2]), d)) {
    return boolean(env, false);
  }
  Im2colGeometry g;
  g.batch = d[0];
  g.feat = d[1];
  g.spatial = d[2];
  g.batchStride = d[3];
  g.featStride = d[4];
  int64_t rows = g.batch, taps = 1;
  int64_t sizes[2 + kMaxSpatial] = {g.batch, g.feat}, strides[2 + kMaxSpatial] = {g.batchStride, g.featStride};
  for (int s = 0; s < g.spatial; ++s) {
    const int64_t* e = d + 5 + 8 * s;
    g.inSize[s] = e[0];
    g.inStride[s] = e[1];
    g.kernelSize[s] = e[2];
    g.outSize[s] = e[3];
    g.windowStride[s] = e[4];
    g.padLow[s] = e[5];
    g.lhsDilation[s] = e[6];
    g.rhsDilation[s] = e[7];
    if (e[0] < 0 || e[1] < 0 || e[2] < 0 || e[3] < 0 || e[4] < 1 || e[6] < 1 || e[7] < 1) return boolean(env, false);
    sizes[2 + s] = e[0];
    strides[2 + s] = e[1];
    rows *= e[3];
    taps *= e[2];
  }
  if (g.batch < 0 || g.feat < 0 || g.batchStride < 0 || g.featStride < 0 ||
      static_cast<int64_t>(p.length) < rows * taps * g.feat ||
      !inBounds(x.length, 0, sizes, strides, static_cast<int>(2 + g.spatial))) {
    return boolean(env, false);
  }
  im2col(x.data, xt, g, static_cast<float*>(p.data));
  return boolean(env, true);
}

// isa(): the microkernel in use: "avx512" | "avx2" | "generic".
napi_value Isa(napi_env env, napi_callback_info) {
  napi_value r;
  napi_create_string_utf8(env, instance(env)->spec->name, NAPI_AUTO_LENGTH, &r);
  return r;
}

// setIsa(name): selects a microkernel this CPU supports; false (and no change) otherwise.
napi_value SetIsa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  char name[16] = {0};
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    return boolean(env, false);
  }
  const KernelSpec* best = bestKernel();
  const KernelSpec* want = nullptr;
  if (std::strcmp(name, "generic") == 0) {
    want = genericKernel();
  } else if (std::strcmp(name, "avx2") == 0 && best != genericKernel() && avx2Kernel() != nullptr) {
    want = avx2Kernel();
  } else if (std::strcmp(name, "avx512") == 0 && best == avx512Kernel()) {
    want = avx512Kernel();
  }
  if (want == nullptr) return boolean(env, false);
  instance(env)->spec = want;
  return boolean(env, true);
}

void deleteInstance(napi_env, void* data, void*) { delete static_cast<Instance*>(data); }

}  // namespace
}  // namespace tpusim

NAPI_MODULE_INIT() {
  using namespace tpusim;
  Instance* inst = new (std::nothrow) Instance();
  if (inst == nullptr) return nullptr;
  inst->spec = bestKernel();
  napi_set_instance_data(env, inst, deleteInstance, nullptr);
  const napi_property_descriptor props[] = {
      {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"reduce", nullptr, Reduce, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"topK", nullptr, TopK, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"im2col", nullptr, Im2col, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"partialReduce", nullptr, PartialReduce, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"isa", nullptr, Isa, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setIsa", nullptr, SetIsa, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
