import { describe, expect, it } from 'vitest';
import { UsageError, applySets, parseMesh, progressBar, resultText, toJson } from '../../src/cli/format.js';

describe('CLI helpers', () => {
  it('applies --set pairs: JSON values, strings otherwise, dotted keys nest', () => {
    expect(applySets({ m: 1 }, ['m=128', 'dtype=bf16', 'flag=true', 'axes=["data"]', 'opt.lr=0.1', 'name=a=b'])).toEqual({
      m: 128,
      dtype: 'bf16',
      flag: true,
      axes: ['data'],
      opt: { lr: 0.1 },
      name: 'a=b',
    });
    expect(() => applySets({}, ['novalue'])).toThrow(UsageError);
    expect(() => applySets({}, ['=1'])).toThrow(UsageError);
    expect(() => applySets({}, ['__proto__.polluted=1'])).toThrow(UsageError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('parses meshes and rejects bad ones', () => {
    expect(parseMesh('data=4,model=2')).toEqual({ data: 4, model: 2 });
    for (const bad of ['data', 'data=0', 'data=x', 'data=2,data=2', '']) expect(() => parseMesh(bad), bad).toThrow(UsageError);
  });

  it('draws a progress bar', () => {
    expect(progressBar(0, 4, 8)).toBe('[........] 0/4   0%');
    expect(progressBar(2, 4, 8)).toBe('[####....] 2/4  50%');
    expect(progressBar(4, 4, 8)).toBe('[########] 4/4 100%');
  });

  it('prints typed arrays and bigints as JSON numbers, and long arrays summarized', () => {
    expect(toJson({ a: new Float32Array([1, 2]), b: 3n }, 0)).toBe('{"a":[1,2],"b":3}');
    expect(resultText({ xs: Array.from({ length: 20 }, (_, i) => i), mfu: 0.123456 })).toBe('xs: [0, 1, 2, 3, 4, 5, 6, 7, … 20 items]\nmfu: 0.1235');
  });
});

describe('resultText: values too long for a line', () => {
  it('leaves records that do not fit on a line to --json', () => {
    const batches = Array.from({ length: 3 }, (_, i) => ({ batch: i, recall: 0.99, detail: 'x'.repeat(100) }));
    const text = resultText({ recall: 0.99, batches, bound: { score: 'mxu' } });
    expect(text).toContain('batches: 3 items (--json shows it)');
    expect(text).toContain('bound: {"score":"mxu"}');
    expect(text).toContain('recall: 0.99');
  });
});
