/**
 * The autodiff API, after JAX: `grad`, `valueAndGrad`, `vjp`, `jvp`, `stopGradient`.
 *
 * Each traces the function (over pytrees of Tensors; non-Tensor leaves are static) into a
 * Program, then runs the program transform with `bind`. Tensors the function closes over
 * are constants of the differentiation (they get no tangent and no cotangent); when they
 * belong to an enclosing trace, the enclosing transform still differentiates through them,
 * which is how derivatives of derivatives work.
 */
import { isFloat } from '../../tpu/dtype.js';
import { shapeToString } from '../../tpu/tensor.js';
import { flattenArgs, flattenResult, type FlatArgs } from '../flat_args.js';
import { type PyTree, type TreeDef, treeMap, treeUnflatten } from '../pytree.js';
import { Tensor, bind1, isTracing, trace } from '../tracer.js';
import { convert, full, zerosLike } from './builders.js';
import { jvpProgram } from './jvp.js';
import type { MaybeTensor } from './rule_types.js';
import { vjpProgram } from './vjp.js';

// The transforms accept functions of any argument types; pytrees of Tensors are what is traced.
type AnyFn = (...args: any[]) => any;

export interface GradOptions {
  /** Which positional argument(s) to differentiate with respect to (default 0). */
  readonly argnums?: number | readonly number[];
  /** The function returns [output, aux]; aux is passed through undifferentiated. */
  readonly hasAux?: boolean;
}

interface Traced {
  readonly outTreedef: TreeDef;
  readonly outTensors: Tensor[];
  readonly aux: unknown;
  /** Cotangents of the differentiated tensor leaves, in order, from the output cotangents. */
  readonly backward: (cts: readonly MaybeTensor[]) => MaybeTensor[];
}

/**
 * Traces fn with the Tensor leaves of `diff` (one FlatArgs per differentiated argument)
 * abstract, evaluates it forward and prepares the backward pass.
 */
function linearize(fn: AnyFn, args: readonly unknown[], argnums: readonly number[], diff: readonly FlatArgs[], what: string, hasAux: boolean): Traced {
  const diffTensors = diff.flatMap((f) => f.tensors);
  let outTreedef: TreeDef | undefined;
  let outCount = 0;
  let auxTreedef: TreeDef | undefined;
  const flatFn = (...traced: Tensor[]): Tensor[] => {
    const newArgs = [...args];
    let k = 0;
    argnums.forEach((argi, j) => {
      const n = diff[j]!.tensors.length;
      newArgs[argi] = rebuild(diff[j]!, traced.slice(k, k + n));
      k += n;
    });
    const result: unknown = fn(...newArgs);
    let out = result;
    let aux: unknown = undefined;
    if (hasAux) {
      if (!Array.isArray(result) || result.length !== 2) {
        throw new TypeError(`${what} with hasAux: the function must return [output, aux]`);
      }
      [out, aux] = result as [unknown, unknown];
    }
    const o = flattenResult(out, what);
    outTreedef = o.treedef;
    outCount = o.tensors.length;
    if (!hasAux) return o.tensors;
    const a = flattenResult(aux, `${what} aux`);
    auxTreedef = a.treedef;
    return [...o.tensors, ...a.tensors];
  };
  const { program, captured } = trace(flatFn, diffTensors.map((t) => t.aval));
  const lin = vjpProgram(
    program,
    [...diffTensors, ...captured],
    [...diffTensors.map(() => true), ...captured.map(() => false)],
  );
  const outTensors = lin.outs.slice(0, outCount);
  const aux = hasAux ? treeUnflatten(auxTreedef!, lin.outs.slice(outCount)) : undefined;
  return {
    outTreedef: outTreedef!,
    outTensors,
    aux,
    backward: (cts) => lin.backward([...cts, ...lin.outs.slice(outCount).map(() => null)]).slice(0, diffTensors.length),
  };
}

function rebuild(flat: FlatArgs, tensors: readonly Tensor[]): unknown {
  const leaves = [...flat.leaves];
  flat.tensorPositions.forEach((p, i) => (leaves[p] = tensors[i]));
  return treeUnflatten(flat.treedef, leaves);
}

