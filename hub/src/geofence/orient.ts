// The exact orientation predicate that lookups and validation both rest on: which side of a
// line a point lies on, never wrong because of rounding.

const EPSILON = 2 ** -53;
// Shewchuk's bound on the rounding error of the floating-point evaluation below.
const CCW_ERROR_BOUND = (3 + 16 * EPSILON) * EPSILON;
// Below this the products may have underflowed, and the error bound with them.
const UNDERFLOW_GUARD = 1e-280;

/**
 * Orientation of c relative to the directed line a→b: positive when c is to the left
 * (counter-clockwise), negative to the right, 0 exactly when the three are collinear. The sign
 * is exact for any finite doubles: a floating-point estimate whose error is provably smaller than
 * its magnitude is trusted, anything closer falls back to exact integer arithmetic.
 */
export function orient2d(
  ax: number,
  ay: number,
  bx: number,
  by: number,
  cx: number,
  cy: number,
): number {
  const left = (ax - cx) * (by - cy);
  const right = (ay - cy) * (bx - cx);
  const det = left - right;
  let sum: number;
  if (left > 0) {
    if (right <= 0) return det;
    sum = left + right;
  } else if (left < 0) {
    if (right >= 0) return det;
    sum = -left - right;
  } else {
    // left is exactly 0 when one of its factors is (a difference of doubles is 0 only when they
    // are equal); then det's sign is right's, exact unless right underflowed to 0.
    if ((ax === cx || by === cy) && (right !== 0 || ay === cy || bx === cx)) return det;
    return orient2dExact(ax, ay, bx, by, cx, cy);
  }
  const bound = CCW_ERROR_BOUND * sum;
  if (sum >= UNDERFLOW_GUARD && (det >= bound || -det >= bound)) return det;
  return orient2dExact(ax, ay, bx, by, cx, cy);
}

/** The sign of orient2d: 1 counter-clockwise, -1 clockwise, 0 collinear. */
export function orient(
  ax: number,
  ay: number,
  bx: number,
  by: number,
  cx: number,
  cy: number,
): number {
  const det = orient2d(ax, ay, bx, by, cx, cy);
  return det > 0 ? 1 : det < 0 ? -1 : 0;
}

function orient2dExact(
  ax: number,
  ay: number,
  bx: number,
  by: number,
  cx: number,
  cy: number,
): number {
  const x = scaled(cx);
  const y = scaled(cy);
  const det = (scaled(ax) - x) * (scaled(by) - y) - (scaled(ay) - y) * (scaled(bx) - x);
  return det > 0n ? 1 : det < 0n ? -1 : 0;
}

const bits = new DataView(new ArrayBuffer(8));

// Every finite double is an integer multiple of 2^-1074, so value·2^1074 is an exact BigInt.
function scaled(value: number): bigint {
  bits.setFloat64(0, value);
  const hi = bits.getUint32(0);
  const lo = bits.getUint32(4);
  const exponent = (hi >>> 20) & 0x7ff;
  const mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  const magnitude = exponent === 0 ? mantissa : (mantissa | (1n << 52n)) << BigInt(exponent - 1);
  return hi >>> 31 === 1 ? -magnitude : magnitude;
}
