/** Contractions: jnp.matmul (batched, numpy batch broadcasting), dot, tensordot, outer, einsum. */
import type { DType } from '../../tpu/dtype.js';
import type { Tensor } from '../tracer.js';
import * as lax from '../lax.js';
import { type ArrayLike, asTensorOf, resultType } from './dtypes.js';
import { broadcastShapes, broadcastTo, normalizeAxis } from './axes.js';
import { multiply } from './elementwise.js';
import { reshape, transpose } from './shape.js';

export interface ContractOptions {
  /** The result dtype (e.g. f32 from bf16 operands, the MXU's native form). */
  readonly preferredElementType?: DType;
}

function promoted(op: string, xs: readonly ArrayLike[]): Tensor[] {
  const dtype = resultType(...xs);
  const ts = xs.map((x) => asTensorOf(x, dtype));
  for (const t of ts) if (t.ndim === 0 && op === 'matmul') throw new RangeError(`matmul: operands must not be scalars, got ${ts.join(' @ ')}`);
  return ts;
}

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

/**
 * jnp.matmul: 1-D operands are promoted to matrices and the added dim removed; leading
 * batch dims broadcast as in numpy.
 */
export function matmul(a: ArrayLike, b: ArrayLike, options: ContractOptions = {}): Tensor {
  let [x, y] = promoted('matmul', [a, b]) as [Tensor, Tensor];
  const shapes = `${x} @ ${y}`;
  const xVec = x.ndim === 1;
  const yVec = y.ndim === 1;
  if (xVec) x = reshape(x, [1, x.shape[0]!]);
  if (yVec) y = reshape(y, [y.shape[0]!, 1]);
  const k = x.shape[x.ndim - 1]!;
  if (y.shape[y.ndim - 2] !== k) {
    throw new RangeError(`matmul: contracting dims differ (${k} vs ${y.shape[y.ndim - 2]}) in ${shapes}`);
  }
  let out: Tensor;
  if (y.ndim === 2) {
    // [..., m, k] @ [k, n]: one dot_general without materialising a broadcast of y.
    out = lax.dotGeneral(x, y, { contractingDims: [[x.ndim - 1], [0]] }, options.preferredElementType);
  } else {
    const batch = broadcastShapes('matmul', x.shape.slice(0, -2), y.shape.slice(0, -2));
    const nb = batch.length;
    x = broadcastTo(x, [...batch, ...x.shape.slice(-2)], 'matmul');
    y = broadcastTo(y, [...batch, ...y.shape.slice(-2)], 'matmul');
    out = lax.dotGeneral(
      x,
      y,
      { contractingDims: [[nb + 1], [nb]], batchDims: [range(nb), range(nb)] },
      options.preferredElementType,
    );
  }
  if (xVec && yVec) return reshape(out, out.shape.slice(0, -2));
  if (xVec) return reshape(out, [...out.shape.slice(0, -2), out.shape[out.ndim - 1]!]);
  if (yVec) return reshape(out, out.shape.slice(0, -1));
  return out;
}

/** jnp.dot: scalars multiply; otherwise contracts the last dim of a with the second-to-last of b (or its only dim). */
export function dot(a: ArrayLike, b: ArrayLike, options: ContractOptions = {}): Tensor {
  const [x, y] = promoted('dot', [a, b]) as [Tensor, Tensor];
  if (x.ndim === 0 || y.ndim === 0) return multiply(x, y);
  const ca = x.ndim - 1;
  const cb = Math.max(y.ndim - 2, 0);
  if (x.shape[ca] !== y.shape[cb]) throw new RangeError(`dot: contracting dims differ: ${x} . ${y}`);
  return lax.dotGeneral(x, y, { contractingDims: [[ca], [cb]] }, options.preferredElementType);
}

/** jnp.tensordot: `axes` = n (last n of a with first n of b) or explicit [axesA, axesB]. */
export function tensordot(
  a: ArrayLike,
  b: ArrayLike,
  axes: number | readonly [readonly number[], readonly number[]] = 2,
  options: ContractOptions = {},
): Tensor {
  const [x, y] = promoted('tensordot', [a, b]) as [Tensor, Tensor];
  const [ax, ay] =
    typeof axes === 'number'
      ? [range(axes, x.ndim - axes), range(axes)]
      : [axes[0].map((d) => normalizeAxis('tensordot', d, x.ndim)), axes[1].map((d) => normalizeAxis('tensordot', d, y.ndim))];
  if (ax.length !== ay.length || ax.some((d, i) => x.shape[d] !== y.shape[ay[i]!])) {
    throw new RangeError(`tensordot: axes [${ax}] of ${x} and [${ay}] of ${y} do not match`);
  }
  return lax.dotGeneral(x, y, { contractingDims: [ax, ay] }, options.preferredElementType);
}

