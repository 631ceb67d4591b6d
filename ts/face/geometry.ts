// 2-D similarity transforms as 2x3 row-major matrices [a, -b, tx, b, a, ty]
// (dst = M[:, :2] p + M[:, 2]), as train/s3d_nerf/alignment.py.

/** A 2x3 affine matrix, row-major: [m00, m01, m02, m10, m11, m12]. */
export type Affine = [number, number, number, number, number, number];
export type Point = [number, number];

/**
 * Least-squares similarity (scale, rotation, translation; no reflection)
 * mapping src -> dst, the closed form of alignment.fit_similarity.
 */
export function fitSimilarity(src: ReadonlyArray<readonly [number, number]>, dst: ReadonlyArray<readonly [number, number]>): Affine {
  const n = src.length;
  let msx = 0, msy = 0, mdx = 0, mdy = 0;
  for (let i = 0; i < n; ++i) {
    msx += src[i]![0]; msy += src[i]![1]; mdx += dst[i]![0]; mdy += dst[i]![1];
  }
  msx /= n; msy /= n; mdx /= n; mdy /= n;
  let den = 0, na = 0, nb = 0;
  for (let i = 0; i < n; ++i) {
    const sx = src[i]![0] - msx, sy = src[i]![1] - msy;
    const dx = dst[i]![0] - mdx, dy = dst[i]![1] - mdy;
    den += sx * sx + sy * sy;
    na += sx * dx + sy * dy;
    nb += sx * dy - sy * dx;
  }
  const a = na / den;
  const b = nb / den;
  return [a, -b, mdx - (a * msx - b * msy), b, a, mdy - (b * msx + a * msy)];
}

export function applyAffine(m: Readonly<Affine>, p: readonly [number, number]): Point {
  return [m[0] * p[0] + m[1] * p[1] + m[2], m[3] * p[0] + m[4] * p[1] + m[5]];
}

export function applyAffineAll(m: Readonly<Affine>, pts: ReadonlyArray<readonly [number, number]>): Point[] {
  return pts.map((p) => applyAffine(m, p));
}

export function invertAffine(m: Readonly<Affine>): Affine {
  const det = m[0] * m[4] - m[1] * m[3];
  const i00 = m[4] / det, i01 = -m[1] / det, i10 = -m[3] / det, i11 = m[0] / det;
  return [i00, i01, -(i00 * m[2] + i01 * m[5]), i10, i11, -(i10 * m[2] + i11 * m[5])];
}

/** a ∘ b (apply b first). */
export function composeAffine(a: Readonly<Affine>, b: Readonly<Affine>): Affine {
  return [
    a[0] * b[0] + a[1] * b[3], a[0] * b[1] + a[1] * b[4], a[0] * b[2] + a[1] * b[5] + a[2],
    a[3] * b[0] + a[4] * b[3], a[3] * b[1] + a[4] * b[4], a[3] * b[2] + a[4] * b[5] + a[5],
  ];
}

/** Scale of a similarity (|first column|). */
export function affineScale(m: Readonly<Affine>): number {
  return Math.hypot(m[0], m[3]);
}

/** Rotation of a similarity in degrees (counter-clockwise in y-down image axes is negative). */
export function affineAngle(m: Readonly<Affine>): number {
  return (Math.atan2(m[3], m[0]) * 180) / Math.PI;
}