/** The cotangent tree of one argument: its Tensor leaves replaced by cotangents (zeros for null), static leaves by null. */
function cotangentTree(flat: FlatArgs, cts: readonly MaybeTensor[]): unknown {
  const leaves: unknown[] = flat.leaves.map(() => null);
  flat.tensorPositions.forEach((p, i) => (leaves[p] = cts[i] ?? zerosLike(flat.tensors[i]!)));
  return treeUnflatten(flat.treedef, leaves);
}

function normalizeArgnums(argnums: number | readonly number[] | undefined, nargs: number, what: string): number[] {
  const list = argnums === undefined ? [0] : typeof argnums === 'number' ? [argnums] : [...argnums];
  for (const a of list) {
    if (!Number.isInteger(a) || a < 0 || a >= nargs) {
      throw new RangeError(`${what}: argnums ${JSON.stringify(argnums)} out of range for ${nargs} positional arguments`);
    }
  }
  return list;
}

function splitCotangents(diff: readonly FlatArgs[], cts: readonly MaybeTensor[]): unknown[] {
  let k = 0;
  return diff.map((f) => {
    const part = cts.slice(k, k + f.tensors.length);
    k += f.tensors.length;
    return cotangentTree(f, part);
  });
}

function valueAndGradImpl(fn: AnyFn, opts: GradOptions, what: string, args: readonly unknown[]): [unknown, unknown] {
  const argnums = normalizeArgnums(opts.argnums, args.length, what);
  const diff = argnums.map((i) => flattenArgs(args[i]));
  diff.forEach((f, j) =>
    f.tensors.forEach((t) => {
      if (!isFloat(t.dtype)) {
        throw new TypeError(
          `${what} requires float inputs, but argument ${argnums[j]} has a ${shapeToString(t.aval)} leaf; ` +
            `differentiate with respect to f32 or bf16 values only`,
        );
      }
    }),
  );
  const lin = linearize(fn, args, argnums, diff, what, opts.hasAux ?? false);
  const out = lin.outTensors[0];
  if (lin.outTreedef.kind !== 'leaf' || !out) {
    throw new TypeError(`${what} requires the function to return a single scalar Tensor`);
  }
  if (out.shape.length !== 0) {
    throw new TypeError(
      `${what} requires a scalar output, but the function returned ${shapeToString(out.aval)}; ` +
        `use vjp for non-scalar outputs, or reduce the output first`,
    );
  }
  if (!isFloat(out.dtype)) {
    throw new TypeError(`${what} requires a float output, but the function returned ${shapeToString(out.aval)}`);
  }
  const grads = splitCotangents(diff, lin.backward([full([], 1, out.dtype)]));
  const g = typeof opts.argnums === 'object' ? grads : grads[0];
  const value = opts.hasAux ? [out, lin.aux] : out;
  return [value, g];
}

function gradOptions(opts: number | readonly number[] | GradOptions | undefined): GradOptions {
  if (opts === undefined) return {};
  if (typeof opts === 'number' || Array.isArray(opts)) return { argnums: opts as number | readonly number[] };
  return opts as GradOptions;
}

/**
 * The gradient of a scalar-valued function with respect to argument `argnums` (a pytree
 * of Tensors; gradients have its structure). With an array of argnums, an array of trees.
 */
export function grad(fn: AnyFn, opts?: number | readonly number[] | GradOptions): (...args: unknown[]) => any {
  const o = gradOptions(opts);
  return (...args) => {
    const [value, g] = valueAndGradImpl(fn, o, 'grad', args);
    return o.hasAux ? [g, (value as unknown[])[1]] : g;
  };
}

/** [value, gradient] (with hasAux: [[value, aux], gradient]), as jax.value_and_grad. */
export function valueAndGrad(fn: AnyFn, opts?: number | readonly number[] | GradOptions): (...args: unknown[]) => [any, any] {
  const o = gradOptions(opts);
  return (...args) => valueAndGradImpl(fn, o, 'valueAndGrad', args);
}

/**
 * [fn(...primals), vjpFn]: vjpFn maps a cotangent with the output's structure to the
 * cotangents of every primal (an array, one tree per primal), as jax.vjp.
 */
