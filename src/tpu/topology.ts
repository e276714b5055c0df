/**
 * Slices, named the way Cloud TPU names them: an accelerator type (`v4-32`, `v5litepod-16`,
 * `v6e-64`) or a generation plus chip dims (`v4:2x2x4`, `v5e:4x4`).
 *
 * For v2, v3, v4 and v5p the accelerator-type suffix counts TensorCores (`v3-8` = 4 chips);
 * for v5e and v6e it counts chips (REFERENCES.md, "Naming").
 *
 * Default shapes for a size (Cloud TPU docs' tables for each generation):
 * - 2D (v2, v3, v5e, v6e): a power-of-two chip count, as square as possible with the longer
 *   dim last: 1 -> 1x1, 4 -> 2x2, 8 -> 2x4, 16 -> 4x4, 128 -> 8x16, 256 -> 16x16.
 * - 3D (v4, v5p): below a cube, 4 -> 2x2x1, 8 -> 2x2x2, 16 -> 2x2x4, 32 -> 2x4x4; from a
 *   cube up, whole 4x4x4 cubes arranged as close to a cube as possible, dims ascending
 *   (64 -> 4x4x4, 128 -> 4x4x8, 512 -> 8x8x8, 6144 -> 16x16x24).
 *
 * Chip coordinates put dim 0 fastest; core id = chip index x cores per chip + core on chip,
 * so the cores of one chip are adjacent ids (as JAX numbers TPU devices).
 */
import { type ChipSpec, GENERATIONS, UnknownGenerationError, chipSpec } from './chips.js';

export interface CoreLocation {
  /** Core id in the slice, 0..numCores-1. */
  readonly coreId: number;
  /** The chip's index in the slice (dim 0 fastest). */
  readonly chipIndex: number;
  /** The chip's torus coordinates, one per dim. */
  readonly chipCoords: readonly number[];
  /** Which TensorCore of its chip, 0..coresPerChip-1. */
  readonly coreOnChip: number;
}

export interface Topology {
  /** The name as given, normalised: `v4-32` or `v4:2x2x4`. */
  readonly name: string;
  readonly chip: ChipSpec;
  /** Chip grid, one entry per torus dim. */
  readonly dims: readonly number[];
  /** Whether each dim has a wraparound link (see ChipSpec.wraparound). */
  readonly wraparound: readonly boolean[];
  readonly numChips: number;
  readonly numCores: number;
  /** Core id -> where it is. */
  readonly cores: readonly CoreLocation[];
}

export class TopologyError extends Error {
  override name = 'TopologyError';
}

const SUB_CUBE_SHAPES: ReadonlyMap<number, readonly number[]> = new Map([
  [4, [2, 2, 1]],
  [8, [2, 2, 2]],
  [16, [2, 2, 4]],
  [32, [2, 4, 4]],
]);

const CUBE_SIDE = 4;
const CUBE_CHIPS = CUBE_SIDE ** 3;

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** 2D default shape for a power-of-two chip count. */
function default2D(chips: number): number[] | undefined {
  if (!isPowerOfTwo(chips)) return undefined;
  const log = Math.log2(chips);
  return [2 ** Math.floor(log / 2), 2 ** Math.ceil(log / 2)];
}

/** 3D default shape: a sub-cube shape, or whole cubes a x b x c (a <= b <= c) minimising the longest side. */
function default3D(chips: number): number[] | undefined {
  const sub = SUB_CUBE_SHAPES.get(chips);
  if (sub) return [...sub];
  if (chips % CUBE_CHIPS !== 0) return undefined;
  const cubes = chips / CUBE_CHIPS;
  let best: number[] | undefined;
  for (let a = 1; a * a * a <= cubes; a++) {
    if (cubes % a !== 0) continue;
    for (let b = a; a * b * b <= cubes; b++) {
      if ((cubes / a) % b !== 0) continue;
      const c = cubes / a / b;
      if (!best || c < best[2]!) best = [a, b, c];
    }
  }
  return best?.map((d) => d * CUBE_SIDE);
}

function validSizesHint(chip: ChipSpec): string {
  const unit = chip.sizeCounts === 'cores' ? 'TensorCores' : 'chips';
  const perChip = chip.sizeCounts === 'cores' ? chip.coresPerChip : 1;
  const chipsList =
    chip.torusRank === 3 ? `4, 8, 16, 32 or a multiple of ${CUBE_CHIPS} chips` : 'a power of two of chips';
  return `${chip.generation} sizes count ${unit} (${perChip} per chip); valid sizes are ${chipsList}`;
}

function wraparoundOf(chip: ChipSpec, dims: readonly number[]): boolean[] {
  if (chip.wraparound === 'full-cube') {
    const fullCubes = dims.every((d) => d % CUBE_SIDE === 0);
    return dims.map(() => fullCubes);
  }
  return dims.map((d, i) => d === chip.maxSliceDims[i]);
}

