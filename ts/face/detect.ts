// Face detection + 68 landmarks with @vladmandic/face-api (SSD-MobileNet v1 +
// the 68-point landmark net) on TensorFlow.js' WebAssembly backend. Everything
// runs from the installed packages (models inside @vladmandic/face-api/model,
// .wasm binaries inside @tensorflow/tfjs-backend-wasm/dist): no download.
// Loaded lazily, on the first photo that is not an aligned crop.
import { createRequire } from 'node:module';
import path from 'node:path';
import { throwIfAborted } from '../abort.js';
import { InternalError, InvalidArgumentError, NoFaceError } from '../errors.js';
import type { RgbImage } from '../image.js';
import { describe } from '../validate.js';
import { applyAffineAll, composeAffine, fitSimilarity, invertAffine, type Affine, type Point } from './geometry.js';
import { warpAffine } from './warp.js';
import { faceTemplate, templatePoints } from './template.js';

/* Minimal structural types of the parts of tfjs / face-api used here. */
interface Tensor { dispose(): void }
interface Tf {
  tensor3d(data: Int32Array | Uint8Array, shape: [number, number, number], dtype: 'int32'): Tensor;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
  env(): { set(flag: string, value: unknown): void };
}
interface FaBox { x: number; y: number; width: number; height: number }
interface FaDetection { box: FaBox; score: number }
interface FaLandmarks { positions: Array<{ x: number; y: number }> }
interface FaceApi {
  nets: {
    ssdMobilenetv1: { loadFromDisk(dir: string): Promise<void> };
    faceLandmark68Net: { loadFromDisk(dir: string): Promise<void>; detectLandmarks(t: Tensor): Promise<FaLandmarks> };
  };
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults: number }) => unknown;
  detectAllFaces(t: Tensor, o: unknown): Promise<FaDetection[]>;
}

interface Runtime { tf: Tf; faceapi: FaceApi }
let runtime: Promise<Runtime> | undefined;

async function load(): Promise<Runtime> {
  const require = createRequire(import.meta.url);
  let tf: Tf, faceapi: FaceApi, wasm: { setWasmPaths(p: string): void };
  try {
    tf = require('@tensorflow/tfjs') as Tf;
    wasm = require('@tensorflow/tfjs-backend-wasm') as typeof wasm;
    faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
  } catch (err) {
    throw new InternalError(
      `Face alignment needs @vladmandic/face-api, @tensorflow/tfjs and @tensorflow/tfjs-backend-wasm (package dependencies): ${(err as Error).message}`,
      { cause: err },
    );
  }
  const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(wasmDir + path.sep);
  if (!(await tf.setBackend('wasm'))) throw new InternalError('Cannot start the TensorFlow.js WebAssembly backend');
  await tf.ready();
  const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  return { tf, faceapi };
}

/** Loads the detector and landmark models once (about 1 s); later calls return at once. */
export function loadFaceModels(): Promise<Runtime> {
  runtime ??= load().catch((err) => {
    runtime = undefined;
    throw err;
  });
  return runtime;
}

export interface DetectFaceOptions {
  /** Which face when several are found, 0 = the largest (default), sorted by box area. */
  faceIndex?: number;
  /** Detector score threshold in (0, 1), default 0.4. */
  minConfidence?: number;
  /** Landmark refinement passes on a face-aligned patch after the first one on the box, default 2. */
  refine?: number;
  signal?: AbortSignal;
  /** Subtract the mean face-api -> dlib landmark offset (default true). */
  dlibOffset?: boolean;
  /** How the photo is named in error messages. */
  label?: string;
}

export interface DetectedFace {
  /** Detector box in photo pixels (x, y = top-left corner). */
  box: { x: number; y: number; width: number; height: number };
  score: number;
  /** 68 points (iBUG 300-W order) in photo pixels, dlib convention (pixel (i, j) centred at (i, j)). */
  landmarks: Point[];
  /** Number of faces the detector found. */
  faceCount: number;
}

/** Longer side of the copy the detector sees (SSD-MobileNet runs at 512x512). */
export const DETECT_SIDE = 512;
/** Side of the landmark net's input. */
const LM_SIDE = 112;
/** Smallest face width (detector box) that is aligned, in photo pixels. */
export const MIN_FACE_PX = 40;

/**
 * Where the landmark net sees the face on refinement passes: the aligned
 * template crop scaled by LM_CROP_SCALE about its centre offset by LM_CROP_SHIFT
 * (crop pixels of the template), i.e. the framing the net's first pass on
 * detector boxes gives on average (measured on the portrait set,
 * docs/ALIGNMENT.md).
 */
const LM_CROP_SCALE = 0.616;
const LM_CROP_SHIFT: Point = [0, 4.6];