export function vjp(fn: AnyFn, ...primals: unknown[]): [any, (ct: unknown) => any[]] {
  const argnums = primals.map((_, i) => i);
  const diff = primals.map((p) => flattenArgs(p));
  const lin = linearize(fn, primals, argnums, diff, 'vjp', false);
  const out = treeUnflatten(lin.outTreedef, lin.outTensors);
  const vjpFn = (ct: unknown): unknown[] => {
    const flat = flattenResult(ct, 'vjp cotangent');
    if (flat.tensors.length !== lin.outTensors.length) {
      throw new TypeError(`vjp: cotangent has ${flat.tensors.length} leaves, the output ${lin.outTensors.length}`);
    }
    const cts = flat.tensors.map((c, i) => {
      const o = lin.outTensors[i]!;
      if (c.shape.length !== o.shape.length || c.shape.some((d, j) => d !== o.shape[j])) {
        throw new TypeError(`vjp: cotangent ${shapeToString(c.aval)} for output ${shapeToString(o.aval)}`);
      }
      return isFloat(o.dtype) ? convert(c, o.dtype) : null;
    });
    return splitCotangents(diff, lin.backward(cts));
  };
  return [out, vjpFn];
}

/**
 * [fn(...primals), tangent of the output] for `tangents` with the primals' structure, as
 * jax.jvp. Tangents must match the primals' shapes and dtypes.
 */
export function jvp(fn: AnyFn, primals: readonly unknown[], tangents: readonly unknown[]): [any, any] {
  if (primals.length !== tangents.length) {
    throw new TypeError(`jvp: ${primals.length} primals but ${tangents.length} tangents`);
  }
  const pf = primals.map((p) => flattenArgs(p));
  const tf = tangents.map((t) => flattenArgs(t));
  pf.forEach((p, i) => {
    const t = tf[i]!;
    if (p.tensors.length !== t.tensors.length) {
      throw new TypeError(`jvp: primal ${i} has ${p.tensors.length} tensor leaves, its tangent ${t.tensors.length}`);
    }
    p.tensors.forEach((x, j) => {
      const dx = t.tensors[j]!;
      if (dx.dtype !== x.dtype || dx.shape.length !== x.shape.length || dx.shape.some((d, k) => d !== x.shape[k])) {
        throw new TypeError(`jvp: tangent ${shapeToString(dx.aval)} for primal ${shapeToString(x.aval)}`);
      }
    });
  });
  const primalTensors = pf.flatMap((p) => p.tensors);
  let outTreedef: TreeDef | undefined;
  const flatFn = (...traced: Tensor[]): Tensor[] => {
    let k = 0;
    const args = pf.map((p) => {
      const n = p.tensors.length;
      const a = rebuild(p, traced.slice(k, k + n));
      k += n;
      return a;
    });
    const o = flattenResult(fn(...args), 'jvp');
    outTreedef = o.treedef;
    return o.tensors;
  };
  const { program, captured } = trace(flatFn, primalTensors.map((t) => t.aval));
  const tangentTensors = tf.flatMap((t) => t.tensors).map((t, i) => (isFloat(primalTensors[i]!.dtype) ? t : null));
  const res = jvpProgram(program, [...primalTensors, ...captured], [...tangentTensors, ...captured.map(() => null)]);
  const tangentsOut = res.tangents.map((t, i) => t ?? zerosLike(res.outs[i]!));
  return [treeUnflatten(outTreedef!, res.outs), treeUnflatten(outTreedef!, tangentsOut)];
}

/**
 * The value of `x` with no derivative flowing through it (jax.lax.stop_gradient). Inside a
 * trace it is recorded as a round trip through the integer bits (bitcast_convert_type is
 * non-differentiable), which is exact and leaves the IR made of primitives only.
 */
export function stopGradient<T extends PyTree<Tensor>>(x: T): T {
  return treeMap((t: Tensor) => {
    if (!isTracing() || t.isConcrete || !isFloat(t.dtype)) return t;
    const wide = convert(t, 'f32');
    const bits = bind1('bitcast_convert_type', [wide], { newDtype: 'i32' });
    return convert(bind1('bitcast_convert_type', [bits], { newDtype: 'f32' }), t.dtype);
  }, x) as T;
}

