// The face-alignment template shared with training (weights/face-template.json,
// written from and read by train/s3d_nerf/alignment.py): the mean 68-point face,
// the points the crop similarity is fitted on, the inner-face polygon, the lip
// box and the rough 3-D face used for the source pose.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InternalError } from '../errors.js';

export interface FaceTemplate {
  /** Side of the crop the template is defined for (256). */
  imageSize: number;
  /** Eye mid-point, fractions of the crop side. */
  eyeMid: readonly [number, number];
  /** Inter-ocular distance, fraction of the crop side. */
  iod: number;
  /** Normalised focal length (DESIGN §2). */
  focal: number;
  /** Camera distance from the origin. */
  radius: number;
  lipBoxPad: number;
  /** Indices of the points the crop similarity is fitted on (eyes 36-47, nose 27-35). */
  alignIdx: readonly number[];
  /** Inner-face polygon: jaw 0-16 then brows 26-17. */
  maskIdx: readonly number[];
  /** Lip points 48-67. */
  lipIdx: readonly number[];
  /** 68 (x, y) in inter-ocular units, origin at the eye mid-point, y down. */
  mean68: ReadonlyArray<readonly [number, number]>;
  /** 68 (x, y, z) in EG3D world units (the 3-D face of the pose fit). */
  mean68_3d: ReadonlyArray<readonly [number, number, number]>;
  /** Soft-L1 scale (crop pixels) and parameter scales of the pose fit. */
  poseFit: { fScale: number; xScale: readonly number[] };
}

/** Path of the template file inside the package. */
export const FACE_TEMPLATE_PATH = fileURLToPath(new URL('../../weights/face-template.json', import.meta.url));

let cached: FaceTemplate | undefined;

/** The template (read once). */
export function faceTemplate(): FaceTemplate {
  if (cached) return cached;
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(FACE_TEMPLATE_PATH, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new InternalError(`Cannot read the face template ${FACE_TEMPLATE_PATH}: ${(err as Error).message}`, { cause: err });
  }
  const pf = j.pose_fit as { f_scale: number; x_scale: number[] };
  const t: FaceTemplate = {
    imageSize: j.image_size as number,
    eyeMid: j.eye_mid as [number, number],
    iod: j.iod as number,
    focal: j.focal as number,
    radius: j.radius as number,
    lipBoxPad: j.lip_box_pad as number,
    alignIdx: j.align_idx as number[],
    maskIdx: j.mask_idx as number[],
    lipIdx: j.lip_idx as number[],
    mean68: j.mean68 as [number, number][],
    mean68_3d: j.mean68_3d as [number, number, number][],
    poseFit: { fScale: pf.f_scale, xScale: pf.x_scale },
  };
  if (t.mean68.length !== 68 || t.mean68_3d.length !== 68 || !(t.iod > 0))
    throw new InternalError(`The face template ${FACE_TEMPLATE_PATH} is malformed`);
  cached = t;
  return t;
}

/**
 * The 68 template points in pixels of a size x size crop (dlib convention:
 * pixel (i, j) has its centre at (i, j)), as alignment.template_points.
 */
export function templatePoints(size: number): Array<[number, number]> {
  const t = faceTemplate();
  return t.mean68.map(([x, y]) => [size * (t.eyeMid[0] + t.iod * x), size * (t.eyeMid[1] + t.iod * y)]);
}
