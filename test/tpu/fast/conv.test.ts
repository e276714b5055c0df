import { describe, expect, it } from 'vitest';
import type { DType } from '../../../src/tpu/dtype.js';
import { makeConvGeneralDilated } from '../../../src/tpu/fast/conv.js';
import type { PrimitiveParams } from '../../../src/tpu/ops.js';
import { BACKENDS } from './backends.js';
import { absTensor, outputsFor, randomTensor, reference, rng, untouched, worstError } from './helpers.js';

type ConvParams = PrimitiveParams['conv_general_dilated'];

const NHWC = { lhsSpec: [0, 3, 1, 2], rhsSpec: [3, 2, 0, 1], outSpec: [0, 3, 1, 2] }; // HWIO kernel
const NCHW = { lhsSpec: [0, 1, 2, 3], rhsSpec: [0, 1, 2, 3], outSpec: [0, 1, 2, 3] }; // OIHW kernel

function conv2d(dn: ConvParams['dimensionNumbers'], extra: Partial<ConvParams> = {}): ConvParams {
  return {
    windowStrides: [1, 1],
    padding: [[0, 0], [0, 0]],
    lhsDilation: [1, 1],
    rhsDilation: [1, 1],
    dimensionNumbers: dn,
    featureGroupCount: 1,
    batchGroupCount: 1,
    ...extra,
  };
}

interface ConvCase {
  readonly name: string;
  readonly lhs: readonly number[];
  readonly rhs: readonly number[];
  readonly params: ConvParams;
}

const CASES: ConvCase[] = [
  { name: 'NHWC/HWIO 3x3 valid', lhs: [2, 9, 8, 5], rhs: [3, 3, 5, 7], params: conv2d(NHWC) },
  {
    name: 'NHWC/HWIO strided, same padding',
    lhs: [1, 11, 10, 6],
    rhs: [3, 3, 6, 9],
    params: conv2d(NHWC, { windowStrides: [2, 2], padding: [[1, 1], [1, 1]] }),
  },
  {
    name: 'NHWC/HWIO rhs dilation, uneven padding',
    lhs: [2, 10, 9, 3],
    rhs: [2, 3, 3, 4],
    params: conv2d(NHWC, { rhsDilation: [2, 2], padding: [[2, 0], [0, 1]] }),
  },
  {
    name: 'NHWC/HWIO lhs dilation (transposed conv)',
    lhs: [1, 5, 4, 3],
    rhs: [3, 3, 3, 2],
    params: conv2d(NHWC, { lhsDilation: [2, 2], padding: [[2, 2], [1, 1]] }),
  },
  {
    name: 'NCHW/OIHW (kernel gathered, output scattered)',
    lhs: [2, 4, 7, 6],
    rhs: [5, 4, 3, 2],
    params: conv2d(NCHW, { windowStrides: [1, 2], padding: [[1, 1], [0, 0]] }),
  },
  {
    name: '1-D NWC/WIO, 40 in-features',
    lhs: [3, 20, 40],
    rhs: [5, 40, 6],
    params: {
      windowStrides: [1],
      padding: [[2, 2]],
      lhsDilation: [1],
      rhsDilation: [1],
      dimensionNumbers: { lhsSpec: [0, 2, 1], rhsSpec: [2, 1, 0], outSpec: [0, 2, 1] },
      featureGroupCount: 1,
      batchGroupCount: 1,
    },
  },
  {
    name: '3-D NDHWC/DHWIO',
    lhs: [1, 4, 5, 4, 2],
    rhs: [2, 2, 3, 2, 3],
    params: {
      windowStrides: [1, 1, 1],
      padding: [[0, 0], [1, 1], [0, 0]],
      lhsDilation: [1, 1, 1],
      rhsDilation: [1, 1, 1],
      dimensionNumbers: { lhsSpec: [0, 4, 1, 2, 3], rhsSpec: [4, 3, 0, 1, 2], outSpec: [0, 4, 1, 2, 3] },
      featureGroupCount: 1,
      batchGroupCount: 1,
    },
  },
];

const DTYPES: { readonly input: DType; readonly out?: DType }[] = [{ input: 'f32' }, { input: 'bf16' }, { input: 'bf16', out: 'f32' }];

describe.each(BACKENDS)('conv_general_dilated fast path on $label', ({ backend }) => {
  const conv = makeConvGeneralDilated(backend);
  for (const dt of DTYPES) {
    it.each(CASES)(`$name, ${dt.input} -> ${dt.out ?? dt.input}, matches the reference`, (c) => {
      const next = rng(c.lhs.reduce((a, b) => a * 17 + b, 3));
      const params: ConvParams = dt.out ? { ...c.params, preferredElementType: dt.out } : c.params;
      const lhs = randomTensor(dt.input, c.lhs, next);
      const rhs = randomTensor(dt.input, c.rhs, next);
      const out = outputsFor('conv_general_dilated', [lhs, rhs], params);
      expect(conv([lhs, rhs], out, params)).toBe(true);
      const ref = reference('conv_general_dilated', [lhs, rhs], params)[0]!;
      const absSum = reference('conv_general_dilated', [absTensor(lhs), absTensor(rhs)], params)[0]!;
      const { rhsSpec } = params.dimensionNumbers;
      let terms = c.rhs[rhsSpec[1]!]!;
      for (const d of rhsSpec.slice(2)) terms *= c.rhs[d]!;
      expect(worstError(out[0]!, ref, absSum, terms)).toBeLessThanOrEqual(1);
    });
  }

  it('declines grouped convolutions, writing nothing', () => {
    const next = rng(3);
    const params = conv2d(NHWC, { featureGroupCount: 2 });
    const lhs = randomTensor('f32', [1, 5, 5, 4], next);
    const rhs = randomTensor('f32', [3, 3, 2, 6], next);
    const out = outputsFor('conv_general_dilated', [lhs, rhs], params);
    expect(conv([lhs, rhs], out, params)).toBe(false);
    expect(untouched(out[0]!)).toBe(true);
  });
});
