// Phase 2 of DESIGN §1: one output frame per (identity, audio frame, pose).
import { abortError } from './abort.js';
import type { AudioTrack } from './audio/index.js';
import { isSinglePose, toPoseMatrix, type Pose } from './camera.js';
import { DisposedError, fromNative } from './errors.js';
import type { Identity } from './identity.js';
import { native } from './native.js';
import type { SessionCore } from './session-core.js';
import { expectObject, expectOneOf, expectSignal, invalid, rejectUnknownKeys } from './validate.js';

export type PixelFormat = 'uint8' | 'float32';

/** An RGB image, row-major, interleaved (data.length = width*height*3). */
export interface Frame<T extends Uint8Array | Float32Array = Uint8Array> {
  width: number;
  height: number;
  channels: 3;
  /** uint8: 0..255; float32: nominally [0, 1], unclamped. */
  data: T;
}

export interface RenderFrameOptions {
  audio: AudioTrack;
  /** Video frame index, 0 <= frame < audio.frameCount. */
  frame: number;
  /** Target camera; default the identity's source pose (still head). */
  pose?: Pose;
  /** Checked before the render starts (a render in progress runs to the end). */
  signal?: AbortSignal;
  /** 'uint8' (default): clamp(round(x * 255)); 'float32': the engine's floats. */
  format?: PixelFormat;
}

export interface RenderFramesOptions {
  audio: AudioTrack;
  /** Frame indices, or a half-open range { start, end } (end exclusive); default every frame of the audio. */
  frames?: number[] | { start: number; end: number };
  /** One pose for all frames, or one per frame; default the identity's source pose. */
  pose?: Pose | Pose[];
  /** Checked before the first frame and between frames. */
  signal?: AbortSignal;
  format?: PixelFormat;
}

export function toUint8(rgb: Float32Array): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; ++i) {
    const v = Math.round(rgb[i]! * 255);
    out[i] = v > 255 ? 255 : v > 0 ? v : 0; // NaN -> 0
  }
  return out;
}

function frameIndex(value: unknown, name: string, audio: AudioTrack): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= audio.frameCount)
    throw invalid(`an integer between 0 and ${audio.frameCount - 1}`, name, value);
  return value;
}

function checkAudio(value: unknown): AudioTrack {
  if (typeof value !== 'object' || value === null || typeof (value as AudioTrack)._handleFor !== 'function')
    throw invalid('an AudioTrack from session.prepareAudio()', 'audio', value);
  return value as AudioTrack;
}

function checkIdentity(value: unknown): Identity {
  if (typeof value !== 'object' || value === null || typeof (value as Identity)._handleFor !== 'function')
    throw invalid('an Identity from session.encodeIdentity()', 'identity', value);
  return value as Identity;
}

async function renderOne(session: SessionCore, identity: Identity, audio: AudioTrack, frame: number, pose: Float32Array, format: PixelFormat): Promise<Frame<Uint8Array | Float32Array>> {
  let rgb: Float32Array;
  try {
    rgb = await native().renderFrame(session._native(), identity._handleFor(session), audio._handleFor(session), frame, pose);
  } catch (err) {
    throw fromNative(err);
  }
  const size = identity.size;
  return { width: size, height: size, channels: 3, data: format === 'float32' ? rgb : toUint8(rgb) };
}

/** @internal Implementation of Session.renderFrame. */
export async function renderFrame(session: SessionCore, identity: Identity, options: RenderFrameOptions): Promise<Frame<Uint8Array | Float32Array>> {
  session._assertOpen();
  checkIdentity(identity)._handleFor(session);
  const opts = expectObject(options, 'options') as unknown as RenderFrameOptions;
  rejectUnknownKeys(opts as unknown as Record<string, unknown>, 'renderFrame', ['audio', 'frame', 'pose', 'signal', 'format']);
  const audio = checkAudio(opts.audio);
  audio._handleFor(session);
  const frame = frameIndex(opts.frame, 'frame', audio);
  const pose = opts.pose === undefined ? identity.pose : toPoseMatrix(opts.pose, 'pose');
  const format = opts.format === undefined ? 'uint8' : expectOneOf(opts.format, 'format', ['uint8', 'float32'] as const);
  const signal = expectSignal(opts.signal);
  return session._queue.run(() => renderOne(session, identity, audio, frame, pose, format), signal);
}

/** @internal Implementation of Session.renderFrames. */
export async function renderFrames(session: SessionCore, identity: Identity, options: RenderFramesOptions): Promise<Frame<Uint8Array | Float32Array>[]> {
  session._assertOpen();
  checkIdentity(identity)._handleFor(session);
  const opts = expectObject(options, 'options') as unknown as RenderFramesOptions;
  rejectUnknownKeys(opts as unknown as Record<string, unknown>, 'renderFrames', ['audio', 'frames', 'pose', 'signal', 'format']);
  const audio = checkAudio(opts.audio);
  audio._handleFor(session);
  const format = opts.format === undefined ? 'uint8' : expectOneOf(opts.format, 'format', ['uint8', 'float32'] as const);
  const signal = expectSignal(opts.signal);

  let frames: number[];
  if (opts.frames === undefined) frames = Array.from({ length: audio.frameCount }, (_, i) => i);
  else if (Array.isArray(opts.frames)) frames = opts.frames.map((f, i) => frameIndex(f, `frames[${i}]`, audio));
  else if (typeof opts.frames === 'object' && opts.frames !== null) {
    const { start, end } = opts.frames;
    frameIndex(start, 'frames.start', audio);
    if (typeof end !== 'number' || !Number.isInteger(end) || end <= start || end > audio.frameCount)
      throw invalid(`an integer between ${start + 1} and ${audio.frameCount} (exclusive end)`, 'frames.end', end);
    frames = Array.from({ length: end - start }, (_, i) => start + i);
  } else throw invalid('an array of frame indices or { start, end }', 'frames', opts.frames);

  let poses: Float32Array[];
  if (opts.pose === undefined) poses = frames.map(() => identity.pose);
  else if (isSinglePose(opts.pose)) {
    const p = toPoseMatrix(opts.pose, 'pose');
    poses = frames.map(() => p);
  } else if (Array.isArray(opts.pose)) {
    if (opts.pose.length !== frames.length)
      throw invalid(`an array of ${frames.length} poses (one per frame)`, 'pose', opts.pose);
    poses = (opts.pose as Pose[]).map((p, i) => toPoseMatrix(p, `pose[${i}]`));
  } else throw invalid('a pose or an array of poses', 'pose', opts.pose);

  return session._queue.run(async () => {
    const out: Frame<Uint8Array | Float32Array>[] = [];
    for (let i = 0; i < frames.length; ++i) {
      if (signal?.aborted) throw abortError(signal);
      if (session.disposed) throw new DisposedError('The session was disposed while rendering frames');
      out.push(await renderOne(session, identity, audio, frames[i]!, poses[i]!, format));
    }
    return out;
  }, signal);
}
