/**
 * One table of TPU chip specs, one row per generation.
 *
 * Every published number carries its source beside it. Numbers that are not published per
 * generation (VPU throughput, transcendental cost, per-op overhead, ICI hop latency) are
 * derived or assumed here, in the same table, marked ASSUMPTION with the reasoning, so the
 * cost model has exactly one place to read them from.
 *
 * Sources:
 *  [cloud-v3]  cloud.google.com/tpu/docs/v3      [cloud-v4]  cloud.google.com/tpu/docs/v4
 *  [cloud-v5e] cloud.google.com/tpu/docs/v5e     [cloud-v5p] cloud.google.com/tpu/docs/v5p
 *  [cloud-v6e] cloud.google.com/tpu/docs/v6e
 *  [book]      JAX scaling book, "How to Think About TPUs" (jax-ml/scaling-book tpus.md)
 *  [jouppi20]  Jouppi et al., "A Domain-Specific Supercomputer for Training Deep Neural
 *              Networks", CACM 63(7), 2020, Table 3 (TPUv2/TPUv3 clock, peak, HBM, ICI).
 */

export type Generation = 'v2' | 'v3' | 'v4' | 'v5e' | 'v5p' | 'v6e';

export const GENERATIONS: readonly Generation[] = ['v2', 'v3', 'v4', 'v5e', 'v5p', 'v6e'];

/**
 * Which torus dims of a slice have wraparound links.
 * - 'full-cube' (v4, v5p): wraparound comes from the optical circuit switches, which exist
 *   only between whole 4x4x4 cubes; a slice whose dims are all multiples of 4 wraps on
 *   every dim, any smaller slice (2x2x1, 2x2x4, 2x4x4) on none. [book: "a 2x2x4 won't have
 *   any wraparounds ... only available on a full cube"; cloud-v4: torus when each dim is a
 *   multiple of 4]
 * - 'full-extent' (v2, v3, v5e, v6e): a fixed 2D torus; a slice wraps on a dim only where it
 *   spans the pod's full extent on that dim. [book: "smaller topologies can be requested
 *   without wraps on dims < 16 ... a TPU v5e 8x16 will have a wraparound on the longer axis"]
 */
export type WraparoundRule = 'full-cube' | 'full-extent';

/** A TPU generation's numbers. Units are in each field's name or doc; rates are per second. */
export interface ChipSpec {
  readonly generation: Generation;
  /** Cloud TPU accelerator-type prefix: `v4` in `v4-32`, `v5litepod` in `v5litepod-16`. */
  readonly acceleratorPrefix: string;
  /** Whether the accelerator-type suffix counts TensorCores (v2, v3, v4, v5p) or chips (v5e, v6e). */
  readonly sizeCounts: 'cores' | 'chips';

  // ---- compute ----
  /** Peak dense bf16 FLOP/s of one chip. */
  readonly peakFlopsPerChip: number;
  readonly coresPerChip: number;
  /** Peak bf16 FLOP/s of one TensorCore: chip peak / cores per chip. */
  readonly peakFlopsPerCore: number;
  /** MXUs (systolic arrays) per TensorCore. */
  readonly mxusPerCore: number;
  /** MXU side: 128 (128x128 array), or 256 on v6e. Matmul dims are padded to it. */
  readonly mxuTile: number;
  /** Rows of the streamed operand are padded to this many sublanes (an (8,128) vreg). [book] */
  readonly mxuRowGranule: number;
  /** Clock, Hz: peak per core / (2 FLOP per MAC x MACs per cycle), unless noted. */
  readonly clockHz: number;
  /** Fraction of MXU peak a well-shaped matmul reaches; 1.0 = the padded roofline exactly. */
  readonly mxuEfficiency: number;

