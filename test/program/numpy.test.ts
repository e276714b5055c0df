import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as jnp from '../../src/program/numpy.js';
import { Tensor } from '../../src/program/tracer.js';
import { DTypeError } from '../../src/tpu/dtype.js';

const nums = (t: Tensor): number[] => Array.from(t.toNumbers());

/** A deterministic f32 array of `shape` with distinct small values. */
function seq(shape: number[], offset = 0): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return jnp.array(
    Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 1.3 + offset) * 2)),
    { shape, dtype: 'f32' },
  );
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Element of `t` at a broadcast index (right-aligned, size-1 dims stretch). */
function at(t: Tensor, idx: readonly number[]): number {
  const v = t.toNumbers();
  const st = strides(t.shape);
  let off = 0;
  const lead = idx.length - t.ndim;
  for (let i = 0; i < t.ndim; i++) off += (t.shape[i] === 1 ? 0 : idx[lead + i]!) * st[i]!;
  return v[off]!;
}

function* indices(shape: readonly number[]): Generator<number[]> {
  const n = shape.reduce((a, b) => a * b, 1);
  const st = strides(shape);
  for (let f = 0; f < n; f++) yield shape.map((d, i) => Math.floor(f / st[i]!) % d);
}

describe('creation and dtypes', () => {
  it('infers shape and dtype from nested values', () => {
    const a = jnp.array([[1, 2, 3], [4, 5, 6]]);
    expect(a.shape).toEqual([2, 3]);
    expect(a.dtype).toBe('i32');
    expect(jnp.array([0.5, 1]).dtype).toBe('f32');
    expect(jnp.array([true, false]).dtype).toBe('bool');
    expect(() => jnp.array([[1, 2], [3]])).toThrow(/ragged/);
  });

  it('rejects an unknown dtype, naming it', () => {
    expect(() => jnp.zeros([2], 'f64' as never)).toThrow(DTypeError);
    expect(() => jnp.array([1, 2], { dtype: 'int8' as never })).toThrow(/unknown dtype "int8"/);
    expect(() => jnp.astype(jnp.ones([2]), 'float16' as never)).toThrow(/float16/);
  });

  it('arange, linspace, eye, full', () => {
    expect(nums(jnp.arange(5))).toEqual([0, 1, 2, 3, 4]);
    expect(nums(jnp.arange(1, 10, 3))).toEqual([1, 4, 7]);
    expect(nums(jnp.linspace(0, 1, 5))).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(nums(jnp.eye(2, 3, 1))).toEqual([0, 1, 0, 0, 0, 1]);
    expect(nums(jnp.full([2], 7, 'i32'))).toEqual([7, 7]);
  });

  it('JS numbers are weakly typed: they take the tensor dtype', () => {
    const b = jnp.ones([2], 'bf16');
    expect(jnp.add(b, 2).dtype).toBe('bf16');
    expect(jnp.add(jnp.ones([2], 'i32'), 2).dtype).toBe('i32');
    expect(jnp.add(jnp.ones([2], 'i32'), 0.5).dtype).toBe('f32');
    expect(jnp.add(jnp.ones([2], 'i32'), jnp.ones([2], 'bf16')).dtype).toBe('bf16');
    expect(jnp.add(jnp.ones([2], 'bf16'), jnp.ones([2], 'f32')).dtype).toBe('f32');
    expect(jnp.multiply(jnp.asarray(3), jnp.ones([1], 'bf16')).dtype).toBe('bf16');
    expect(jnp.divide(jnp.ones([2], 'i32'), 2).dtype).toBe('f32');
  });
});

