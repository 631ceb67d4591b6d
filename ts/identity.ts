// Phase 1 of DESIGN §1: encode one aligned portrait into a cached identity
// (tri-planes, slot queries, SR source features) that every frame reuses.
import { throwIfAborted } from './abort.js';
import { frontalPose, toPoseMatrix, type Pose } from './camera.js';
import { fromNative } from './errors.js';
import { alignPhoto, type FaceAlignment } from './face/index.js';
import { decodeImage, type ImageInput } from './image.js';
import { fillPolygon, landmarkPolygon, maskFromInput, templateMask, type Landmarks, type MaskInput } from './mask.js';
import { native, type NativeIdentity } from './native.js';
import type { SessionCore } from './session-core.js';
import { SessionResource } from './session-resource.js';
import { expectOptions, expectSignal, invalid } from './validate.js';

export interface EncodeIdentityOptions {
  /**
   * `true`: the image is a face crop already aligned to the model's template
   * (config.image_size square), used as is. Default `false`: any photo; the
   * face is detected (68 landmarks, @vladmandic/face-api), aligned to the
   * training template (ts/face/, docs/ALIGNMENT.md), its inner-face mask and
   * source pose are measured, and the identity keeps what pasteBack() needs.
   * Throws NoFaceError when no face is found.
   */
  aligned?: boolean;
  /** Which face when the photo has several: 0 = the largest (default), then by decreasing size. Not with `aligned: true`. */
  faceIndex?: number;
  /** Source camera (cam2world) of the photo; default frontalPose() for aligned crops, the landmark-based estimate otherwise. */
  pose?: Pose;
  /**
   * 68 landmarks in the input image's pixel coordinates (dlib convention).
   * Aligned crops: used to build the inner-face mask. Photos: used instead of
   * detection.
   */
  landmarks?: Landmarks;
  /** An explicit inner-face mask (image_size square); wins over landmarks. */
  mask?: MaskInput;
  signal?: AbortSignal;
}

/** An encoded portrait. Belongs to the session that encoded it. */
export class Identity extends SessionResource<NativeIdentity> {
  /** Side of the square image the identity was encoded from (config.image_size). */
  readonly size: number;
  /** The source camera (row-major cam2world); renders default to it. */
  readonly pose: Float32Array;
  /** The inner-face mask that was used, size*size in [0, 1]. */
  readonly mask: Float32Array;
  /**
   * Face preparation results when the identity was encoded from a photo
   * (not `aligned: true`): the photo, crop similarity, landmarks, lip box,
   * estimated pose and the feathered blend mask used by pasteBack().
   */
  readonly face: FaceAlignment | undefined;

  /** @internal */
  constructor(session: SessionCore, handle: NativeIdentity, size: number, pose: Float32Array, mask: Float32Array, face?: FaceAlignment) {
    super(session, handle, 'identity', 'encoded');
    this.size = size;
    this.pose = pose;
    this.mask = mask;
    this.face = face;
  }
}

/** @internal Implementation of Session.encodeIdentity. */
export async function encodeIdentity(session: SessionCore, image: ImageInput, options?: EncodeIdentityOptions): Promise<Identity> {
  const size = session.config.image_size; // throws DisposedError when disposed
  const opts = expectOptions(options, 'options', {
    fn: 'encodeIdentity',
    keys: ['aligned', 'faceIndex', 'pose', 'landmarks', 'mask', 'signal'],
  }) as EncodeIdentityOptions;
  const signal = expectSignal(opts.signal);
  if (opts.aligned !== undefined && typeof opts.aligned !== 'boolean') throw invalid('a boolean', 'aligned', opts.aligned);
  let pose: Float32Array;
  let rgb: Float32Array;
  let mask: Float32Array;
  let face: FaceAlignment | undefined;
  if (opts.aligned !== true) {
    if (opts.faceIndex !== undefined && !(Number.isInteger(opts.faceIndex) && opts.faceIndex >= 0))
      throw invalid('a non-negative integer', 'faceIndex', opts.faceIndex);
    const userPose = opts.pose !== undefined ? toPoseMatrix(opts.pose, 'pose') : undefined;
    throwIfAborted(signal);
    face = await alignPhoto(image, {
      size,
      ...(opts.faceIndex !== undefined ? { faceIndex: opts.faceIndex } : {}),
      ...(opts.landmarks !== undefined ? { landmarks: opts.landmarks } : {}),
      ...(signal ? { signal } : {}),
    });
    pose = userPose ?? toPoseMatrix(face.pose, 'pose');
    mask = opts.mask !== undefined ? maskFromInput(opts.mask, size) : face.mask;
    rgb = new Float32Array(face.crop.length);
    for (let i = 0; i < rgb.length; ++i) rgb[i] = face.crop[i]! / 255;
  } else {
    if (opts.faceIndex !== undefined) throw invalid('no faceIndex with { aligned: true } (the crop holds one face)', 'faceIndex', opts.faceIndex);
    pose = toPoseMatrix(opts.pose ?? frontalPose(), 'pose');
    throwIfAborted(signal);
    const decoded = await decodeImage(image, size);
    rgb = decoded.rgb;
    if (opts.mask !== undefined) mask = maskFromInput(opts.mask, size);
    else if (opts.landmarks !== undefined)
      mask = fillPolygon(landmarkPolygon(opts.landmarks, size / decoded.sourceWidth, size / decoded.sourceHeight), size);
    else mask = templateMask(size);
  }
  throwIfAborted(signal);

  return session._queue.run(async () => {
    let handle: NativeIdentity;
    try {
      handle = await native().encodeIdentity(session._native(), rgb, mask, pose);
    } catch (err) {
      throw fromNative(err);
    }
    return new Identity(session, handle, size, pose, mask, face);
  }, signal);
}
