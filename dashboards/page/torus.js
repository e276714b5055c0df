/**
 * The torus view: chips placed by their torus coordinates, each chip a box holding its
 * TensorCores as cells. A 3D torus is drawn as slices along its last dim (z), each slice
 * an x-by-y grid of chips; a 2D torus is one slice; a single row is one slice one chip tall.
 * A cell's colour is the core's MXU utilization; the bar along its foot is its HBM use.
 */
import { hbmColor, utilizationColor } from './colors.js';
import { bytes, percent, seconds } from './format.js';

const AXES = ['x', 'y', 'z', 'w'];

/**
 * Where each chip and core goes: { nx, ny, coresPerChip, slices: [{ label, chips: [{ chipIndex,
 * coords, x, y, cores: [coreId, ...] }] }] }. Dims past the second index the slices.
 */
export function torusLayout(pod) {
  const dims = pod.dims.length > 0 ? pod.dims : [1];
  const nx = dims[0];
  const ny = dims.length > 1 ? dims[1] : 1;
  const sliceDims = dims.slice(2);
  const numSlices = sliceDims.reduce((p, d) => p * d, 1);
  const chips = new Map();
  for (const c of pod.cores) {
    let chip = chips.get(c.chipIndex);
    if (!chip) {
      const coords = c.chipCoords;
      let slice = 0;
      for (let d = sliceDims.length - 1; d >= 0; d--) slice = slice * sliceDims[d] + (coords[d + 2] ?? 0);
      chip = { chipIndex: c.chipIndex, coords: [...coords], x: coords[0] ?? 0, y: coords[1] ?? 0, slice, cores: [] };
      chips.set(c.chipIndex, chip);
    }
    chip.cores[c.coreOnChip] = c.id;
  }
  const slices = Array.from({ length: numSlices }, (_, s) => {
    let rest = s;
    const parts = sliceDims.map((d, i) => {
      const v = rest % d;
      rest = Math.floor(rest / d);
      return `${AXES[i + 2] ?? `d${i + 2}`}=${v}`;
    });
    return { label: parts.join(' '), chips: [] };
  });
  for (const chip of [...chips.values()].sort((a, b) => a.chipIndex - b.chipIndex)) slices[chip.slice].chips.push(chip);
  const coresPerChip = Math.max(1, ...[...chips.values()].map((c) => c.cores.length));
  return { nx, ny, coresPerChip, slices };
}

/** Cell size in px for a pod of n cores: big enough to read, small enough to fit. */
export function cellSize(n) {
  if (n <= 16) return 56;
  if (n <= 64) return 44;
  if (n <= 256) return 26;
  if (n <= 1024) return 14;
  return 8;
}

function el(tag, cls, parent) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  parent?.appendChild(e);
  return e;
}

export class TorusView {
  constructor(container, pod) {
    this.pod = pod;
    this.cells = [];
    container.replaceChildren();
    const layout = torusLayout(pod);
    const size = cellSize(pod.numCores);
    container.style.setProperty('--cell', `${size}px`);
    container.classList.toggle('with-labels', size >= 40);
    const axisNote = pod.dims.length >= 3 ? `slices along z; each slice is ${layout.nx} × ${layout.ny} chips` : `${pod.dims.join(' × ')} chips`;
    el('p', 'torus-note', container).textContent = `${pod.topology}: ${pod.numCores} TensorCores, ${layout.coresPerChip} per chip; ${axisNote}`;
    const wrap = el('div', 'slices', container);
    for (const slice of layout.slices) {
      const s = el('div', 'slice', wrap);
      if (slice.label) el('div', 'slice-label', s).textContent = slice.label;
      const grid = el('div', 'slice-grid', s);
      grid.style.gridTemplateColumns = `repeat(${layout.nx}, auto)`;
      for (const chip of slice.chips) {
        const box = el('div', 'chip', grid);
        box.style.gridColumn = String(chip.x + 1);
        box.style.gridRow = String(chip.y + 1);
        box.title = `chip ${chip.chipIndex} at (${chip.coords.map((v, i) => `${AXES[i] ?? `d${i}`}=${v}`).join(', ')})`;
        for (const coreId of chip.cores) {
          if (coreId === undefined) continue;
          const cell = el('div', 'core', box);
          cell.dataset.core = String(coreId);
          const label = el('span', 'core-label', cell);
          const bar = el('div', 'hbm', cell);
          const fill = el('div', 'hbm-fill', bar);
          this.cells[coreId] = { cell, label, fill, chip };
        }
      }
    }
    this.update(undefined);
  }

  /** Recolours every cell from a `pod` frame (undefined: no reading yet). */
  update(frame) {
    const cap = this.pod.hbmBytesPerCore;
    for (let id = 0; id < this.cells.length; id++) {
      const c = this.cells[id];
      if (!c) continue;
      const mxu = frame?.cores.mxu[id] ?? 0;
      const hbm = frame?.cores.hbmUsed[id] ?? 0;
      const up = frame ? frame.cores.up[id] === 1 : true;
      const fraction = cap > 0 ? hbm / cap : 0;
      c.cell.style.backgroundColor = utilizationColor(mxu);
      c.cell.classList.toggle('down', !up);
      c.cell.dataset.mxu = String(mxu);
      c.cell.dataset.hbm = String(fraction);
      c.fill.style.width = `${Math.min(100, fraction * 100).toFixed(1)}%`;
      c.fill.style.backgroundColor = hbmColor(fraction);
      c.label.textContent = percent(mxu);
      const busy = frame?.cores.busySeconds[id];
      c.cell.title = [
        `core ${id} (chip ${c.chip.chipIndex}, TensorCore ${this.pod.cores[id]?.coreOnChip ?? 0})${up ? '' : ' — DOWN'}`,
        `MXU utilization ${percent(mxu)} (latest window of simulated time)`,
        `HBM ${bytes(hbm)} of ${bytes(cap)} (${percent(fraction)})`,
        busy === undefined ? '' : `busy ${seconds(busy)} simulated`,
      ]
        .filter(Boolean)
        .join('\n');
    }
  }
}
