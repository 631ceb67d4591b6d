// Source pose P_src from aligned-crop landmarks, as alignment.estimate_pose:
// the template's rough 3-D face is fitted to the 68 crop landmarks (perspective
// camera, focal 4.2647 * size, principal point size/2; rotation + translation,
// robust soft-L1 loss with scale 2 px, Levenberg-Marquardt from the frontal
// camera); only the rotation is kept and the camera put on the radius-2.7
// sphere looking at the origin. Result: cam2world 4x4, row-major, EG3D/OpenCV axes
// (the camera-pose API, frontalPose, poseFromAngles, ..., is ts/camera.ts).
import { faceTemplate } from './template.js';

type Vec6 = [number, number, number, number, number, number];

/** Rotation matrix (row-major 3x3) of a rotation vector (cv2.Rodrigues). */
export function rodrigues(r: readonly number[]): number[] {
  const th = Math.hypot(r[0]!, r[1]!, r[2]!);
  if (th < 1e-15) return [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const x = r[0]! / th, y = r[1]! / th, z = r[2]! / th;
  const c = Math.cos(th), s = Math.sin(th), t = 1 - c;
  return [
    t * x * x + c, t * x * y - s * z, t * x * z + s * y,
    t * x * y + s * z, t * y * y + c, t * y * z - s * x,
    t * x * z - s * y, t * y * z + s * x, t * z * z + c,
  ];
}

/** world->camera rotation of parameters p: Rodrigues(p[:3]) @ diag(1, -1, -1). */
function rotation(p: readonly number[]): number[] {
  const R = rodrigues(p);
  return [R[0]!, -R[1]!, -R[2]!, R[3]!, -R[4]!, -R[5]!, R[6]!, -R[7]!, -R[8]!];
}

function residuals(p: readonly number[], X: ReadonlyArray<readonly number[]>, img: ReadonlyArray<readonly number[]>, f: number, c: number, out: Float64Array): void {
  const R = rotation(p);
  for (let i = 0; i < X.length; ++i) {
    const [a, b, d] = X[i] as [number, number, number];
    const xc = R[0]! * a + R[1]! * b + R[2]! * d + p[3]!;
    const yc = R[3]! * a + R[4]! * b + R[5]! * d + p[4]!;
    const zc = R[6]! * a + R[7]! * b + R[8]! * d + p[5]!;
    out[2 * i] = (f * xc) / zc + c - img[i]![0]!;
    out[2 * i + 1] = (f * yc) / zc + c - img[i]![1]!;
  }
}

function solve6(A: number[], b: number[]): number[] {
  const n = 6;
  const M = A.slice();
  const x = b.slice();
  for (let k = 0; k < n; ++k) {
    let piv = k;
    for (let i = k + 1; i < n; ++i) if (Math.abs(M[i * n + k]!) > Math.abs(M[piv * n + k]!)) piv = i;
    if (piv !== k) {
      for (let j = 0; j < n; ++j) [M[k * n + j], M[piv * n + j]] = [M[piv * n + j]!, M[k * n + j]!];
      [x[k], x[piv]] = [x[piv]!, x[k]!];
    }
    const d = M[k * n + k]!;
    if (Math.abs(d) < 1e-300) continue;
    for (let i = k + 1; i < n; ++i) {
      const m = M[i * n + k]! / d;
      if (m === 0) continue;
      for (let j = k; j < n; ++j) M[i * n + j]! -= m * M[k * n + j]!;
      x[i]! -= m * x[k]!;
    }
  }
  for (let k = n - 1; k >= 0; --k) {
    let s = x[k]!;
    for (let j = k + 1; j < n; ++j) s -= M[k * n + j]! * x[j]!;
    x[k] = Math.abs(M[k * n + k]!) < 1e-300 ? 0 : s / M[k * n + k]!;
  }
  return x;
}

/** The fitted parameters [rotation vector (3), translation (3)] (exposed for tests). */
export function fitPoseParams(cropLandmarks: ReadonlyArray<readonly [number, number]>, size: number): Vec6 {
  const t = faceTemplate();
  const X = t.mean68_3d;
  const f = t.focal * size;
  const c = size / 2;
  const C2 = t.poseFit.fScale ** 2;
  const m = 2 * X.length;
  const r = new Float64Array(m);
  const rp = new Float64Array(m);
  const rm = new Float64Array(m);
  const cost = (res: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < m; ++i) s += 2 * C2 * (Math.sqrt(1 + (res[i]! * res[i]!) / C2) - 1);
    return s;
  };
  let p: number[] = [0, 0, 0, 0, 0, t.radius];
  residuals(p, X, cropLandmarks, f, c, r);
  let F = cost(r);
  let lambda = 1e-3;
  const J = new Float64Array(m * 6);
  for (let iter = 0; iter < 200; ++iter) {
    // Jacobian by central differences (steps relative to the parameter scales)
    for (let k = 0; k < 6; ++k) {
      const h = 1e-6 * t.poseFit.xScale[k]!;
      const q1 = p.slice(), q2 = p.slice();
      q1[k]! += h; q2[k]! -= h;
      residuals(q1, X, cropLandmarks, f, c, rp);
      residuals(q2, X, cropLandmarks, f, c, rm);
      for (let i = 0; i < m; ++i) J[i * 6 + k] = (rp[i]! - rm[i]!) / (2 * h);
    }
    // IRLS weights of the soft-L1 loss: rho'(r^2 / C^2) = 1 / sqrt(1 + r^2 / C^2)
    const A = new Array<number>(36).fill(0);
    const g = new Array<number>(6).fill(0);
    for (let i = 0; i < m; ++i) {
      const w = 1 / Math.sqrt(1 + (r[i]! * r[i]!) / C2);
      for (let a = 0; a < 6; ++a) {
        const ja = J[i * 6 + a]! * w;
        g[a]! += ja * r[i]!;
        for (let b = a; b < 6; ++b) A[a * 6 + b]! += ja * J[i * 6 + b]!;
      }
    }
    for (let a = 0; a < 6; ++a) for (let b = 0; b < a; ++b) A[a * 6 + b] = A[b * 6 + a]!;
    let accepted = false;
    for (let tries = 0; tries < 30 && !accepted; ++tries) {
      const Ad = A.slice();
      for (let a = 0; a < 6; ++a) Ad[a * 6 + a]! *= 1 + lambda;
      const d = solve6(Ad, g.map((v) => -v));
      const q = p.map((v, k) => v + d[k]!);
      residuals(q, X, cropLandmarks, f, c, rp);
      const Fq = cost(rp);
      if (Fq <= F) {
        const step = Math.max(...d.map((v, k) => Math.abs(v) / t.poseFit.xScale[k]!));
        const done = step < 1e-12 || F - Fq <= 1e-15 * F;
        p = q;
        r.set(rp);
        F = Fq;
        lambda = Math.max(lambda / 3, 1e-12);
        accepted = true;
        if (done) return p as Vec6;
      } else lambda *= 4;
    }
    if (!accepted) break;
  }
  return p as Vec6;
}

/** alignment.pose_from_rotation: cam2world [[R^T, -2.7 R^T e_z], [0, 1]] of a world->camera rotation. */
export function poseFromRotation(Rw2c: readonly number[]): number[] {
  const radius = faceTemplate().radius;
  const R = Rw2c;
  return [
    R[0]!, R[3]!, R[6]!, -radius * R[6]!,
    R[1]!, R[4]!, R[7]!, -radius * R[7]!,
    R[2]!, R[5]!, R[8]!, -radius * R[8]!,
    0, 0, 0, 1,
  ];
}

/** The source camera (cam2world 4x4, row-major) of a face from its 68 landmarks in a size x size aligned crop. */
export function estimatePose(cropLandmarks: ReadonlyArray<readonly [number, number]>, size: number): number[] {
  return poseFromRotation(rotation(fitPoseParams(cropLandmarks, size)));
}
