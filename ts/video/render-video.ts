// renderVideo: the frames of a talking-head video as an async iterable,
// rendered one at a time through session.renderFrame (the video is never
// held in memory), with a per-frame camera and progress callbacks.
import { abortError, throwIfAborted } from '../abort.js';
import type { AudioTrack } from '../audio/index.js';
import { InvalidArgumentError } from '../errors.js';
import type { Identity } from '../identity.js';
import { pasteBack, type PastedFrame } from '../face/paste-back.js';
import { isSinglePose, toPoseMatrix, type Pose, type PoseTrack } from '../camera.js';
import type { Frame } from '../render.js';
import type { Session } from '../session.js';
import { describe, expectObject, expectSignal, isPlainObject, rejectUnknownKeys } from '../validate.js';

/** Camera(s) of a video. */
export type VideoPoses =
  /** One camera for every frame. */
  | Pose
  /** One per frame; shorter than the video: the last pose is held. */
  | readonly Pose[]
  /** Poses sampled at track.fps (default the video's fps), e.g. parsePoseTrack(json); the last pose is held. */
  | PoseTrack
  /** Called for each frame index; undefined means the identity's source pose. */
  | ((frame: number) => Pose | undefined);

export interface VideoProgress {
  /** Frames done. */
  frame: number;
  total: number;
  /** Seconds since the first frame started. */
  elapsed: number;
  framesPerSecond: number;
  /** Estimated seconds left. */
  eta: number;
}

export interface RenderVideoOptions {
  /** Prepared speech (session.prepareAudio). */
  audio: AudioTrack;
  /** Default: the identity's source pose (still head). */
  poses?: VideoPoses;
  /** Render only the first N frames (default all: audio.frameCount). */
  frames?: number;
  /**
   * true: frames are the aligned face crop (image_size square). false, the default
   * for identities encoded from a photo (without `aligned: true`): the face is pasted
   * back into the photo at its own resolution (trimmed to even width and height,
   * which 4:2:0 video needs). Aligned identities always give the crop.
   */
  crop?: boolean;
  /** Checked before every frame: an abort stops within one frame. */
  signal?: AbortSignal;
  /** Called after every frame. */
  onProgress?: (progress: VideoProgress) => void;
}

/** A rendered frame of a video (uint8 RGB) and its index. */
export interface VideoFrame extends Frame<Uint8Array> {
  index: number;
}

/** The frames of a video: iterate with for await; each iteration renders them again. */
export interface VideoFrames extends AsyncIterable<VideoFrame> {
  readonly frameCount: number;
  readonly fps: number;
  readonly width: number;
  readonly height: number;
  /** Seconds of video: frameCount / fps. */
  readonly duration: number;
}

function resolvePoses(poses: unknown, fps: number): (frame: number) => Float32Array | undefined {
  if (poses === undefined) return () => undefined;
  if (typeof poses === 'function') {
    return (i) => {
      const p = (poses as (frame: number) => Pose | undefined)(i);
      return p === undefined ? undefined : toPoseMatrix(p, `poses(${i})`);
    };
  }
  if (isSinglePose(poses)) {
    const p = toPoseMatrix(poses, 'poses');
    return () => p;
  }
  let list: unknown;
  let trackFps = fps;
  if (Array.isArray(poses)) list = poses;
  else if (isPlainObject(poses) && Array.isArray(poses.poses)) {
    list = poses.poses;
    if (poses.fps !== undefined) {
      if (typeof poses.fps !== 'number' || !Number.isFinite(poses.fps) || poses.fps <= 0)
        throw new InvalidArgumentError(`Expected a positive number for poses.fps but received ${describe(poses.fps)}`);
      trackFps = poses.fps;
    }
  } else throw new InvalidArgumentError(`Expected a pose, an array of poses, a pose track { fps, poses } or a function for poses but received ${describe(poses)}`);
  const arr = (list as unknown[]).map((p, i) => toPoseMatrix(p, `poses[${i}]`));
  if (arr.length === 0) throw new InvalidArgumentError('Expected at least one pose for poses but received an empty array');
  return (i) => arr[Math.min(arr.length - 1, Math.floor((i * trackFps) / fps + 1e-9))];
}

/**
 * The frames of a talking-head video of `identity` speaking `audio`, one per
 * 1/fps seconds of speech (fps = session.config.audio.fps, 25), rendered
 * lazily as iterated, one frame ahead of the consumer (frame i + 1 renders
 * while frame i is being written). Options are validated now; rendering
 * starts when iterated. An AbortSignal rejects the iteration with AbortError
 * before the next frame (the frame in progress finishes first).
 *
 *   const frames = renderVideo(session, identity, { audio });
 *   await writeMp4(frames, { out: 'out.mp4', audio: 'speech.wav' });
 */
