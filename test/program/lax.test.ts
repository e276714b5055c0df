import { describe, expect, it } from 'vitest';
import * as lax from '../../src/program/lax.js';
import * as jnp from '../../src/program/numpy.js';
import { PRIMITIVES } from '../../src/tpu/ops.js';

/** The lax wrapper of each primitive: its camelCase name, except where jax.lax names it otherwise. */
const RENAMED: Record<string, string> = {
  not: 'bitwiseNot',
  and: 'bitwiseAnd',
  or: 'bitwiseOr',
  xor: 'bitwiseXor',
  reduce_window_sum: 'reduceWindowSum',
  reduce_window_max: 'reduceWindowMax',
  reduce_window_min: 'reduceWindowMin',
};
const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

describe('lax', () => {
  it('has a wrapper for every primitive', () => {
    const missing = PRIMITIVES.filter((p) => typeof (lax as Record<string, unknown>)[RENAMED[p] ?? camel(p)] !== 'function');
    expect(missing).toEqual([]);
  });

  it("padtypeToPads follows lax: 'SAME' puts the odd pad high", () => {
    expect(lax.padtypeToPads([5, 6], [3, 2], [2, 2], 'SAME')).toEqual([[1, 1], [0, 0]]);
    expect(lax.padtypeToPads([4], [3], [1], 'SAME')).toEqual([[1, 1]]);
    expect(lax.padtypeToPads([4], [2], [1], 'SAME')).toEqual([[0, 1]]);
    expect(lax.padtypeToPads([4], [2], [1], 'VALID')).toEqual([[0, 0]]);
  });

  it('conv dimension strings map as lax.conv_dimension_numbers does', () => {
    expect(lax.convDimensionNumbers(4, ['NHWC', 'HWIO', 'NHWC'])).toEqual({ lhsSpec: [0, 3, 1, 2], rhsSpec: [3, 2, 0, 1], outSpec: [0, 3, 1, 2] });
    expect(lax.convDimensionNumbers(4, ['NCHW', 'OIHW', 'NCHW'])).toEqual({ lhsSpec: [0, 1, 2, 3], rhsSpec: [0, 1, 2, 3], outSpec: [0, 1, 2, 3] });
  });

  it('conv (NCHW/OIHW) matches a direct loop', () => {
    const x = jnp.reshape(jnp.astype(jnp.arange(2 * 2 * 4 * 4), 'f32'), [2, 2, 4, 4]);
    const w = jnp.reshape(jnp.astype(jnp.arange(3 * 2 * 3 * 3), 'f32'), [3, 2, 3, 3]);
    const y = lax.conv(x, w, [1, 1], 'SAME');
    expect(y.shape).toEqual([2, 3, 4, 4]);
    const xv = x.toNumbers();
    const wv = w.toNumbers();
    const yv = y.toNumbers();
    for (let n = 0; n < 2; n++)
      for (let o = 0; o < 3; o++)
        for (let i = 0; i < 4; i++)
          for (let j = 0; j < 4; j++) {
            let acc = 0;
            for (let c = 0; c < 2; c++)
              for (let di = 0; di < 3; di++)
                for (let dj = 0; dj < 3; dj++) {
                  const ii = i + di - 1;
                  const jj = j + dj - 1;
                  if (ii < 0 || ii >= 4 || jj < 0 || jj >= 4) continue;
                  acc += xv[((n * 2 + c) * 4 + ii) * 4 + jj]! * wv[((o * 2 + c) * 3 + di) * 3 + dj]!;
                }
            expect(yv[((n * 3 + o) * 4 + i) * 4 + j]).toBe(acc);
          }
  });

  it('primitive errors name the op and the operand shapes', () => {
    expect(() => lax.add(jnp.ones([2]), jnp.ones([3]))).toThrow(/add: .*f32\[2\].*f32\[3\]/);
    expect(() => lax.dotGeneral(jnp.ones([2, 3]), jnp.ones([4, 5]), { contractingDims: [[1], [0]] })).toThrow(/dot_general: .*f32\[2,3\], f32\[4,5\]/);
  });
});