/**
 * Mean offset of face-api's 68 points from dlib's (the landmark tool of the
 * training data, tools/landmarks68), in inter-ocular units of the aligned
 * crop, measured on 36 portraits after the refinement passes; subtracted so
 * the points follow dlib's definitions (median NME vs dlib 0.069 -> 0.038,
 * leave-one-out; docs/ALIGNMENT.md).
 */
const DLIB_OFFSET: ReadonlyArray<readonly [number, number]> = [
  [-0.0388, -0.0634], [-0.0294, -0.052], [-0.0142, -0.0532], [-0.0149, -0.0918],
  [-0.0213, -0.0811], [-0.0409, -0.0944], [-0.0795, -0.1331], [-0.097, -0.1206],
  [-0.0322, -0.066], [0.0382, -0.1184], [0.0117, -0.1111], [-0.0265, -0.0589],
  [-0.0357, -0.0542], [-0.0272, -0.0617], [-0.0279, -0.0404], [-0.0143, -0.0314],
  [-0.0119, -0.0425], [-0.006, -0.0968], [-0.0076, -0.0567], [-0.0321, -0.0452],
  [-0.0721, -0.0596], [-0.1206, -0.0832], [0.0872, -0.0764], [0.0367, -0.0477],
  [-0.0071, -0.0401], [-0.0224, -0.0526], [-0.0326, -0.0945], [-0.0235, 0.0218],
  [-0.0208, 0.0349], [-0.0206, 0.0378], [-0.0303, 0.0127], [0.0006, -0.0223],
  [-0.0205, -0.0267], [-0.0272, -0.04], [-0.031, -0.0335], [-0.0508, -0.0149],
  [-0.0204, -0.0591], [-0.0374, -0.0276], [-0.0418, -0.0305], [-0.0388, -0.0534],
  [-0.0136, -0.0327], [-0.0227, -0.0449], [-0.0186, -0.0507], [-0.0114, -0.0319],
  [-0.0065, -0.0288], [-0.0262, -0.0429], [-0.0222, -0.0309], [-0.0315, -0.0438],
  [-0.0087, -0.0295], [-0.0265, -0.024], [-0.0072, -0.0316], [-0.0298, -0.0414],
  [-0.0596, -0.0375], [-0.0281, -0.0112], [-0.041, -0.0201], [-0.0455, -0.0533],
  [-0.0195, -0.0576], [-0.0343, -0.0509], [-0.0366, -0.0565], [-0.0177, -0.0495],
  [-0.0525, -0.0352], [-0.0431, -0.0304], [-0.0307, -0.0413], [-0.0244, -0.0247],
  [-0.0056, -0.0292], [-0.0276, -0.04], [-0.0293, -0.0437], [-0.0353, -0.0371],
];

/** Moves face-api landmarks onto dlib's definitions (DLIB_OFFSET, applied in the aligned-crop frame). */
export function toDlibLandmarks(landmarks: Point[]): Point[] {
  const t = faceTemplate();
  const size = t.imageSize;
  const tp = templatePoints(size);
  const m = fitSimilarity(t.alignIdx.map((i) => landmarks[i]!), t.alignIdx.map((i) => tp[i]!));
  const iod = t.iod * size;
  const crop = applyAffineAll(m, landmarks).map(([x, y], i): Point => [x - DLIB_OFFSET[i]![0] * iod, y - DLIB_OFFSET[i]![1] * iod]);
  return applyAffineAll(invertAffine(m), crop);
}

function tensorFrom(rt: Runtime, img: RgbImage): Tensor {
  const data = new Int32Array(img.data.length);
  for (let i = 0; i < data.length; ++i) data[i] = img.data[i]!;
  return rt.tf.tensor3d(data, [img.height, img.width, 3], 'int32');
}

async function landmarksOnPatch(rt: Runtime, photo: RgbImage, m: Affine): Promise<Point[]> {
  const patch = await warpAffine(photo, m, LM_SIDE, LM_SIDE);
  const t = tensorFrom(rt, { data: patch, width: LM_SIDE, height: LM_SIDE });
  let lm: FaLandmarks;
  try {
    lm = await rt.faceapi.nets.faceLandmark68Net.detectLandmarks(t);
  } finally {
    t.dispose();
  }
  // The net's positions are continuous (pixel centres at i + 0.5): to dlib's convention, then to the photo.
  const pts: Point[] = lm.positions.map((p) => [p.x - 0.5, p.y - 0.5]);
  return applyAffineAll(invertAffine(m), pts);
}

