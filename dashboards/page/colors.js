/**
 * Colour scales of the torus. MXU utilization uses viridis (perceptually uniform, readable
 * by the colour-blind) on a square-root scale: small utilizations, common for small
 * programs, still differ visibly from an idle core, and 100% is the brightest.
 */

const VIRIDIS = [
  [0x44, 0x01, 0x54],
  [0x3b, 0x52, 0x8b],
  [0x21, 0x91, 0x8c],
  [0x5e, 0xc9, 0x62],
  [0xfd, 0xe7, 0x25],
];

function clamp01(x) {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/** The viridis colour at t in [0, 1], as [r, g, b]. */
export function viridis(t) {
  const x = clamp01(t) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i];
  const b = VIRIDIS[i + 1];
  return [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * f));
}

/** Where a utilization sits on the colour scale. */
export function utilizationPosition(u) {
  return Math.sqrt(clamp01(u));
}

/** The CSS colour of a core whose MXU utilization is u (0..1). */
export function utilizationColor(u) {
  const [r, g, b] = viridis(utilizationPosition(u));
  return `rgb(${r}, ${g}, ${b})`;
}

/** The CSS colour of an HBM bar filled to fraction f: amber, turning red past 90%. */
export function hbmColor(f) {
  return clamp01(f) > 0.9 ? 'rgb(220, 50, 47)' : 'rgb(255, 160, 40)';
}

/** A CSS linear-gradient of the utilization scale, for the legend. */
export function utilizationGradient(steps = 10) {
  const stops = [];
  for (let i = 0; i <= steps; i++) stops.push(`${utilizationColor((i / steps) ** 2)} ${(100 * i) / steps}%`);
  return `linear-gradient(to right, ${stops.join(', ')})`;
}
