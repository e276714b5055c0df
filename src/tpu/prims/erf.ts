/**
 * The error function, its complement and its inverse in double precision, for the
 * reference kernels of lax.erf and lax.erf_inv. They are accurate far beyond f32, so a
 * result rounded to f32 or bf16 on store is within an ulp of the true value (XLA itself
 * uses f32 polynomial approximations, so agreement is ulp-level, not bitwise).
 */

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * erf(x). |x| < 3: the Maclaurin series sum (-1)^n x^(2n+1) / (n! (2n+1)) (largest term
 * about 170 at |x| = 3, so about 1e-14 absolute error); otherwise 1 - erfc(|x|).
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax >= 3) return Math.sign(x) * (1 - erfcPositiveTail(ax));
  const x2 = x * x;
  let term = x; // x^(2n+1) (-1)^n / n!
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= -x2 / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) <= 1e-17 * Math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * sum;
}

/** erfc(x) = 1 - erf(x), accurate in the tail where 1 - erf(x) would cancel. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= 3) return erfcPositiveTail(x);
  if (x <= -3) return 2 - erfcPositiveTail(-x);
  return 1 - erf(x);
}

/**
 * erfc(x) for x >= 3 by the Laplace continued fraction
 * erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
 * evaluated backwards; 120 terms converge to double precision for x >= 3.
 */
function erfcPositiveTail(x: number): number {
  let f = x;
  for (let n = 120; n >= 1; n--) f = x + n / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/**
 * erf^-1(y): Winitzki's closed-form guess (a = 0.147, relative error about 2e-3), then
 * Newton steps on erf(x) - y (on (1 - y) - erfc(x) for |y| > 1/2, where the residual would
 * otherwise cancel). erf_inv(+-1) = +-inf and |y| > 1 is NaN, as in lax.erf_inv.
 */
export function erfInv(y: number): number {
  if (Number.isNaN(y) || Math.abs(y) > 1) return NaN;
  if (y === 0) return y; // keeps the sign of zero
  if (Math.abs(y) === 1) return y * Infinity;
  const a = Math.abs(y);
  const A = 0.147; // Winitzki (2008), "A handy approximation for the error function and its inverse"
  const ln = Math.log1p(-a * a);
  const t = 2 / (Math.PI * A) + ln / 2;
  let x = Math.sqrt(Math.max(0, Math.sqrt(t * t - ln / A) - t));
  for (let i = 0; i < 50; i++) {
    const residual = a <= 0.5 ? erf(x) - a : 1 - a - erfc(x);
    const dx = residual / (TWO_OVER_SQRT_PI * Math.exp(-x * x));
    x -= dx;
    if (Math.abs(dx) <= 1e-16 * Math.abs(x)) break;
  }
  return y < 0 ? -x : x;
}