/** Photo -> patch similarity putting the template crop, scaled/shifted as LM_CROP_*, on the patch. */
function refinementPatch(landmarks: Point[]): Affine {
  const t = faceTemplate();
  const size = t.imageSize;
  const tp = templatePoints(size);
  const toCrop = fitSimilarity(t.alignIdx.map((i) => landmarks[i]!), t.alignIdx.map((i) => tp[i]!));
  // crop -> patch: scale about the crop centre into the patch centre
  const k = (LM_SIDE / size) / LM_CROP_SCALE;
  const c = (size - 1) / 2;
  const cp = (LM_SIDE - 1) / 2;
  const cropToPatch: Affine = [k, 0, cp - k * (c + LM_CROP_SHIFT[0]), 0, k, cp - k * (c + LM_CROP_SHIFT[1])];
  return composeAffine(cropToPatch, toCrop);
}

/**
 * Detects the faces of a photo and returns the 68 landmarks of one of them
 * (the largest by default). Throws NoFaceError when there is none.
 */
export async function detectFace(photo: RgbImage, options: DetectFaceOptions = {}): Promise<DetectedFace> {
  const faceIndex = options.faceIndex ?? 0;
  if (!Number.isInteger(faceIndex) || faceIndex < 0) throw new InvalidArgumentError(`Expected a non-negative integer for faceIndex but received ${describe(faceIndex)}`);
  const minConfidence = options.minConfidence ?? 0.4;
  if (!(typeof minConfidence === 'number' && minConfidence > 0 && minConfidence < 1))
    throw new InvalidArgumentError(`Expected a number in (0, 1) for minConfidence but received ${describe(minConfidence)}`);
  const refine = options.refine ?? 2;
  const label = options.label ?? 'the image';
  const rt = await loadFaceModels();
  throwIfAborted(options.signal);

  // Detection on a copy whose longer side is DETECT_SIDE (area-filtered, not
  // the net's own bilinear resize, which aliases on large photos).
  const s = Math.min(1, DETECT_SIDE / Math.max(photo.width, photo.height));
  const small =
    s < 1
      ? await warpAffine(photo, [s, 0, 0.5 * s - 0.5, 0, s, 0.5 * s - 0.5], Math.max(1, Math.round(photo.width * s)), Math.max(1, Math.round(photo.height * s)))
      : photo.data;
  const sw = s < 1 ? Math.max(1, Math.round(photo.width * s)) : photo.width;
  const sh = s < 1 ? Math.max(1, Math.round(photo.height * s)) : photo.height;
  const t = tensorFrom(rt, { data: small, width: sw, height: sh });
  let dets: FaDetection[];
  try {
    dets = await rt.faceapi.detectAllFaces(t, new rt.faceapi.SsdMobilenetv1Options({ minConfidence, maxResults: 20 }));
  } finally {
    t.dispose();
  }
  throwIfAborted(options.signal);
  const minPx = Math.max(MIN_FACE_PX, Math.ceil((40 * Math.max(photo.width, photo.height)) / DETECT_SIDE));
  const boxes = dets
    .map((d) => ({ x: d.box.x / s, y: d.box.y / s, width: d.box.width / s, height: d.box.height / s, score: d.score }))
    .filter((b) => b.width >= MIN_FACE_PX)
    .sort((a, b) => b.width * b.height - a.width * a.height);
  if (boxes.length === 0)
    throw new NoFaceError(
      `No face found in ${label} (${photo.width}x${photo.height}): use a photo where the face is visible, roughly frontal and at least ${minPx} px wide`,
    );
  if (faceIndex >= boxes.length)
    throw new NoFaceError(`faceIndex ${faceIndex} asked for but only ${boxes.length} face${boxes.length > 1 ? 's' : ''} found in ${label}`);
  const box = boxes[faceIndex]!;

  // Pass 1: the detector box padded to a square (as face-api does).
  const side = Math.max(box.width, box.height);
  const k = LM_SIDE / side;
  const x0 = box.x + box.width / 2 - side / 2;
  const y0 = box.y + box.height / 2 - side / 2;
  // continuous u = x + 0.5 -> patch continuous k (u - x0) -> patch integer-centred - 0.5
  let landmarks = await landmarksOnPatch(rt, photo, [k, 0, k * (0.5 - x0) - 0.5, 0, k, k * (0.5 - y0) - 0.5]);
  // Refinement: the face upright, centred and scaled as the template.
  for (let i = 0; i < refine; ++i) {
    throwIfAborted(options.signal);
    landmarks = await landmarksOnPatch(rt, photo, refinementPatch(landmarks));
  }
  return {
    box: { x: box.x, y: box.y, width: box.width, height: box.height },
    score: box.score,
    landmarks: options.dlibOffset === false ? landmarks : toDlibLandmarks(landmarks),
    faceCount: boxes.length,
  };
}
