// Camera poses (DESIGN §2): 4x4 cam2world matrices in OpenCV axes (x right,
// y down, z forward), EG3D convention: world y is up, the head sits in
// [-0.5, 0.5]^3, cameras sit on a sphere of radius 2.7 around the origin and
// look at (0, 0, 0.2). The source pose estimated from a photo's landmarks is
// in ts/face/head-pose.ts.
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

// ---- pose offsets, orbit preset, JSON pose tracks --------------------------

type Vec3 = [number, number, number];

/** Validates like toPoseMatrix but keeps double precision: 16 numbers row-major. */
function poseNumbers(pose: unknown, name: string): number[] {
  toPoseMatrix(pose, name);
  if (Array.isArray(pose) && pose.length === 4 && pose.every((r) => Array.isArray(r))) return (pose as number[][]).flat();
  return Array.from(pose as ArrayLike<number>);
}

/** Rotation matrix (row-major 3x3) of `angle` radians about the unit `axis` (Rodrigues). */
function axisAngle(axis: Vec3, angle: number): number[] {
  const [x, y, z] = axis;
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const t = 1 - c;
  return [
    t * x * x + c, t * x * y - s * z, t * x * z + s * y,
    t * x * y + s * z, t * y * y + c, t * y * z - s * x,
    t * x * z - s * y, t * y * z + s * x, t * z * z + c,
  ];
}

function mul3(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(9).fill(0);
  for (let r = 0; r < 3; ++r)
    for (let c = 0; c < 3; ++c) {
      let v = 0;
      for (let k = 0; k < 3; ++k) v += a[r * 3 + k]! * b[k * 3 + c]!;
      out[r * 3 + c] = v;
    }
  return out;
}

function apply3(m: readonly number[], v: readonly number[]): Vec3 {
  return [
    m[0]! * v[0]! + m[1]! * v[1]! + m[2]! * v[2]!,
    m[3]! * v[0]! + m[4]! * v[1]! + m[5]! * v[2]!,
    m[6]! * v[0]! + m[7]! * v[1]! + m[8]! * v[2]!,
  ];
}

function angle(angles: PoseAngles, k: keyof PoseAngles, limit: number, name: string): number {
  const v = angles[k] ?? 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > limit)
    throw new InvalidArgumentError(`Expected a number of degrees in [-${limit}, ${limit}] for ${name}${k} but received ${describe(v)}`);
  return (v * Math.PI) / 180;
}

/**
 * The camera of `base` (default frontalPose()) moved relative to itself:
 * orbited about its look-at point (the point of its optical axis nearest to
 * LOOK_AT, i.e. LOOK_AT for the usual poses) by `pitch` degrees about its own
 * horizontal axis (positive: camera up, looking down at the face), then by
 * `yaw` degrees about the world vertical (positive: towards world +x), then
 * rolled by `roll` degrees about its viewing axis (clockwise in the image, as
 * poseFromAngles). The distance to the look-at point is kept, so the face
 * stays centred and the same size. offsetPose(base, {}) equals base.
 * (poseFromAngles orbits the origin at radius 2.7 instead: for a frontal base
 * the two differ by a few hundredths of a unit in camera position.)
 */
export function offsetPose(base: Pose = frontalPose(), angles: PoseAngles = {}, name = 'angles'): number[] {
  if (typeof angles !== 'object' || angles === null) throw new InvalidArgumentError(`Expected an object { yaw, pitch, roll } for ${name} but received ${describe(angles)}`);
  const m = poseNumbers(base, 'base');
  const yaw = angle(angles, 'yaw', 180, `${name}.`);
  const pitch = angle(angles, 'pitch', 89, `${name}.`);
  const roll = angle(angles, 'roll', 180, `${name}.`);
  const R = [m[0]!, m[1]!, m[2]!, m[4]!, m[5]!, m[6]!, m[8]!, m[9]!, m[10]!];
  const c: Vec3 = [m[3]!, m[7]!, m[11]!];
  const f: Vec3 = [m[2]!, m[6]!, m[10]!]; // viewing direction (camera +z)
  const right: Vec3 = [m[0]!, m[4]!, m[8]!]; // camera +x
  const d = (LOOK_AT[0] - c[0]) * f[0] + (LOOK_AT[1] - c[1]) * f[1] + (LOOK_AT[2] - c[2]) * f[2];
  const dist = d > 1e-6 ? d : CAMERA_RADIUS - LOOK_AT[2];
  const pivot: Vec3 = [c[0] + dist * f[0], c[1] + dist * f[1], c[2] + dist * f[2]];
  // Camera up is world +y; pitch up = rotation about the camera's right axis by -pitch.
  const Q = mul3(axisAngle([0, 1, 0], yaw), axisAngle(right, -pitch));
  const cr = Math.cos(roll);
  const sr = Math.sin(roll);
  const Rz = [cr, -sr, 0, sr, cr, 0, 0, 0, 1];
  const R2 = mul3(mul3(Q, R), Rz);
  const off = apply3(Q, [c[0] - pivot[0], c[1] - pivot[1], c[2] - pivot[2]]);
  const p: Vec3 = [pivot[0] + off[0], pivot[1] + off[1], pivot[2] + off[2]];
  const clean = (v: number): number => (Math.abs(v) < 1e-12 ? 0 : v);
  return [
    R2[0]!, R2[1]!, R2[2]!, p[0],
    R2[3]!, R2[4]!, R2[5]!, p[1],
    R2[6]!, R2[7]!, R2[8]!, p[2],
    0, 0, 0, 1,
  ].map(clean);
}