describe('broadcasting arithmetic', () => {
  const shapes: [number[], number[]][] = [
    [[3, 1], [1, 4]],
    [[2, 3, 4], [4]],
    [[2, 1, 4], [3, 1]],
    [[], [2, 2]],
  ];
  for (const [sa, sb] of shapes) {
    it(`add/multiply/maximum [${sa}] with [${sb}] match a loop`, () => {
      const a = seq(sa);
      const b = seq(sb, 1);
      const out = jnp.broadcastShapes('test', sa, sb);
      const ops: [(x: Tensor, y: Tensor) => Tensor, (x: number, y: number) => number][] = [
        [jnp.add, (x, y) => x + y],
        [jnp.multiply, (x, y) => x * y],
        [jnp.maximum, Math.max],
        [jnp.subtract, (x, y) => x - y],
      ];
      for (const [op, ref] of ops) {
        const r = op(a, b);
        expect(r.shape).toEqual(out);
        const v = r.toNumbers();
        let f = 0;
        for (const idx of indices(out)) expect(v[f++]).toBeCloseTo(Math.fround(ref(at(a, idx), at(b, idx))), 5);
      }
    });
  }

  it('errors name the op and the shapes', () => {
    expect(() => jnp.add(jnp.ones([2, 3]), jnp.ones([4]))).toThrow(/add: shapes \[2,3\], \[4\] cannot be broadcast/);
    expect(() => jnp.matmul(jnp.ones([2, 3]), jnp.ones([4, 5]))).toThrow(/matmul.*f32\[2,3\].*f32\[4,5\]/);
    expect(() => jnp.bitwiseAnd(jnp.ones([2]), jnp.ones([2]))).toThrow(/and: .*f32\[2\]/);
    expect(() => jnp.reshape(jnp.ones([2, 3]), [4, -1])).toThrow(/reshape.*f32\[2,3\]/);
    expect(() => jnp.sum(jnp.ones([2]), { axis: 3 })).toThrow(/sum: axis 3 is out of bounds/);
  });

  it('where, clip, remainder, floorDivide, round follow numpy', () => {
    const x = jnp.array([-3.5, -1, 0.5, 2.5, 4]);
    expect(nums(jnp.where(jnp.greater(x, 0), x, 0))).toEqual([0, 0, 0.5, 2.5, 4]);
    expect(nums(jnp.clip(x, -1, 3))).toEqual([-1, -1, 0.5, 2.5, 3]);
    expect(nums(jnp.remainder(jnp.array([-7, 7, -7, 7]), jnp.array([3, 3, -3, -3])))).toEqual([2, 1, -1, -2]);
    expect(nums(jnp.floorDivide(jnp.array([-7, 7, -7, 7]), jnp.array([3, 3, -3, -3])))).toEqual([-3, 2, 2, -3]);
    expect(nums(jnp.round(jnp.array([0.5, 1.5, 2.5, -0.5, -1.5, 1.2]))).map((v) => v + 0)).toEqual([0, 2, 2, 0, -2, 1]);
    expect(nums(jnp.power(jnp.array([2, 3]), 3))).toEqual([8, 27]);
  });
});

describe('contractions', () => {
  function refMatmul(a: Tensor, b: Tensor): { shape: number[]; v: number[] } {
    const [m, k] = a.shape.slice(-2) as [number, number];
    const n = b.shape[b.ndim - 1]!;
    const batch = jnp.broadcastShapes('ref', a.shape.slice(0, -2), b.shape.slice(0, -2));
    const v: number[] = [];
    for (const bi of indices(batch)) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let p = 0; p < k; p++) acc += at(a, [...bi, i, p]) * at(b, [...bi, p, j]);
          v.push(acc);
        }
      }
    }
    return { shape: [...batch, m, n], v };
  }

  it('matmul broadcasts batch dims like numpy', () => {
    for (const [sa, sb] of [
      [[3, 4], [4, 5]],
      [[2, 3, 4], [4, 5]],
      [[2, 1, 3, 4], [5, 4, 2]],
      [[1, 3, 4], [2, 4, 2]],
    ] as [number[], number[]][]) {
      const a = seq(sa);
      const b = seq(sb, 2);
      const r = jnp.matmul(a, b);
      const ref = refMatmul(a, b);
      expect(r.shape).toEqual(ref.shape);
      nums(r).forEach((x, i) => expect(x).toBeCloseTo(ref.v[i]!, 4));
    }
  });

  it('matmul with vectors drops the added dims', () => {
    const m = seq([3, 4]);
    expect(jnp.matmul(m, seq([4])).shape).toEqual([3]);
    expect(jnp.matmul(seq([3]), m).shape).toEqual([4]);
    expect(jnp.matmul(seq([4]), seq([4])).shape).toEqual([]);
  });

  /** Generic einsum oracle: loops over every label assignment. */
  function refEinsum(spec: string, ...ops: Tensor[]): { shape: number[]; v: number[] } {
    const [lhs, out] = spec.split('->') as [string, string];
    const ins = lhs.split(',');
    const size = new Map<string, number>();
    ins.forEach((s, k) => [...s].forEach((c, i) => size.set(c, ops[k]!.shape[i]!)));
    const labels = [...size.keys()];
    const outShape = [...out].map((c) => size.get(c)!);
    const res = new Array<number>(outShape.reduce((a, b) => a * b, 1)).fill(0);
    const ost = strides(outShape);
    for (const idx of indices(labels.map((l) => size.get(l)!))) {
      const val = (c: string): number => idx[labels.indexOf(c)]!;
      let prod = 1;
      ins.forEach((s, k) => (prod *= at(ops[k]!, [...s].map(val))));
      let off = 0;
      [...out].forEach((c, i) => (off += val(c) * ost[i]!));
      res[off] = res[off]! + prod;
    }
    return { shape: outShape, v: res };
  }

  const cases: [string, number[][]][] = [
    ['ij,jk->ik', [[3, 4], [4, 2]]],
    ['bij,bjk->bik', [[2, 3, 4], [2, 4, 5]]],
    ['bqhd,bkhd->bhqk', [[2, 3, 2, 4], [2, 5, 2, 4]]],
    ['bhqk,bkhd->bqhd', [[2, 2, 3, 5], [2, 5, 2, 4]]],
    ['bqd,dhk->bqhk', [[2, 3, 4], [4, 2, 3]]],
    ['ii->', [[4, 4]]],
    ['ii->i', [[3, 3]]],
    ['ij->ji', [[2, 3]]],
    ['ij->', [[2, 3]]],
    ['i,j->ij', [[3], [2]]],
    ['ij,jk,kl->il', [[2, 3], [3, 4], [4, 2]]],
    ['abc,cd->bd', [[2, 3, 4], [4, 2]]],
  ];
  for (const [spec, shapes] of cases) {
    it(`einsum '${spec}' matches loops`, () => {
      const ops = shapes.map((s, i) => seq(s, i));
      const r = jnp.einsum(spec, ...ops);
      const ref = refEinsum(spec, ...ops);
      expect(r.shape).toEqual(ref.shape);
      nums(r).forEach((x, i) => expect(x).toBeCloseTo(ref.v[i]!, 4));
    });
  }

  it('einsum supports implicit output and ellipsis', () => {
    const a = seq([2, 3]);
    const b = seq([3, 4], 1);
    expect(nums(jnp.einsum('ij,jk', a, b))).toEqual(nums(jnp.matmul(a, b)));
    const x = seq([2, 5, 3]);
    const y = seq([3, 4], 3);
    const r = jnp.einsum('...i,ij->...j', x, y);
    expect(r.shape).toEqual([2, 5, 4]);
    nums(r).forEach((v, i) => expect(v).toBeCloseTo(nums(jnp.matmul(x, y))[i]!, 5));
    expect(() => jnp.einsum('ij,jk->ik', seq([2, 3]), seq([4, 2]))).toThrow(/einsum: subscript 'j' has sizes 3 and 4/);
  });
});