function buildTopology(name: string, chip: ChipSpec, dims: readonly number[]): Topology {
  let numChips = 1;
  for (const d of dims) numChips *= d;
  if (numChips > chip.maxSliceChips) {
    throw new TopologyError(
      `${name}: ${numChips} chips exceeds the largest ${chip.generation} slice (${chip.maxSliceDims.join('x')} = ${chip.maxSliceChips} chips)`,
    );
  }
  const sortedDims = [...dims].sort((a, b) => a - b);
  const sortedMax = [...chip.maxSliceDims].sort((a, b) => a - b);
  if (sortedDims.some((d, i) => d > sortedMax[i]!)) {
    throw new TopologyError(`${name}: ${dims.join('x')} does not fit in the ${chip.generation} pod (${chip.maxSliceDims.join('x')})`);
  }
  const cores: CoreLocation[] = [];
  for (let chipIndex = 0; chipIndex < numChips; chipIndex++) {
    const chipCoords: number[] = [];
    let rest = chipIndex;
    for (const d of dims) {
      chipCoords.push(rest % d);
      rest = Math.floor(rest / d);
    }
    for (let coreOnChip = 0; coreOnChip < chip.coresPerChip; coreOnChip++) {
      cores.push({ coreId: cores.length, chipIndex, chipCoords, coreOnChip });
    }
  }
  return {
    name,
    chip,
    dims: [...dims],
    wraparound: wraparoundOf(chip, dims),
    numChips,
    numCores: numChips * chip.coresPerChip,
    cores,
  };
}

function parseDims(text: string, name: string): number[] {
  const parts = text.split('x');
  const dims = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (dims.some((d) => !Number.isSafeInteger(d))) {
    throw new TopologyError(`${name}: chip dims must be integers joined by 'x', like 2x2x4`);
  }
  if (dims.some((d) => d <= 0)) {
    throw new TopologyError(`${name}: chip dims must be positive, got ${text}`);
  }
  return dims;
}

function resolveGeneration(gen: string, name: string): ChipSpec {
  try {
    return chipSpec(gen);
  } catch (e) {
    if (e instanceof UnknownGenerationError) {
      throw new TopologyError(
        `${name}: unknown TPU generation ${JSON.stringify(gen)}; known: ${GENERATIONS.join(', ')} (v5e is also v5litepod)`,
      );
    }
    throw e;
  }
}

/**
 * Parses a slice name: `v3-8`, `v4-32`, `v5litepod-16`, `v6e-64`, `v5p-128`, `v2-8`, or a
 * generation with chip dims, `v4:2x2x4`, `v5e:4x4`. Throws TopologyError naming the problem.
 */
export function parseTopology(name: string): Topology {
  const text = name.trim();
  const explicit = /^([^:]+):(.+)$/.exec(text);
  if (explicit) {
    const dims = parseDims(explicit[2]!, text);
    const chip = resolveGeneration(explicit[1]!, text);
    if (dims.length !== chip.torusRank) {
      throw new TopologyError(
        `${text}: ${chip.generation} is a ${chip.torusRank}D torus, so give ${chip.torusRank} chip dims (got ${dims.length})`,
      );
    }
    return buildTopology(`${chip.generation}:${dims.join('x')}`, chip, dims);
  }
  if (/^[\dx]+$/.test(text) && text.includes('x')) {
    parseDims(text, text);
    throw new TopologyError(`${text}: name the generation with the chip dims, like v4:${text}`);
  }
  const named = /^(v\w+?)-(\d+)$/.exec(text);
  if (!named) {
    throw new TopologyError(
      `${JSON.stringify(name)} is not a topology; expected an accelerator type like v4-32 or v5litepod-16, or generation:dims like v4:2x2x4`,
    );
  }
  const chip = resolveGeneration(named[1]!, text);
  const size = Number(named[2]);
  const perChip = chip.sizeCounts === 'cores' ? chip.coresPerChip : 1;
  if (size <= 0 || size % perChip !== 0) {
    throw new TopologyError(`${text}: ${size} is not a valid ${chip.generation} slice size; ${validSizesHint(chip)}`);
  }
  const chips = size / perChip;
  if (chips > chip.maxSliceChips) {
    throw new TopologyError(
      `${text}: ${chips} chips exceeds the largest ${chip.generation} slice (${chip.maxSliceDims.join('x')} = ${chip.maxSliceChips} chips)`,
    );
  }
  const dims = chip.torusRank === 3 ? default3D(chips) : default2D(chips);
  if (!dims) {
    throw new TopologyError(`${text}: ${size} is not a valid ${chip.generation} slice size; ${validSizesHint(chip)}`);
  }
  return buildTopology(`${chip.acceleratorPrefix}-${size}`, chip, dims);
}

/** Where core `coreId` of `topology` is; throws a clear error when out of range. */
export function coreLocation(topology: Topology, coreId: number): CoreLocation {
  const loc = topology.cores[coreId];
  if (!loc) {
    throw new TopologyError(`${topology.name}: no core ${coreId} (cores are 0..${topology.numCores - 1})`);
  }
  return loc;
}

/** Hops between two chips along the torus, honouring each dim's wraparound. */
export function chipHops(topology: Topology, a: readonly number[], b: readonly number[]): number {
  let hops = 0;
  for (let i = 0; i < topology.dims.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    hops += topology.wraparound[i] ? Math.min(d, topology.dims[i]! - d) : d;
  }
  return hops;
}