  // ---- vector unit (derived/assumed) ----
  /** VPU shape: sublanes x lanes (8 x 128 on every generation). [book, Appendix C; cloud-v6e] */
  readonly vpuSublanes: number;
  readonly vpuLanes: number;
  /** ALUs per (sublane, lane). ASSUMPTION except v4; see table. */
  readonly vpuAlusPerLane: number;
  /** Element-wise VPU operations per second per core: sublanes x lanes x ALUs x clock. */
  readonly vpuOpsPerSecondPerCore: number;
  /** VPU-op equivalents of one transcendental (exp, log, rsqrt, divide...). ASSUMPTION. */
  readonly transcendentalVpuOps: number;
  /** Fixed cost of issuing one op (pipeline fill, first DMA), seconds. ASSUMPTION. */
  readonly opOverheadSeconds: number;

  // ---- memory ----
  /** HBM bytes per chip. */
  readonly hbmBytesPerChip: number;
  /** HBM bytes per core (v2/v3: each core owns half; v4+: the chip's HBM is shared, split evenly). */
  readonly hbmBytesPerCore: number;
  /** HBM bandwidth per chip, bytes/s. */
  readonly hbmBandwidthPerChip: number;
  /** HBM bandwidth per core, bytes/s: chip's / cores. */
  readonly hbmBandwidthPerCore: number;

  // ---- interconnect ----
  /** ICI links (ports) per chip. */
  readonly iciLinksPerChip: number;
  /** One-way bandwidth of one ICI link, bytes/s. [book, ICI table] */
  readonly iciBandwidthPerLinkOneWay: number;
  /** Latency of one ICI hop, seconds. ASSUMPTION: ~1 µs [book; REFERENCES.md]. */
  readonly iciHopLatencySeconds: number;
  /** 2 (2D torus) or 3 (3D torus). */
  readonly torusRank: 2 | 3;
  /** The largest slice's chip grid. */
  readonly maxSliceDims: readonly number[];
  /** Chips in the largest slice. */
  readonly maxSliceChips: number;
  readonly wraparound: WraparoundRule;
}

const GiB = 1024 ** 3;
const GB = 1e9;
const T = 1e12;

/** FLOPs per cycle of one MXU: tile x tile MACs, 2 FLOPs each. */
function mxuFlopsPerCycle(tile: number): number {
  return 2 * tile * tile;
}

interface PublishedSpec {
  readonly generation: Generation;
  readonly acceleratorPrefix: string;
  readonly sizeCounts: 'cores' | 'chips';
  readonly peakFlopsPerChip: number;
  readonly coresPerChip: number;
  readonly mxusPerCore: number;
  readonly mxuTile: number;
  /** Set only where the derived clock (peak / MXU FLOPs per cycle) is not credible. */
  readonly clockHzOverride?: number;
  readonly vpuAlusPerLane: number;
  readonly hbmBytesPerChip: number;
  readonly hbmBandwidthPerChip: number;
  /** Whether the cores of a chip have separate HBM (v2, v3) or share it (v4+). */
  readonly hbmPerCore: boolean;
  readonly iciLinksPerChip: number;
  readonly iciBandwidthPerLinkOneWay: number;
  readonly torusRank: 2 | 3;
  readonly maxSliceDims: readonly number[];
  readonly wraparound: WraparoundRule;
}

/**
 * ASSUMPTIONS shared by every generation (not published per generation):
 * - transcendentalVpuOps = 4: exp/log/rsqrt/reciprocal run on the TensorCore's extended
 *   unary pipeline next to the VPU ALUs; we price one as 4 VPU ops (a range reduction and
 *   a short polynomial would be ~10 ALU ops in software; the hardware unit is cheaper but
 *   narrower than the 2-4 ALUs per lane). Divide = reciprocal + multiply.
 * - opOverheadSeconds = 1 µs: each unfused XLA op pays a pipeline fill and its first
 *   HBM->VMEM DMA before streaming; about one DMA latency, the same order as an ICI hop.
 *   This is why XLA fuses element-wise chains.
 * - iciHopLatencySeconds = 1 µs per hop. [book; REFERENCES.md "about 1 µs"]
 * - mxuEfficiency = 1.0: the padded roofline; lower it to model a compiler's tiling losses.
 */
