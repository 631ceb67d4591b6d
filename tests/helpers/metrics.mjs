// Error metrics shared by the parity tests.

/** ||out - ref|| / ||ref|| (ref must not be all zeros; guarded against 0/0). */
export function relativeError(out, ref) {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = out[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}