/** jnp.outer of the flattened operands. */
export function outer(a: ArrayLike, b: ArrayLike): Tensor {
  const [x, y] = promoted('outer', [a, b]) as [Tensor, Tensor];
  return lax.dotGeneral(reshape(x, [-1]), reshape(y, [-1]), { contractingDims: [[], []] });
}

// ---- einsum ---------------------------------------------------------------------------------

interface Term {
  t: Tensor;
  labels: string[];
}

/** Labels standing for ellipsis dims: code points no user subscript uses. */
const ellipsisLabel = (i: number): string => String.fromCharCode(0x100 + i);

function parseEinsum(spec: string, shapes: readonly (readonly number[])[]): { inputs: string[][]; output: string[] } {
  const s = spec.replace(/\s+/g, '');
  const [lhs, rhs] = s.split('->') as [string, string | undefined];
  const parts = lhs.split(',');
  if (parts.length !== shapes.length) {
    throw new RangeError(`einsum: '${spec}' names ${parts.length} operands but ${shapes.length} were given`);
  }
  let ellipsisRank = 0;
  const explicit = parts.map((p, i) => {
    const [before, after, extra] = p.split('...');
    if (extra !== undefined) throw new RangeError(`einsum: more than one ellipsis in '${p}'`);
    const named = [...(before ?? ''), ...(after ?? '')];
    for (const c of named) if (!/[a-zA-Z]/.test(c)) throw new RangeError(`einsum: invalid subscript '${c}' in '${spec}'`);
    const rank = shapes[i]!.length;
    const nEllipsis = after === undefined ? 0 : rank - named.length;
    if (nEllipsis < 0 || (after === undefined && named.length !== rank)) {
      throw new RangeError(`einsum: subscripts '${p}' do not match operand ${i} of shape [${shapes[i]!.join(',')}]`);
    }
    ellipsisRank = Math.max(ellipsisRank, nEllipsis);
    return { before: [...(before ?? '')], after: after === undefined ? null : [...after], nEllipsis };
  });
  const inputs = explicit.map(({ before, after, nEllipsis }) => {
    if (after === null) return before;
    const ell = range(nEllipsis, ellipsisRank - nEllipsis).map(ellipsisLabel);
    return [...before, ...ell, ...after];
  });
  const allEllipsis = range(ellipsisRank).map(ellipsisLabel);
  let output: string[];
  if (rhs === undefined) {
    const counts = new Map<string, number>();
    for (const l of inputs.flat()) counts.set(l, (counts.get(l) ?? 0) + 1);
    const single = [...counts].filter(([l, n]) => n === 1 && l.charCodeAt(0) < 0x100).map(([l]) => l).sort();
    output = [...allEllipsis, ...single];
  } else {
    const [before, after, extra] = rhs.split('...');
    if (extra !== undefined) throw new RangeError(`einsum: more than one ellipsis in output '${rhs}'`);
    output = after === undefined ? [...(before ?? '')] : [...(before ?? ''), ...allEllipsis, ...after];
    const known = new Set(inputs.flat());
    for (const l of output) if (!known.has(l)) throw new RangeError(`einsum: output subscript '${l}' of '${spec}' is not in any input`);
    if (new Set(output).size !== output.length) throw new RangeError(`einsum: repeated output subscript in '${spec}'`);
  }
  return { inputs, output };
}