const TRANSCENDENTAL_VPU_OPS = 4;
const OP_OVERHEAD_SECONDS = 1e-6;
const ICI_HOP_LATENCY_SECONDS = 1e-6;
const MXU_EFFICIENCY = 1.0;
/** [book, Appendix C: the VPU is an (8, 128) array: 8 sublanes x 128 lanes; cloud-v6e: "128 lanes x 8 sublanes"] */
const VPU_SUBLANES = 8;
const VPU_LANES = 128;
/** Rows fed to the MXU per pass: bf16[8,128] @ bf16[128,128] per 8 cycles. [book, Appendix B] */
const MXU_ROW_GRANULE = 8;

/**
 * The table. VPU ALUs per lane: [book, Appendix C] says each (lane, sublane) on v4 has 2
 * ALUs, and that on v5 "you can add 4 pairs of f32 values together from VREGs in each
 * cycle"; we take 2 for v2/v3/v4 and 4 for v5e/v5p/v6e (ASSUMPTION for all but v4). For v4
 * this gives 8x128x2 x 1.05 GHz = 2.15e12 VPU ops/s per core, 4.3e12 per chip.
 */
const PUBLISHED: readonly PublishedSpec[] = [
  {
    generation: 'v2',
    acceleratorPrefix: 'v2',
    sizeCounts: 'cores',
    peakFlopsPerChip: 46 * T, // [jouppi20] 46 TFLOPS bf16, 700 MHz, 1 MXU per core (unverified here: not in REFERENCES.md)
    coresPerChip: 2, // [jouppi20]
    mxusPerCore: 1, // [jouppi20]
    mxuTile: 128,
    clockHzOverride: 700e6, // [jouppi20]; 46e12 / (2 cores x 32768) = 702 MHz, consistent
    vpuAlusPerLane: 2, // ASSUMPTION: as v4
    hbmBytesPerChip: 16 * GiB, // [jouppi20] 16 GiB per chip, 8 GiB per core
    hbmBandwidthPerChip: 700 * GB, // [jouppi20] 700 GB/s per chip
    hbmPerCore: true,
    iciLinksPerChip: 4, // [jouppi20] 4 links, 2D torus
    iciBandwidthPerLinkOneWay: 496e9 / 8, // [jouppi20] 496 Gbit/s per link (unverified here)
    torusRank: 2,
    maxSliceDims: [16, 16], // [jouppi20] 256-chip pod
    wraparound: 'full-extent',
  },
  {
    generation: 'v3',
    acceleratorPrefix: 'v3',
    sizeCounts: 'cores',
    peakFlopsPerChip: 123 * T, // [cloud-v3] 123 TFLOPS bf16 per chip
    coresPerChip: 2, // [cloud-v3]
    mxusPerCore: 2, // [cloud-v3] 2 MXUs per TensorCore, 128x128 [book]
    mxuTile: 128,
    vpuAlusPerLane: 2, // ASSUMPTION: as v4
    hbmBytesPerChip: 32 * GiB, // [cloud-v3] 32 GiB
    hbmBandwidthPerChip: 900 * GB, // [cloud-v3] 900 GB/s
    hbmPerCore: true, // [book] "On older TPU chips they have separate memory" (v3 and older)
    iciLinksPerChip: 4, // [book] 4 nearest neighbours, 2D torus
    iciBandwidthPerLinkOneWay: 1e11, // [book] 1e11 B/s one-way
    torusRank: 2,
    maxSliceDims: [32, 32], // [cloud-v3] 1024 chips; [book] pod 32x32
    wraparound: 'full-extent',
  },
  {
    generation: 'v4',
    acceleratorPrefix: 'v4',
    sizeCounts: 'cores',
    peakFlopsPerChip: 275 * T, // [cloud-v4] 275 TFLOPS bf16
    coresPerChip: 2, // [cloud-v4] megacore
    mxusPerCore: 4, // [cloud-v4] 4 MXUs per TensorCore, 128x128 [book]
    mxuTile: 128,
    vpuAlusPerLane: 2, // [book, Appendix C] 2 ALUs per (lane, sublane) on v4
    hbmBytesPerChip: 32 * GiB, // [cloud-v4] 32 GiB
    hbmBandwidthPerChip: 1200 * GB, // [cloud-v4] 1200 GB/s
    hbmPerCore: false, // [book] cores share HBM since v4
    iciLinksPerChip: 6, // [book] 6 neighbours, 3D torus
    iciBandwidthPerLinkOneWay: 4.5e10, // [book] 4.5e10 B/s one-way
    torusRank: 3,
    maxSliceDims: [16, 16, 16], // [book] superpod 16x16x16; [cloud-v4] 4096 chips
    wraparound: 'full-cube',
  },
  {
    generation: 'v5e',
    acceleratorPrefix: 'v5litepod',
    sizeCounts: 'chips',
    peakFlopsPerChip: 197 * T, // [cloud-v5e] 197 TFLOPS bf16
    coresPerChip: 1, // [cloud-v5e]
    mxusPerCore: 4, // [cloud-v5e] 4 MXUs, 128x128 [book]
    mxuTile: 128,
    vpuAlusPerLane: 4, // ASSUMPTION from [book] "in v5 you can add 4 pairs of f32 values ... each cycle"
    hbmBytesPerChip: 16 * GB, // [cloud-v5e] 16 GB
    hbmBandwidthPerChip: 819 * GB, // [cloud-v5e] 819 GB/s
    hbmPerCore: false,
    iciLinksPerChip: 4, // [cloud-v5e] 4 ICI ports
    iciBandwidthPerLinkOneWay: 5e10, // [book] 5e10; = 400 GB/s bidirectional per chip [cloud-v5e] / 4 ports / 2
    torusRank: 2,
    maxSliceDims: [16, 16], // [cloud-v5e] 256 chips, 2D torus 16x16
    wraparound: 'full-extent',
  },
  {
    generation: 'v5p',
    acceleratorPrefix: 'v5p',
    sizeCounts: 'cores',
    peakFlopsPerChip: 459 * T, // [cloud-v5p] 459 TFLOPS bf16
    coresPerChip: 2, // [book] 2 cores per chip (2.5e14 per core, 5e14 per chip)
    mxusPerCore: 4, // [cloud-v5p] 4 MXUs per TensorCore, 128x128 [book]
    mxuTile: 128,
    vpuAlusPerLane: 4, // ASSUMPTION, as v5e
    hbmBytesPerChip: 95 * GB, // [cloud-v5p] 95 GB
    hbmBandwidthPerChip: 2765 * GB, // [cloud-v5p] 2765 GB/s
    hbmPerCore: false,
    iciLinksPerChip: 6, // [book] 3D torus, 6 neighbours
    iciBandwidthPerLinkOneWay: 1e11, // [book] 1e11; = 1200 GB/s bidirectional per chip / 6 / 2 [REFERENCES.md]
    torusRank: 3,
    maxSliceDims: [16, 16, 24], // [cloud-v5p] largest slice 16x16x24 = 6144 chips (pod: 8960 chips)
    wraparound: 'full-cube',
  },
  {
    generation: 'v6e',
    acceleratorPrefix: 'v6e',
    sizeCounts: 'chips',
    peakFlopsPerChip: 918 * T, // [cloud-v6e] 918 TFLOPS bf16
    coresPerChip: 1, // [cloud-v6e]
    mxusPerCore: 2, // [cloud-v6e] two 256x256 MXUs
    mxuTile: 256,
    // ASSUMPTION: 918e12 / (2 MXUs x 2 x 256^2) implies 3.5 GHz, not a credible clock; the
    // published MXU count and peak are inconsistent. The peak is what the cost model uses;
    // the clock only sizes the VPU, and we take 1.75 GHz (as if 4 MXU-equivalents).
    clockHzOverride: 1.75e9,
    vpuAlusPerLane: 4, // ASSUMPTION, as v5e
    hbmBytesPerChip: 32 * GB, // [cloud-v6e] 32 GB
    hbmBandwidthPerChip: 1638 * GB, // [cloud-v6e] 1638 GB/s
    hbmPerCore: false,
    iciLinksPerChip: 4, // [cloud-v6e] 4 ICI ports
    iciBandwidthPerLinkOneWay: 1e11, // [book] 1e11; = 800 GB/s bidirectional per chip [cloud-v6e] / 4 / 2
    torusRank: 2,
    maxSliceDims: [16, 16], // [cloud-v6e] 256 chips, 2D torus
    wraparound: 'full-extent',
  },
];