describe('reductions', () => {
  const x = seq([2, 3, 4]);
  const v = nums(x);
  it('sum/mean/max over axes with keepdims', () => {
    const s = jnp.sum(x, { axis: [0, 2], keepdims: true });
    expect(s.shape).toEqual([1, 3, 1]);
    for (let j = 0; j < 3; j++) {
      let acc = 0;
      for (let i = 0; i < 2; i++) for (let k = 0; k < 4; k++) acc += v[i * 12 + j * 4 + k]!;
      expect(nums(s)[j]).toBeCloseTo(acc, 5);
    }
    expect(jnp.mean(x).item()).toBeCloseTo(v.reduce((a, b) => a + b) / 24, 5);
    expect(jnp.max(x, { axis: -1 }).shape).toEqual([2, 3]);
    expect(nums(jnp.max(x, { axis: -1 }))[0]).toBeCloseTo(Math.max(...v.slice(0, 4)), 6);
  });

  it('var, std, argmax, cumsum, logsumexp', () => {
    const m = v.reduce((a, b) => a + b) / 24;
    const variance = v.reduce((a, b) => a + (b - m) ** 2, 0) / 24;
    expect(jnp.variance(x).item()).toBeCloseTo(variance, 5);
    expect(jnp.var(x, { axis: [0, 1, 2] }).item()).toBeCloseTo(variance, 5);
    expect(jnp.std(x, { ddof: 1 }).item()).toBeCloseTo(Math.sqrt((variance * 24) / 23), 5);
    expect(nums(jnp.argmax(jnp.array([[1, 5, 5], [7, 0, 2]]), 1))).toEqual([1, 0]);
    expect(jnp.argmax(jnp.array([[1, 5], [7, 0]])).item()).toBe(2);
    expect(nums(jnp.cumsum(jnp.array([1, 2, 3, 4])))).toEqual([1, 3, 6, 10]);
    const big = jnp.array([1000, 1000]);
    expect(jnp.logsumexp(big).item()).toBeCloseTo(1000 + Math.log(2), 3);
    expect(jnp.sum(jnp.array([true, true, false])).item()).toBe(2);
  });
});

