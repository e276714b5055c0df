/**
 * A single emulated device for programs run outside any mesh: one TensorCore with its HBM
 * arena and simulated clock. jit'ed functions called eagerly run here, so single-device
 * work is priced by the same cost model as a pod.
 */
import { type ChipSpec, chipSpec } from '../tpu/chips.js';
import { type KernelChoice, TensorCore } from '../tpu/core.js';

export interface DeviceOptions {
  /** The chip generation or spec (default v4). */
  readonly chip?: ChipSpec | string;
  /**
   * Arena bytes. The arena is a real SharedArrayBuffer on the host, so the default device
   * backs far less than a chip's HBM: 512 MiB, enough for the single-device oracle's tests
   * and small workloads; pass more for bigger programs.
   */
  readonly hbmBytes?: number;
  readonly kernels?: KernelChoice;
}

export const DEFAULT_DEVICE_HBM_BYTES = 512 * 1024 ** 2;

export class Device {
  readonly core: TensorCore;

  constructor(opts: DeviceOptions = {}) {
    const chip = typeof opts.chip === 'string' ? chipSpec(opts.chip) : (opts.chip ?? chipSpec('v4'));
    this.core = new TensorCore({
      chip,
      hbmBytes: opts.hbmBytes ?? DEFAULT_DEVICE_HBM_BYTES,
      ...(opts.kernels ? { kernels: opts.kernels } : {}),
    });
  }

  toString(): string {
    return `Device(${this.core.chip.generation}, core ${this.core.coreId})`;
  }
}

let current: Device | null = null;

/** The device eager jit calls run on, made on first use (a v4 core). */
export function defaultDevice(): Device {
  current ??= new Device();
  return current;
}

/** Replaces the default device (e.g. a different chip or arena size); returns it. */
export function setDefaultDevice(device: Device | DeviceOptions): Device {
  current = device instanceof Device ? device : new Device(device);
  return current;
}