export interface OrbitOptions {
  /** Peak left-right angle, degrees (default 20). */
  yawAmplitude?: number;
  /** Peak up-down angle, degrees (default 5). */
  pitchAmplitude?: number;
  /** Seconds per full left-right sweep (default 4). */
  period?: number;
  /** Video frame rate (default 25). */
  fps?: number;
  /** Camera the orbit is relative to (default frontalPose(); pass identity.pose). */
  base?: Pose;
}

function positive(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new InvalidArgumentError(`Expected a positive number for ${name} but received ${describe(value)}`);
  return value;
}

/**
 * A slow free-view orbit, one pose per frame, starting at the base pose:
 * yaw = yawAmplitude·sin(2πt/period), pitch = pitchAmplitude·sin(4πt/period)
 * (a figure of eight), t = frame / fps, applied with offsetPose.
 */
export function orbitTrack(frameCount: number, options: OrbitOptions = {}): number[][] {
  if (typeof frameCount !== 'number' || !Number.isInteger(frameCount) || frameCount < 0)
    throw new InvalidArgumentError(`Expected a non-negative integer for frameCount but received ${describe(frameCount)}`);
  const opts = options ?? {};
  const yawAmp = opts.yawAmplitude === undefined ? 20 : opts.yawAmplitude;
  const pitchAmp = opts.pitchAmplitude === undefined ? 5 : opts.pitchAmplitude;
  for (const [k, v, lim] of [['yawAmplitude', yawAmp, 180], ['pitchAmplitude', pitchAmp, 89]] as const)
    if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > lim)
      throw new InvalidArgumentError(`Expected a number of degrees in [-${lim}, ${lim}] for ${k} but received ${describe(v)}`);
  const period = positive(opts.period, 'period', 4);
  const fps = positive(opts.fps, 'fps', 25);
  const base = opts.base === undefined ? frontalPose() : poseNumbers(opts.base, 'base');
  const out: number[][] = [];
  for (let i = 0; i < frameCount; ++i) {
    const w = (2 * Math.PI * i) / fps / period;
    out.push(offsetPose(base, { yaw: yawAmp * Math.sin(w), pitch: pitchAmp * Math.sin(2 * w) }));
  }
  return out;
}

/** A camera path: poses sampled at `fps` (the video's rate when absent). */
export interface PoseTrack {
  fps?: number;
  poses: Pose[];
}

export interface ParsePoseTrackOptions {
  /** The camera {yaw, pitch, roll} entries are relative to (default frontalPose(); pass identity.pose). */
  base?: Pose;
}

/**
 * Parses and validates a JSON pose track: `{"fps": 25, "poses": [entry, ...]}`
 * or a bare array of entries, where an entry is a cam2world matrix (16
 * numbers row-major, or 4 rows of 4) or `{"yaw": deg, "pitch": deg, "roll":
 * deg}` (offsetPose of `base`). `json` is the JSON text or the parsed value.
 * Returns every pose as 16 numbers. NaN/Infinity (e.g. 1e999) are rejected.
 * When rendering, a track shorter than the audio holds its last pose.
 */
export function parsePoseTrack(json: unknown, options: ParsePoseTrackOptions = {}): { fps?: number; poses: number[][] } {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw new InvalidArgumentError(`Expected a JSON pose track but parsing failed: ${(err as Error).message}`, { cause: err });
    }
  } else if (Buffer.isBuffer(json)) return parsePoseTrack(json.toString('utf8'), options);
  let entries: unknown;
  let fps: number | undefined;
  if (Array.isArray(value)) entries = value;
  else if (typeof value === 'object' && value !== null) {
    const obj = value as Record<string, unknown>;
    for (const k of Object.keys(obj))
      if (k !== 'fps' && k !== 'poses') throw new InvalidArgumentError(`Unexpected key ${JSON.stringify(k)} in the pose track (expected "fps" and "poses")`);
    if (obj.fps !== undefined) fps = positive(obj.fps, 'fps', 25);
    entries = obj.poses;
    if (!Array.isArray(entries)) throw new InvalidArgumentError(`Expected an array for poses but received ${describe(entries)}`);
  } else throw new InvalidArgumentError(`Expected a pose track { "fps", "poses": [...] } or an array of poses but received ${describe(value)}`);
  const list = entries as unknown[];
  if (list.length === 0) throw new InvalidArgumentError('Expected at least one pose in the pose track but received none');
  const base = options?.base === undefined ? frontalPose() : poseNumbers(options.base, 'base');
  const poses = list.map((entry, i) => {
    const name = `poses[${i}]`;
    if (Array.isArray(entry) || ArrayBuffer.isView(entry)) {
      const flat: unknown[] = Array.isArray(entry) && entry.length === 4 && entry.every((r) => Array.isArray(r)) ? (entry as unknown[][]).flat() : Array.from(entry as ArrayLike<unknown>);
      const finite = flat.filter((v) => typeof v === 'number' && Number.isFinite(v)).length;
      if (flat.length !== 16 || finite !== 16)
        throw new InvalidArgumentError(
          flat.length !== 16
            ? `Expected 16 finite numbers for ${name} but received ${flat.length}`
            : `Expected 16 finite numbers for ${name} but received ${16 - finite} non-finite or non-numeric value${16 - finite === 1 ? '' : 's'}`,
        );
      return poseNumbers(flat, name);
    }
    if (typeof entry === 'object' && entry !== null) {
      for (const k of Object.keys(entry))
        if (k !== 'yaw' && k !== 'pitch' && k !== 'roll')
          throw new InvalidArgumentError(`Unexpected key ${JSON.stringify(k)} in ${name} (expected yaw, pitch, roll)`);
      return offsetPose(base, entry as PoseAngles, name);
    }
    throw new InvalidArgumentError(`Expected 16 finite numbers or { yaw, pitch, roll } for ${name} but received ${describe(entry)}`);
  });
  return fps === undefined ? { poses } : { fps, poses };
}