function deriveSpec(p: PublishedSpec): ChipSpec {
  const peakFlopsPerCore = p.peakFlopsPerChip / p.coresPerChip;
  const clockHz = p.clockHzOverride ?? peakFlopsPerCore / (p.mxusPerCore * mxuFlopsPerCycle(p.mxuTile));
  return {
    generation: p.generation,
    acceleratorPrefix: p.acceleratorPrefix,
    sizeCounts: p.sizeCounts,
    peakFlopsPerChip: p.peakFlopsPerChip,
    coresPerChip: p.coresPerChip,
    peakFlopsPerCore,
    mxusPerCore: p.mxusPerCore,
    mxuTile: p.mxuTile,
    mxuRowGranule: MXU_ROW_GRANULE,
    clockHz,
    mxuEfficiency: MXU_EFFICIENCY,
    vpuSublanes: VPU_SUBLANES,
    vpuLanes: VPU_LANES,
    vpuAlusPerLane: p.vpuAlusPerLane,
    vpuOpsPerSecondPerCore: VPU_SUBLANES * VPU_LANES * p.vpuAlusPerLane * clockHz,
    transcendentalVpuOps: TRANSCENDENTAL_VPU_OPS,
    opOverheadSeconds: OP_OVERHEAD_SECONDS,
    hbmBytesPerChip: p.hbmBytesPerChip,
    hbmBytesPerCore: Math.floor(p.hbmBytesPerChip / p.coresPerChip),
    hbmBandwidthPerChip: p.hbmBandwidthPerChip,
    hbmBandwidthPerCore: p.hbmBandwidthPerChip / p.coresPerChip,
    iciLinksPerChip: p.iciLinksPerChip,
    iciBandwidthPerLinkOneWay: p.iciBandwidthPerLinkOneWay,
    iciHopLatencySeconds: ICI_HOP_LATENCY_SECONDS,
    torusRank: p.torusRank,
    maxSliceDims: p.maxSliceDims,
    maxSliceChips: p.maxSliceDims.reduce((a, b) => a * b, 1),
    wraparound: p.wraparound,
  };
}

