// Face preparation for any photo: decode -> detect + 68 landmarks -> align to
// the training template -> inner-face mask, lip box, source pose, blend mask.
import { throwIfAborted } from '../abort.js';
import { InvalidArgumentError, NoFaceError } from '../errors.js';
import { decodePhoto, type ImageInput, type RgbImage } from '../image.js';
import { landmarkPolygon, type Landmarks } from '../mask.js';
import { describe } from '../validate.js';
import { alignFace, blendMask, type AlignedFace } from './align.js';
import { detectFace, type DetectedFace } from './detect.js';
import { estimatePose } from './head-pose.js';
import { faceTemplate } from './template.js';

export interface AlignPhotoOptions {
  /** Which face when there are several: 0 = the largest (default), then by decreasing size. */
  faceIndex?: number;
  /** 68 landmarks of the face in the photo's pixels (dlib convention); skips detection. */
  landmarks?: Landmarks;
  /** Crop side, default the template's (256). */
  size?: number;
  /** Detector score threshold in (0, 1), default 0.4. */
  minConfidence?: number;
  signal?: AbortSignal;
}

/** Everything face preparation found out about a photo; what paste-back needs. */
export interface FaceAlignment extends AlignedFace {
  /** The photo (8-bit RGB, EXIF-rotated, alpha flattened onto white) at its own resolution. */
  photo: RgbImage;
  /** Source camera (cam2world 4x4, row-major) estimated from the crop landmarks. */
  pose: number[];
  /** Feathered paste-back mask, size*size in [0, 1]. */
  blendMask: Float32Array;
  /** Detector box and score (absent when landmarks were given), number of faces found. */
  detection?: { box: DetectedFace['box']; score: number; faceCount: number };
  /** Milliseconds spent in detection + landmarks (0 when landmarks were given). */
  detectMs: number;
}

/** Detects, aligns and measures one face of any photo. Throws NoFaceError when there is none. */
export async function alignPhoto(image: ImageInput, options: AlignPhotoOptions = {}): Promise<FaceAlignment> {
  const size = options.size ?? faceTemplate().imageSize;
  if (!Number.isInteger(size) || size < 16 || size > 4096) throw new InvalidArgumentError(`Expected an integer in [16, 4096] for size but received ${describe(size)}`);
  if (options.faceIndex !== undefined && !(Number.isInteger(options.faceIndex) && options.faceIndex >= 0))
    throw new InvalidArgumentError(`Expected a non-negative integer for faceIndex but received ${describe(options.faceIndex)}`);
  throwIfAborted(options.signal);
  const photo = await decodePhoto(image);
  throwIfAborted(options.signal);
  let landmarks: Array<[number, number]>;
  let detection: FaceAlignment['detection'];
  let detectMs = 0;
  if (options.landmarks !== undefined) {
    // landmarkPolygon validates; reorder back to the 68 points
    landmarkPolygon(options.landmarks);
    const arr = options.landmarks as ArrayLike<unknown>;
    landmarks = Array.isArray(arr[0])
      ? Array.from(options.landmarks as ReadonlyArray<readonly [number, number]>, (p) => [Number(p[0]), Number(p[1])])
      : Array.from({ length: 68 }, (_, i) => [Number((arr as ArrayLike<number>)[2 * i]), Number((arr as ArrayLike<number>)[2 * i + 1])]);
  } else {
    const t0 = performance.now();
    const det = await detectFace(photo, {
      ...(options.faceIndex !== undefined ? { faceIndex: options.faceIndex } : {}),
      ...(options.minConfidence !== undefined ? { minConfidence: options.minConfidence } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      label: photo.label,
    });
    detectMs = performance.now() - t0;
    landmarks = det.landmarks;
    detection = { box: det.box, score: det.score, faceCount: det.faceCount };
  }
  throwIfAborted(options.signal);
  const aligned = await alignFace(photo, landmarks, size);
  const iodCrop = faceTemplate().iod * size;
  const scale = Math.hypot(aligned.matrix[0], aligned.matrix[3]);
  if (!(iodCrop / scale >= 8))
    throw new NoFaceError(
      `The face found in ${photo.label} is too small (eyes ${(iodCrop / scale).toFixed(1)} px apart): use a photo where the face is at least 40 px wide`,
    );
  return {
    ...aligned,
    photo,
    pose: estimatePose(aligned.cropLandmarks, size),
    blendMask: blendMask(aligned.cropLandmarks, size),
    ...(detection ? { detection } : {}),
    detectMs,
  };
}

export { detectFace, loadFaceModels } from './detect.js';
export type { DetectFaceOptions, DetectedFace } from './detect.js';
export type { AlignedFace } from './align.js';
export type { RgbImage } from '../image.js';
