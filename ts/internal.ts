// Internal entry ("s3d-nerf/internal"): engine-level hooks for parity tests,
// benchmarks and debugging. Not covered by semver.
import { fromNative } from './errors.js';
import { native, type NativeBinding, type NativeFrameTimings, type NativeIdentityTimings, type NativeTensor } from './native.js';
import type { Session } from './session.js';
import type { AudioTrack } from './audio/index.js';

export type { NativeBinding, NativeFrameTimings, NativeIdentityTimings, NativeTensor } from './native.js';
export { native, packageRoot } from './native.js';
export { fromNative } from './errors.js';
export { decodeWav, type DecodedAudio } from './audio/wav.js';
export { streamWithFfmpeg, type SampleSink } from './audio/ffmpeg.js';

/** The log-mel track of a prepared audio track: shape [melFrames, nMels], channel-last (engine layout). */
export function audioLogMel(track: AudioTrack): NativeTensor {
  return native().audioLogMel(track._handleFor(track.session));
}

/**
 * Runs one named network stage on explicit tensors in PyTorch layout (batch
 * dimension dropped), as in tests/fixtures/tiny/stages.safetensors. Goes
 * through the session's queue like every other call.
 */
export function runStage(session: Session, name: string, inputs: Record<string, NativeTensor>): Promise<Record<string, NativeTensor>> {
  session._assertOpen();
  return session._queue.run(async () => {
    try {
      return await native().runStage(session._native(), name, inputs);
    } catch (err) {
      throw fromNative(err);
    }
  });
}

/** The addon's function table (for tests that exercise argument checks directly). */
export function binding(): NativeBinding {
  return native();
}

/**
 * Per-stage engine timings of the session's last renderFrame (zeros before the
 * first). Read it after the render's Promise resolved: calls on a session run
 * in order, so no other call can have overwritten it in between.
 */
export function lastFrameTimings(session: Session): NativeFrameTimings {
  session._assertOpen();
  return native().lastTimings(session._native()).frame;
}

/** Per-stage engine timings of the session's last encodeIdentity (zeros before the first). */
export function lastIdentityTimings(session: Session): NativeIdentityTimings {
  session._assertOpen();
  return native().lastTimings(session._native()).identity;
}
