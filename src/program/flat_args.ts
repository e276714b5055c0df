/**
 * Flattening the arguments of a transformed function: a pytree whose Tensor leaves are
 * traced and whose other leaves (numbers, strings, booleans) are static, kept as they are.
 */
import { type PyTree, type TreeDef, treeFlatten, treeUnflatten } from './pytree.js';
import { Tensor } from './tracer.js';

export interface FlatArgs {
  readonly treedef: TreeDef;
  /** Every leaf, in order. */
  readonly leaves: readonly unknown[];
  /** The positions in `leaves` of the Tensor leaves. */
  readonly tensorPositions: readonly number[];
  readonly tensors: readonly Tensor[];
}

export const isTensor = (x: unknown): x is Tensor => x instanceof Tensor;

export function flattenArgs(tree: unknown): FlatArgs {
  const { leaves, treedef } = treeFlatten(tree as PyTree<unknown>, isTensor);
  const tensorPositions: number[] = [];
  const tensors: Tensor[] = [];
  leaves.forEach((l, i) => {
    if (isTensor(l)) {
      tensorPositions.push(i);
      tensors.push(l);
    }
  });
  return { treedef, leaves, tensorPositions, tensors };
}

/** The tree with its Tensor leaves replaced by `tensors` (in order), static leaves kept. */
export function rebuildArgs(flat: FlatArgs, tensors: readonly Tensor[]): unknown {
  if (tensors.length !== flat.tensors.length) {
    throw new Error(`rebuildArgs: ${tensors.length} tensors for ${flat.tensors.length} tensor leaves`);
  }
  const leaves = [...flat.leaves];
  flat.tensorPositions.forEach((p, i) => (leaves[p] = tensors[i]));
  return treeUnflatten(flat.treedef, leaves);
}

/** The Tensor leaves of a function's result; any other leaf is an error naming `what`. */
export function flattenResult(tree: unknown, what: string): { treedef: TreeDef; tensors: Tensor[] } {
  const { leaves, treedef } = treeFlatten(tree as PyTree<unknown>, isTensor);
  leaves.forEach((l, i) => {
    if (!isTensor(l)) {
      throw new TypeError(`${what}: output leaf ${i} is ${typeof l} ${JSON.stringify(l)}, not a Tensor`);
    }
  });
  return { treedef, tensors: leaves as Tensor[] };
}
