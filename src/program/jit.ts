/**
 * `jit(fn)`: trace a function of pytrees into a Program once per input signature, then run
 * the program.
 *
 * - The cache key is the argument tree structure, the shape and dtype of every Tensor leaf,
 *   and the value of every other leaf (numbers, strings, booleans are static arguments, as
 *   with jax.jit's static_argnums; objects and functions count by identity).
 * - Called eagerly, the program runs on a device with the single-device interpreter, so it
 *   is priced by the cost model. Called inside another trace (grad, vmap-free nesting,
 *   another jit), it is inlined into that trace.
 * - A trace that captures tensors of an enclosing trace (fn closes over a tracer) belongs to
 *   that trace and is not cached.
 */
import { checkDType } from '../tpu/dtype.js';
import { shapeToString } from '../tpu/tensor.js';
import { type Device, defaultDevice } from './device.js';
import { type DumpOptions, dumpProgram } from './dump.js';
import { type FlatArgs, flattenArgs, flattenResult, rebuildArgs } from './flat_args.js';
import { interpret } from './interpreter.js';
import type { Program } from './ir.js';
import { type TreeDef, treeDefToString, treeUnflatten } from './pytree.js';
import { Tensor, evalProgram, isTracing, trace } from './tracer.js';

/**
 * Options of jit. The sharded path (layer 4, GSPMD) extends this with in/out shardings; the
 * single-device path reads only these.
 */
export interface JitOptions {
  /** Where eager calls run (default: defaultDevice()). */
  readonly device?: Device;
  /** The computation's name in dumps. */
  readonly name?: string;
}

interface Compiled {
  readonly program: Program;
  readonly outTreedef: TreeDef;
  /** Outer tensors the program reads as extra inputs (empty for a cacheable trace). */
  readonly captured: readonly Tensor[];
}

// The traced function may take and return any pytrees of Tensors and static values.
type AnyFn = (...args: any[]) => any;

export interface Jitted<F extends AnyFn> {
  (...args: Parameters<F>): ReturnType<F>;
  /** The program for these arguments (traced, or from the cache). */
  lower(...args: Parameters<F>): Program;
  /** The program for these arguments as HLO-like text. */
  asText(...args: Parameters<F>): string;
  /** Number of cached traces (one per distinct input signature). */
  readonly cacheSize: number;
  clearCache(): void;
}

const objectIds = new WeakMap<object, number>();
let nextObjectId = 0;

function staticKey(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  switch (typeof x) {
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof x}:${String(x)}`;
    case 'string':
      return `string:${JSON.stringify(x)}`;
    case 'object':
    case 'function': {
      let id = objectIds.get(x);
      if (id === undefined) {
        id = nextObjectId++;
        objectIds.set(x, id);
      }
      return `ref:${id}`;
    }
    default:
      return `${typeof x}:${String(x)}`;
  }
}

function signature(flat: FlatArgs): string {
  const leaves = flat.leaves.map((l) => {
    if (l instanceof Tensor) {
      checkDType(l.dtype, `dtype of a jit argument ${shapeToString(l.aval)}`);
      return shapeToString(l.aval);
    }
    return staticKey(l);
  });
  return `${treeDefToString(flat.treedef)}|${leaves.join(';')}`;
}

export function jit<F extends AnyFn>(fn: F, opts: JitOptions = {}): Jitted<F> {
  const cache = new Map<string, Compiled>();

  const compile = (flat: FlatArgs): Compiled => {
    const key = signature(flat);
    const hit = cache.get(key);
    if (hit) return hit;
    let outTreedef: TreeDef | undefined;
    const { program, captured } = trace(
      (...traced: Tensor[]) => {
        const args = rebuildArgs(flat, traced) as unknown[];
        const out = flattenResult(fn(...args), `jit(${opts.name ?? (fn.name || 'fn')})`);
        outTreedef = out.treedef;
        return out.tensors;
      },
      flat.tensors.map((t) => t.aval),
    );
    const compiled: Compiled = { program, outTreedef: outTreedef!, captured };
    if (captured.length === 0) cache.set(key, compiled);
    return compiled;
  };

  const call = (...args: unknown[]): unknown => {
    const flat = flattenArgs(args);
    const { program, outTreedef, captured } = compile(flat);
    let outs: Tensor[];
    if (isTracing()) {
      outs = evalProgram(program, [...flat.tensors, ...captured]);
    } else {
      const device = opts.device ?? defaultDevice();
      const views = flat.tensors.map((t) => t.value());
      outs = interpret(program, views, device.core).map(Tensor.concrete);
    }
    return treeUnflatten(outTreedef, outs);
  };

  const jitted = call as unknown as Jitted<F>;
  Object.defineProperties(jitted, {
    lower: { value: (...args: unknown[]) => compile(flattenArgs(args)).program },
    asText: {
      value: (...args: unknown[]) => {
        const dumpOpts: DumpOptions = { name: opts.name ?? (fn.name || 'main') };
        return dumpProgram(compile(flattenArgs(args)).program, dumpOpts);
      },
    },
    cacheSize: { get: () => cache.size },
    clearCache: { value: () => cache.clear() },
  });
  return jitted;
}
