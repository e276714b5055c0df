import type { ChipSpec } from '../chips.js';
import type { OpCost, OpTime, Unit } from './types.js';

/**
 * Time of one op on one TensorCore: the refined roofline of TPU-KNN (arXiv 2206.14286),
 * max(MXU time, VPU time, HBM time), plus the chip's fixed per-op overhead. MXU, VPU and
 * DMA run concurrently within an op (XLA pipelines HBM<->VMEM copies against compute).
 */
export function opTime(cost: OpCost, chip: ChipSpec): OpTime {
  const mxuSeconds = cost.mxuFlops / (chip.peakFlopsPerCore * chip.mxuEfficiency);
  const vpuWork = cost.vpuOps + (cost.transcendentalOps ?? 0) * chip.transcendentalVpuOps;
  const vpuSeconds = vpuWork / chip.vpuOpsPerSecondPerCore;
  const hbmSeconds = cost.hbmBytes / chip.hbmBandwidthPerCore;
  const overheadSeconds = chip.opOverheadSeconds;
  let binding: Unit = 'mxu';
  let longest = mxuSeconds;
  if (vpuSeconds > longest) {
    binding = 'vpu';
    longest = vpuSeconds;
  }
  if (hbmSeconds > longest) {
    binding = 'hbm';
    longest = hbmSeconds;
  }
  if (overheadSeconds > longest) binding = 'overhead';
  return { seconds: longest + overheadSeconds, binding, mxuSeconds, vpuSeconds, hbmSeconds, overheadSeconds };
}

/**
 * The cost of ops fused into one kernel, as XLA fuses them: compute adds up, but HBM
 * traffic is only what crosses the fusion boundary (`boundaryHbmBytes`: the fusion's
 * external inputs read plus its outputs written); intermediates stay in VMEM. The fused
 * kernel pays the per-op overhead once. TPU-KNN's search fuses the distance matmul with
 * PartialReduce this way, so the score matrix never reaches HBM.
 */
export function fuseCosts(parts: readonly OpCost[], boundaryHbmBytes: number): OpCost {
  let flops = 0;
  let mxuFlops = 0;
  let vpuOps = 0;
  let transcendentalOps = 0;
  for (const p of parts) {
    flops += p.flops;
    mxuFlops += p.mxuFlops;
    vpuOps += p.vpuOps;
    transcendentalOps += p.transcendentalOps ?? 0;
  }
  return { flops, mxuFlops, vpuOps, transcendentalOps, hbmBytes: boundaryHbmBytes };
}
