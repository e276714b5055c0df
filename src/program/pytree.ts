/**
 * Pytrees: nested plain objects and arrays whose leaves are arrays (or any non-container
 * value). Models, parameters and optimizer states are pytrees, as in JAX.
 * Object keys are visited in sorted order, so two trees with the same keys flatten alike
 * whatever order their keys were written in (jax sorts dict keys the same way).
 */
export type PyTree<L> = L | readonly PyTree<L>[] | { readonly [key: string]: PyTree<L> };

/** The structure of a pytree without its leaves: enough to rebuild it and to compare two trees. */
export type TreeDef =
  | { readonly kind: 'leaf' }
  | { readonly kind: 'none' }
  | { readonly kind: 'array'; readonly children: readonly TreeDef[] }
  | { readonly kind: 'object'; readonly keys: readonly string[]; readonly children: readonly TreeDef[] };

function isContainer(x: unknown): x is readonly unknown[] | Record<string, unknown> {
  if (Array.isArray(x)) return true;
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

export function treeFlatten<L>(tree: PyTree<L>, isLeaf?: (x: unknown) => boolean): { leaves: L[]; treedef: TreeDef } {
  const leaves: L[] = [];
  const walk = (x: unknown): TreeDef => {
    if (x === null || x === undefined) return { kind: 'none' };
    if (isLeaf?.(x) || !isContainer(x)) {
      leaves.push(x as L);
      return { kind: 'leaf' };
    }
    if (Array.isArray(x)) return { kind: 'array', children: x.map(walk) };
    const obj = x as Record<string, unknown>;
    const keys = Object.keys(obj).sort();
    return { kind: 'object', keys, children: keys.map((k) => walk(obj[k])) };
  };
  const treedef = walk(tree);
  return { leaves, treedef };
}

export function treeUnflatten<L>(treedef: TreeDef, leaves: readonly L[]): PyTree<L> {
  let i = 0;
  const build = (d: TreeDef): unknown => {
    switch (d.kind) {
      case 'leaf':
        if (i >= leaves.length) throw new Error('treeUnflatten: too few leaves for the tree structure');
        return leaves[i++];
      case 'none':
        return null;
      case 'array':
        return d.children.map(build);
      case 'object': {
        const out: Record<string, unknown> = {};
        d.keys.forEach((k, j) => (out[k] = build(d.children[j]!)));
        return out;
      }
    }
  };
  const tree = build(treedef);
  if (i !== leaves.length) throw new Error(`treeUnflatten: ${leaves.length} leaves for a tree of ${i}`);
  return tree as PyTree<L>;
}

export function treeLeaves<L>(tree: PyTree<L>, isLeaf?: (x: unknown) => boolean): L[] {
  return treeFlatten(tree, isLeaf).leaves;
}

/** Applies `f` to every leaf of `tree` and of the trees in `rest` (which must share its structure). */
export function treeMap<L, R>(
  f: (leaf: L, ...others: L[]) => R,
  tree: PyTree<L>,
  ...rest: PyTree<L>[]
): PyTree<R> {
  const { leaves, treedef } = treeFlatten(tree);
  const others = rest.map((t) => {
    const flat = treeFlatten(t);
    if (!treeDefEqual(flat.treedef, treedef)) {
      throw new Error(`treeMap: tree structures differ: ${treeDefToString(treedef)} vs ${treeDefToString(flat.treedef)}`);
    }
    return flat.leaves;
  });
  return treeUnflatten(
    treedef,
    leaves.map((l, i) => f(l, ...others.map((o) => o[i]!))),
  );
}

export function treeDefEqual(a: TreeDef, b: TreeDef): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'array' && b.kind === 'array') {
    return a.children.length === b.children.length && a.children.every((c, i) => treeDefEqual(c, b.children[i]!));
  }
  if (a.kind === 'object' && b.kind === 'object') {
    return (
      a.keys.length === b.keys.length &&
      a.keys.every((k, i) => k === b.keys[i]) &&
      a.children.every((c, i) => treeDefEqual(c, b.children[i]!))
    );
  }
  return true;
}

export function treeDefToString(d: TreeDef): string {
  switch (d.kind) {
    case 'leaf':
      return '*';
    case 'none':
      return 'None';
    case 'array':
      return `[${d.children.map(treeDefToString).join(', ')}]`;
    case 'object':
      return `{${d.keys.map((k, i) => `${k}: ${treeDefToString(d.children[i]!)}`).join(', ')}}`;
  }
}
