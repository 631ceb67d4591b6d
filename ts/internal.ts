// Internal entry ("s3d-nerf/internal"): engine-level hooks for parity tests,
// benchmarks and debugging. Not covered by semver.
import { fromNative } from './errors.js';
import { native, type NativeBinding, type NativeTensor } from './native.js';
import type { Session } from './session.js';

export type { NativeBinding, NativeTensor } from './native.js';
export { native, packageRoot } from './native.js';
export { fromNative } from './errors.js';

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
