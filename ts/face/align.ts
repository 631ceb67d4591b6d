// Photo -> aligned crop (train/s3d_nerf/alignment.py, DESIGN §2): similarity
// fitted by least squares on the eyes and nose (points 36-47, 27-35) to the
// template, bilinear warp to the size x size crop, inner-face mask (jaw 0-16,
// brows 26-17) and lip box from the landmarks mapped into the crop, and a
// feathered blend mask for paste-back.
import type { RgbImage } from '../image.js';
import { fillPolygon } from '../mask.js';
import { applyAffineAll, fitSimilarity, type Affine, type Point } from './geometry.js';
import { warpAffine } from './warp.js';
import { faceTemplate, templatePoints } from './template.js';

export interface AlignedFace {
  /** Crop side in pixels. */
  size: number;
  /** size*size*3 bytes, the aligned crop. */
  crop: Uint8Array;
  /** Photo -> crop similarity, 2x3 row-major (pixel centres at integers, as cv2). */
  matrix: Affine;
  /** The 68 landmarks in photo pixels. */
  landmarks: Point[];
  /** The 68 landmarks in crop pixels. */
  cropLandmarks: Point[];
  /** Inner-face mask (size*size, 0/1): polygon jaw 0-16 then brows 26-17. */
  mask: Float32Array;
  /** [x0, y0, x1, y1] lip box in crop pixels. */
  lipBox: [number, number, number, number];
}

/** alignment.align_matrix: the photo -> crop similarity for one face's 68 landmarks. */
export function alignMatrix(landmarks: ReadonlyArray<readonly [number, number]>, size: number): Affine {
  const t = faceTemplate();
  const tp = templatePoints(size);
  return fitSimilarity(t.alignIdx.map((i) => landmarks[i]!), t.alignIdx.map((i) => tp[i]!));
}

/** alignment.mask_polygon: jaw 0..16 then brows 26..17. */
export function maskPolygon(cropLandmarks: ReadonlyArray<readonly [number, number]>): Point[] {
  return faceTemplate().maskIdx.map((i) => [cropLandmarks[i]![0], cropLandmarks[i]![1]]);
}

/** alignment.lip_box: box of points 48..67 padded by 15% of its width (at least 4 px), clipped to the crop. */
export function lipBox(cropLandmarks: ReadonlyArray<readonly [number, number]>, size: number): [number, number, number, number] {
  const t = faceTemplate();
  const xs = t.lipIdx.map((i) => cropLandmarks[i]![0]);
  const ys = t.lipIdx.map((i) => cropLandmarks[i]![1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const m = Math.max(4, t.lipBoxPad * (x1 - x0));
  const c = (v: number): number => Math.min(size, Math.max(0, v));
  return [c(x0 - m), c(y0 - m), c(x1 + m), c(y1 + m)];
}

/** Aligns one face of a photo given its 68 landmarks (photo pixels, dlib convention). */
export async function alignFace(photo: RgbImage, landmarks: ReadonlyArray<readonly [number, number]>, size: number): Promise<AlignedFace> {
  const matrix = alignMatrix(landmarks, size);
  const crop = await warpAffine(photo, matrix, size, size);
  const cropLandmarks = applyAffineAll(matrix, landmarks);
  // As the training data (dataset.py: alignment.fill_mask(mask_poly)), the
  // polygon of crop landmarks is filled as given.
  const mask = fillPolygon(maskPolygon(cropLandmarks), size);
  return {
    size,
    crop,
    matrix,
    landmarks: landmarks.map(([x, y]) => [x, y]),
    cropLandmarks,
    mask,
    lipBox: lipBox(cropLandmarks, size),
  };
}

/**
 * The paste-back blend mask (size*size in [0, 1]): the face from the brows
 * (raised by 0.25 IOD to take in the forehead) to below the chin (jaw line
 * pushed out by 12% of the face width to leave room for an opening mouth),
 * feathered by a Gaussian of sigma = 4% of the side, and faded to 0 over the
 * last 4% of the crop so no seam shows at the crop border.
 */
export function blendMask(cropLandmarks: ReadonlyArray<readonly [number, number]>, size: number): Float32Array {
  const t = faceTemplate();
  const iod = t.iod * size;
  const poly = maskPolygon(cropLandmarks);
  let cx = 0, cy = 0;
  for (const [x, y] of poly) { cx += x; cy += y; }
  cx /= poly.length; cy /= poly.length;
  const grown = poly.map(([x, y], k): [number, number] => {
    if (k >= 17) return [x, y - 0.25 * iod]; // brows up
    return [cx + (x - cx) * 1.12, cy + (y - cy) * 1.12]; // jaw out
  });
  const hard = fillPolygon(grown, size);
  const soft = gaussianBlur(hard, size, 0.04 * size);
  const edge = Math.max(1, 0.04 * size);
  for (let y = 0; y < size; ++y)
    for (let x = 0; x < size; ++x) {
      const d = Math.min(x + 0.5, y + 0.5, size - x - 0.5, size - y - 0.5);
      soft[y * size + x]! *= Math.min(1, Math.max(0, d / edge));
    }
  return soft;
}

/** Separable Gaussian blur of a size*size map (zero outside). */
function gaussianBlur(src: Float32Array, size: number, sigma: number): Float32Array {
  const r = Math.ceil(3 * sigma);
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; ++i) sum += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; ++i) k[i]! /= sum;
  const tmp = new Float32Array(size * size);
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; ++y)
    for (let x = 0; x < size; ++x) {
      let v = 0;
      for (let i = -r; i <= r; ++i) {
        const xx = x + i;
        if (xx >= 0 && xx < size) v += k[i + r]! * src[y * size + xx]!;
      }
      tmp[y * size + x] = v;
    }
  for (let y = 0; y < size; ++y)
    for (let x = 0; x < size; ++x) {
      let v = 0;
      for (let i = -r; i <= r; ++i) {
        const yy = y + i;
        if (yy >= 0 && yy < size) v += k[i + r]! * tmp[yy * size + x]!;
      }
      out[y * size + x] = v;
    }
  return out;
}
