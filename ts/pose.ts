// Camera poses (DESIGN §2): 4x4 cam2world matrices in OpenCV axes (x right,
// y down, z forward), EG3D convention: world y is up, the head sits in
// [-0.5, 0.5]^3, cameras sit on a sphere of radius 2.7 around the origin and
// look at (0, 0, 0.2).
import { InvalidArgumentError } from './errors.js';
import { describe } from './validate.js';

/** 16 numbers row-major, or a 4x4 nested array (rows). */
export type Pose = ArrayLike<number> | readonly (readonly number[])[];

export const CAMERA_RADIUS = 2.7;
export const LOOK_AT: readonly [number, number, number] = [0, 0, 0.2];
const ORTHO_TOLERANCE = 1e-3;

/** The frontal camera: at (0, 0, 2.7), looking down -z at the face. */
export function frontalPose(): number[] {
  return [1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, CAMERA_RADIUS, 0, 0, 0, 1];
}

export interface PoseAngles {
  /** Degrees; positive moves the camera towards world +x. */
  yaw?: number;
  /** Degrees; positive moves the camera up (world +y), looking down at the face. */
  pitch?: number;
  /** Degrees; rotation of the camera about its viewing axis (clockwise in the image). */
  roll?: number;
}

function normalize(v: [number, number, number]): [number, number, number] {
  const n = Math.hypot(v[0], v[1], v[2]);
  return [v[0] / n, v[1] / n, v[2] / n];
}

function cross(a: readonly number[], b: readonly number[]): [number, number, number] {
  const [a0 = 0, a1 = 0, a2 = 0] = a;
  const [b0 = 0, b1 = 0, b2 = 0] = b;
  return [a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0];
}

/**
 * A camera on the sphere of radius 2.7 around the origin, aimed at the
 * look-at point (0, 0, 0.2). poseFromAngles({}) equals frontalPose().
 * |pitch| must stay below 90 degrees.
 */
export function poseFromAngles(angles: PoseAngles = {}): number[] {
  const deg = Math.PI / 180;
  const get = (k: keyof PoseAngles, limit: number): number => {
    const v = angles[k] ?? 0;
    if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) >= limit)
      throw new InvalidArgumentError(`Expected a number of degrees in (-${limit}, ${limit}) for ${k} but received ${describe(v)}`);
    return v * deg;
  };
  const yaw = get('yaw', 180.000001);
  const pitch = get('pitch', 90);
  const roll = get('roll', 180.000001);
  const p: [number, number, number] = [
    CAMERA_RADIUS * Math.sin(yaw) * Math.cos(pitch),
    CAMERA_RADIUS * Math.sin(pitch),
    CAMERA_RADIUS * Math.cos(yaw) * Math.cos(pitch),
  ];
  const f = normalize([LOOK_AT[0] - p[0], LOOK_AT[1] - p[1], LOOK_AT[2] - p[2]]); // camera +z
  const x0 = normalize(cross(f, [0, 1, 0])); // camera +x (image right)
  const y0 = cross(f, x0); // camera +y (image down)
  const c = Math.cos(roll);
  const s = Math.sin(roll);
  const x = [c * x0[0] + s * y0[0], c * x0[1] + s * y0[1], c * x0[2] + s * y0[2]];
  const y = [-s * x0[0] + c * y0[0], -s * x0[1] + c * y0[1], -s * x0[2] + c * y0[2]];
  const clean = (v: number): number => (Math.abs(v) < 1e-12 ? 0 : v);
  return [
    x[0]!, y[0]!, f[0], p[0],
    x[1]!, y[1]!, f[1], p[1],
    x[2]!, y[2]!, f[2], p[2],
    0, 0, 0, 1,
  ].map(clean);
}

/** True for a single pose (16 numbers or 4 rows of 4), as opposed to a list of poses. */
export function isSinglePose(value: unknown): value is Pose {
  if (ArrayBuffer.isView(value)) return true;
  if (!Array.isArray(value)) return false;
  if (value.length === 16 && value.every((v) => typeof v === 'number')) return true;
  return value.length === 4 && value.every((row) => Array.isArray(row) && row.length === 4 && row.every((v) => typeof v === 'number'));
}

/**
 * Validates a pose and returns it as a row-major Float32Array(16):
 * finite entries, last row 0 0 0 1, rotation block orthonormal (R^T R = I)
 * with determinant +1, within 1e-3.
 */
export function toPoseMatrix(pose: unknown, name = 'pose'): Float32Array {
  const bad = (why: string): InvalidArgumentError =>
    new InvalidArgumentError(`Expected a 4x4 camera pose (16 numbers row-major or 4 rows of 4) for ${name} but received ${why}`);
  let flat: number[];
  if (Array.isArray(pose) && pose.length === 4 && pose.every((r) => Array.isArray(r))) {
    if (!pose.every((r: unknown[]) => r.length === 4)) throw bad('rows that are not of length 4');
    flat = (pose as unknown[][]).flat() as number[];
  } else if (Array.isArray(pose) || (ArrayBuffer.isView(pose) && !(pose instanceof DataView))) {
    flat = Array.from(pose as ArrayLike<number>);
  } else {
    throw bad(describe(pose));
  }
  if (flat.length !== 16) throw bad(`${flat.length} values`);
  if (!flat.every((v) => typeof v === 'number' && Number.isFinite(v))) throw bad('a non-finite or non-numeric entry');
  const m = (r: number, c: number): number => flat[r * 4 + c]!;
  if (Math.abs(m(3, 0)) > 1e-6 || Math.abs(m(3, 1)) > 1e-6 || Math.abs(m(3, 2)) > 1e-6 || Math.abs(m(3, 3) - 1) > 1e-6)
    throw bad(`a last row of [${flat.slice(12).join(', ')}] instead of [0, 0, 0, 1]`);
  let worst = 0;
  for (let i = 0; i < 3; ++i)
    for (let j = 0; j < 3; ++j) {
      let dot = 0;
      for (let k = 0; k < 3; ++k) dot += m(k, i) * m(k, j);
      worst = Math.max(worst, Math.abs(dot - (i === j ? 1 : 0)));
    }
  if (worst > ORTHO_TOLERANCE) throw bad(`a rotation block that is not orthonormal (max |RᵀR − I| = ${worst.toPrecision(3)})`);
  const det =
    m(0, 0) * (m(1, 1) * m(2, 2) - m(1, 2) * m(2, 1)) -
    m(0, 1) * (m(1, 0) * m(2, 2) - m(1, 2) * m(2, 0)) +
    m(0, 2) * (m(1, 0) * m(2, 1) - m(1, 1) * m(2, 0));
  if (det < 0) throw bad('a reflection (rotation determinant −1)');
  return Float32Array.from(flat);
}
