// Phase 1 of DESIGN §1: encode one aligned portrait into a cached identity
// (tri-planes, slot queries, SR source features) that every frame reuses.
import { throwIfAborted } from './abort.js';
import { NotImplementedError, fromNative } from './errors.js';
import { decodeImage, type ImageInput } from './image.js';
import { fillPolygon, landmarkPolygon, maskFromInput, templateMask, type Landmarks, type MaskInput } from './mask.js';
import { native, type NativeIdentity } from './native.js';
import { frontalPose, toPoseMatrix, type Pose } from './pose.js';
import { SessionResource } from './session-resource.js';
import type { Session } from './session.js';
import { expectOptions, expectSignal, invalid } from './validate.js';

export interface EncodeIdentityOptions {
  /**
   * Must be `true`: the image is a face crop already aligned to the model's
   * template (config.image_size square). Aligning arbitrary photos is not
   * available yet.
   */
  aligned?: boolean;
  /** Source camera (cam2world) of the photo; default frontalPose(). */
  pose?: Pose;
  /** 68 landmarks in the input image's pixel coordinates; used to build the inner-face mask. */
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

  /** @internal */
  constructor(session: Session, handle: NativeIdentity, size: number, pose: Float32Array, mask: Float32Array) {
    super(session, handle, 'identity', 'encoded');
    this.size = size;
    this.pose = pose;
    this.mask = mask;
  }
}

/** @internal Implementation of Session.encodeIdentity. */
export async function encodeIdentity(session: Session, image: ImageInput, options?: EncodeIdentityOptions): Promise<Identity> {
  const size = session.config.image_size; // throws DisposedError when disposed
  const opts = expectOptions(options) as EncodeIdentityOptions;
  const signal = expectSignal(opts.signal);
  if (opts.aligned !== true) {
    if (opts.aligned !== undefined && opts.aligned !== false) throw invalid('a boolean', 'aligned', opts.aligned);
    throw new NotImplementedError(
      `Face alignment of arbitrary photos is not available yet: pass a face crop aligned to the ` +
        `${size}x${size} template with { aligned: true }`,
    );
  }
  const pose = toPoseMatrix(opts.pose ?? frontalPose(), 'pose');
  throwIfAborted(signal);

  const { rgb, sourceWidth, sourceHeight } = await decodeImage(image, size);
  let mask: Float32Array;
  if (opts.mask !== undefined) mask = maskFromInput(opts.mask, size);
  else if (opts.landmarks !== undefined)
    mask = fillPolygon(landmarkPolygon(opts.landmarks, size / sourceWidth, size / sourceHeight), size);
  else mask = templateMask(size);

  return session._queue.run(async () => {
    let handle: NativeIdentity;
    try {
      handle = await native().encodeIdentity(session._native(), rgb, mask, pose);
    } catch (err) {
      throw fromNative(err);
    }
    return new Identity(session, handle, size, pose, mask);
  }, signal);
}