export const CHIPS: { readonly [G in Generation]: ChipSpec } = Object.fromEntries(
  PUBLISHED.map((p) => [p.generation, Object.freeze(deriveSpec(p))]),
) as { readonly [G in Generation]: ChipSpec };

export function isGeneration(x: string): x is Generation {
  return (GENERATIONS as readonly string[]).includes(x);
}

export class UnknownGenerationError extends Error {
  override name = 'UnknownGenerationError';
}

/** The spec of a generation by name (`v4`, `v5e`; also the accelerator prefix `v5litepod`). */
export function chipSpec(name: string): ChipSpec {
  if (isGeneration(name)) return CHIPS[name];
  const byPrefix = GENERATIONS.find((g) => CHIPS[g].acceleratorPrefix === name);
  if (byPrefix) return CHIPS[byPrefix];
  throw new UnknownGenerationError(
    `unknown TPU generation ${JSON.stringify(name)}; known: ${GENERATIONS.join(', ')} (v5e is also v5litepod)`,
  );
}

/** A copy of `spec` with some fields replaced (e.g. a lower mxuEfficiency for a what-if). */
export function withOverrides(spec: ChipSpec, overrides: Partial<ChipSpec>): ChipSpec {
  return Object.freeze({ ...spec, ...overrides });
}