describe('shape and indexing', () => {
  const x = seq([2, 3, 4]);
  it('reshape with -1, transpose, swapaxes, expandDims, squeeze', () => {
    expect(jnp.reshape(x, [-1, 4]).shape).toEqual([6, 4]);
    const t = jnp.transpose(x, [2, 0, 1]);
    expect(t.shape).toEqual([4, 2, 3]);
    expect(at(t, [3, 1, 2])).toBe(at(x, [1, 2, 3]));
    expect(jnp.swapaxes(x, 0, -1).shape).toEqual([4, 3, 2]);
    expect(jnp.expandDims(x, [0, -1]).shape).toEqual([1, 2, 3, 4, 1]);
    expect(jnp.squeeze(jnp.ones([1, 3, 1])).shape).toEqual([3]);
  });

  it('concatenate, stack, split round-trip', () => {
    const parts = jnp.split(x, [1, 3], 2);
    expect(parts.map((p) => p.shape)).toEqual([[2, 3, 1], [2, 3, 2], [2, 3, 1]]);
    expect(nums(jnp.concatenate(parts, -1))).toEqual(nums(x));
    const st = jnp.stack([x, x], 1);
    expect(st.shape).toEqual([2, 2, 3, 4]);
    expect(nums(jnp.index(st, jnp.s(), 1))).toEqual(nums(x));
  });

  it('basic indexing matches numpy', () => {
    const r = jnp.index(x, 1, jnp.s(null, null, -1), null, jnp.s(1, null, 2));
    expect(r.shape).toEqual([3, 1, 2]);
    for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) expect(at(r, [j, 0, k])).toBe(at(x, [1, 2 - j, 1 + 2 * k]));
    expect(jnp.index(x, '...', 0).shape).toEqual([2, 3]);
    expect(() => jnp.index(x, 5)).toThrow(/index: index 5 is out of bounds for dim 0 of .*f32\[2,3,4\]/);
  });

  it('take and takeAlongAxis gather like numpy', () => {
    const r = jnp.take(x, jnp.array([[2, 0], [1, -1]]), 1);
    expect(r.shape).toEqual([2, 2, 2, 4]);
    expect(at(r, [1, 1, 1, 3])).toBe(at(x, [1, 2, 3]));
    expect(at(r, [0, 0, 0, 2])).toBe(at(x, [0, 2, 2]));
    const idx = jnp.array([[[3], [0], [1]], [[2], [2], [0]]]);
    const g = jnp.takeAlongAxis(x, idx, 2);
    expect(g.shape).toEqual([2, 3, 1]);
    expect(at(g, [1, 0, 0])).toBe(at(x, [1, 0, 2]));
  });

  it('at(...).set/add place values functionally', () => {
    const z = jnp.zeros([3, 5]);
    const r = jnp.at(z, 1, jnp.s(0, null, 2)).set(jnp.array([1, 2, 3]));
    expect(nums(r)).toEqual([0, 0, 0, 0, 0, 1, 0, 2, 0, 3, 0, 0, 0, 0, 0]);
    const q = jnp.at(z, jnp.s(null, null, -2), 4).add(1);
    expect(nums(q)).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    const h = jnp.at(jnp.zeros([4]), jnp.array([1, 3, 1])).add(jnp.array([1, 2, 3]));
    expect(nums(h)).toEqual([0, 4, 0, 2]);
  });

  it('dynamicSlice clamps starts like XLA; oneHot', () => {
    const a = jnp.arange(6);
    expect(nums(jnp.dynamicSlice(a, [4], [3]))).toEqual([3, 4, 5]);
    expect(nums(jnp.dynamicUpdateSlice(a, jnp.array([9, 9]), [1]))).toEqual([0, 9, 9, 3, 4, 5]);
    expect(nums(jnp.oneHot(jnp.array([0, 2, 5]), 3))).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0]);
  });

  it('sort, argsort and topK', () => {
    const a = jnp.array([3, 1, 2, 1]);
    expect(nums(jnp.sort(a))).toEqual([1, 1, 2, 3]);
    expect(nums(jnp.argsort(a))).toEqual([1, 3, 2, 0]);
    const [vals, idx] = jnp.topK(jnp.array([0.1, 0.9, 0.5, 0.7]), 2);
    expect(nums(vals).map((v) => Math.round(v * 10))).toEqual([9, 7]);
    expect(nums(idx)).toEqual([1, 3]);
  });

  it('property: reshape then ravel is the identity on elements', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), (a, b, c) => {
        const t = seq([a, b, c]);
        expect(nums(jnp.ravel(jnp.reshape(t, [c, -1])))).toEqual(nums(t));
        expect(nums(jnp.transpose(jnp.transpose(t)))).toEqual(nums(t));
      }),
      { numRuns: 20 },
    );
  });
});