/** Takes the diagonal over repeated labels of one operand ('ii->i'). */
function takeDiagonals(term: Term): Term {
  let { t, labels } = term;
  for (;;) {
    const j = labels.findIndex((l, k) => labels.indexOf(l) !== k);
    if (j < 0) return { t, labels };
    const i = labels.indexOf(labels[j]!);
    if (t.shape[i] !== t.shape[j]) throw new RangeError(`einsum: repeated subscript '${labels[i]}' on dims of sizes ${t.shape[i]} and ${t.shape[j]}`);
    const n = t.shape[i]!;
    const eq = lax.eq(lax.iota('i32', [n, n], 0), lax.iota('i32', [n, n], 1));
    const mask = lax.broadcastInDim(eq, t.shape, [i, j]);
    const zero = lax.broadcastInDim(asTensorOf(0, t.dtype), t.shape, []);
    t = lax.reduceSum(lax.select(mask, t, zero), [j]);
    labels = labels.filter((_, k) => k !== j);
  }
}

function sumOut(term: Term, keep: (l: string) => boolean): Term {
  const axes = term.labels.flatMap((l, i) => (keep(l) ? [] : [i]));
  if (axes.length === 0) return term;
  return { t: lax.reduceSum(term.t, axes), labels: term.labels.filter((l) => keep(l)) };
}

function contractPair(a: Term, b: Term, needed: ReadonlySet<string>, options: ContractOptions): Term {
  const inB = new Set(b.labels);
  const inA = new Set(a.labels);
  a = sumOut(a, (l) => inB.has(l) || needed.has(l));
  b = sumOut(b, (l) => inA.has(l) || needed.has(l));
  const shared = a.labels.filter((l) => inB.has(l));
  const batch = shared.filter((l) => needed.has(l));
  const contract = shared.filter((l) => !needed.has(l));
  const t = lax.dotGeneral(
    a.t,
    b.t,
    {
      contractingDims: [contract.map((l) => a.labels.indexOf(l)), contract.map((l) => b.labels.indexOf(l))],
      batchDims: [batch.map((l) => a.labels.indexOf(l)), batch.map((l) => b.labels.indexOf(l))],
    },
    options.preferredElementType,
  );
  const labels = [...batch, ...a.labels.filter((l) => !inB.has(l)), ...b.labels.filter((l) => !inA.has(l))];
  return { t, labels };
}

/**
 * jnp.einsum: contracts operands left to right with dot_general (traces and diagonals by
 * masking, lone labels summed first), then transposes to the output order. Supports
 * implicit output, '...' (right-aligned, size-1 dims broadcast) and any number of operands.
 */
export function einsum(subscripts: string, ...args: (ArrayLike | ContractOptions)[]): Tensor {
  const last = args[args.length - 1];
  const options: ContractOptions =
    last !== undefined && typeof last === 'object' && !('shape' in last) ? (args.pop() as ContractOptions) : {};
  const operands = args as ArrayLike[];
  if (operands.length === 0) throw new RangeError('einsum: needs at least one operand');
  const dtype = resultType(...operands);
  const tensors = operands.map((x) => asTensorOf(x, dtype));
  const { inputs, output } = parseEinsum(subscripts, tensors.map((t) => t.shape));

  // Each label's size; size-1 dims stretch (numpy broadcasting of ellipsis dims).
  const sizes = new Map<string, number>();
  inputs.forEach((labels, k) =>
    labels.forEach((l, i) => {
      const d = tensors[k]!.shape[i]!;
      const prev = sizes.get(l);
      if (prev === undefined || prev === 1) sizes.set(l, d);
      else if (d !== 1 && d !== prev) {
        throw new RangeError(
          `einsum: subscript '${l}' has sizes ${prev} and ${d} in '${subscripts}' (operands: ${tensors.map(String).join(', ')})`,
        );
      }
    }),
  );
  let terms: Term[] = tensors.map((t, k) => {
    const labels = inputs[k]!;
    const shape = labels.map((l) => sizes.get(l)!);
    const full = shape.some((d, i) => d !== t.shape[i]) ? broadcastTo(t, shape, 'einsum') : t;
    return takeDiagonals({ t: full, labels });
  });

  let acc = terms[0]!;
  terms = terms.slice(1);
  while (terms.length > 0) {
    const next = terms.shift()!;
    const needed = new Set([...output, ...terms.flatMap((t) => t.labels)]);
    acc = contractPair(acc, next, needed, options);
  }
  acc = sumOut(acc, (l) => output.includes(l));
  let result = transpose(acc.t, output.map((l) => acc.labels.indexOf(l)));
  if (options.preferredElementType && result.dtype !== options.preferredElementType) {
    result = lax.convertElementType(result, options.preferredElementType);
  }
  return result;
}