export function renderVideo(session: Session, identity: Identity, options: RenderVideoOptions): VideoFrames {
  session._assertOpen();
  const opts = expectObject(options, 'options') as unknown as RenderVideoOptions;
  rejectUnknownKeys(opts as unknown as Record<string, unknown>, 'renderVideo', ['audio', 'poses', 'frames', 'crop', 'signal', 'onProgress']);
  const audio = opts.audio;
  if (typeof audio !== 'object' || audio === null || typeof (audio as AudioTrack)._handleFor !== 'function')
    throw new InvalidArgumentError(`Expected an AudioTrack from session.prepareAudio() for audio but received ${describe(audio)}`);
  if (typeof identity !== 'object' || identity === null || typeof identity._handleFor !== 'function')
    throw new InvalidArgumentError(`Expected an Identity from session.encodeIdentity() for identity but received ${describe(identity)}`);
  audio._handleFor(session);
  identity._handleFor(session);
  let frameCount = audio.frameCount;
  if (opts.frames !== undefined) {
    if (typeof opts.frames !== 'number' || !Number.isInteger(opts.frames) || opts.frames < 1)
      throw new InvalidArgumentError(`Expected a positive integer for frames but received ${describe(opts.frames)}`);
    frameCount = Math.min(frameCount, opts.frames);
  }
  const signal = expectSignal(opts.signal);
  const onProgress = opts.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function')
    throw new InvalidArgumentError(`Expected a function for onProgress but received ${describe(onProgress)}`);
  const fps = session.config.audio.fps;
  const poseAt = resolvePoses(opts.poses, fps);
  if (opts.crop !== undefined && typeof opts.crop !== 'boolean')
    throw new InvalidArgumentError(`Expected a boolean for crop but received ${describe(opts.crop)}`);
  const face = opts.crop === true ? undefined : identity.face;
  const width = face ? face.photo.width & ~1 : identity.size;
  const height = face ? face.photo.height & ~1 : identity.size;
  const toOutput = (frame: Frame<Uint8Array>): Frame<Uint8Array> =>
    face ? evenSized(pasteBack(identity, frame), width, height) : frame;

  const render = (i: number): Promise<Frame<Uint8Array>> => {
    const pose = poseAt(i);
    return session.renderFrame(identity, pose === undefined ? { audio, frame: i, signal } : { audio, frame: i, pose, signal });
  };

  async function* frames(): AsyncGenerator<VideoFrame> {
    const t0 = performance.now();
    // One frame of look-ahead: frame i + 1 renders on the engine's threads while
    // the consumer pastes back, converts and writes frame i on this one.
    let ahead: Promise<Frame<Uint8Array>> | undefined;
    try {
      for (let i = 0; i < frameCount; ++i) {
        throwIfAborted(signal);
        const current = ahead ?? render(i);
        ahead = undefined;
        const frame = await current;
        if (signal?.aborted) throw abortError(signal);
        if (i + 1 < frameCount) {
          ahead = render(i + 1);
          ahead.catch(() => {}); // surfaces when awaited; never an unhandled rejection
        }
        if (onProgress) {
          const elapsed = (performance.now() - t0) / 1000;
          const rate = elapsed > 0 ? (i + 1) / elapsed : 0;
          onProgress({ frame: i + 1, total: frameCount, elapsed, framesPerSecond: rate, eta: rate > 0 ? (frameCount - i - 1) / rate : Infinity });
        }
        yield { ...toOutput(frame), index: i };
      }
    } finally {
      // Stopped early (break, abort, error): the frame rendering ahead finishes
      // before the iteration ends, so no engine work outlives it.
      if (ahead) await ahead.catch(() => {});
    }
  }

  return {
    frameCount,
    fps,
    width,
    height,
    duration: frameCount / fps,
    [Symbol.asyncIterator]: frames,
  };
}

/** Drops a trailing odd row/column so 4:2:0 encoders accept the frame. */
export function evenSized(frame: PastedFrame, width: number, height: number): Frame<Uint8Array> {
  if (frame.width === width && frame.height === height) return frame;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; ++y) data.set(frame.data.subarray(y * frame.width * 3, (y * frame.width + width) * 3), y * width * 3);
  return { width, height, channels: 3, data };
}
