// Loads the addon (build/Release or prebuilds/, via node-gyp-build) from the
// package root and types its functions (cpp/napi/*.cc). Loaded lazily, so
// argument validation works and errors are clear even without a built addon.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InternalError } from './errors.js';

/** The package root (the folder holding package.json). */
export const packageRoot: string = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Native handles: opaque objects whose dispose() drops the JS-side reference. */
export interface NativeHandle {
  dispose(): void;
  readonly disposed: boolean;
}
export interface NativeSession extends NativeHandle {
  readonly __brand?: 'session';
}
export interface NativeIdentity extends NativeHandle {
  readonly __brand?: 'identity';
}
export interface NativeAudio extends NativeHandle {
  readonly frameCount: number;
  readonly sampleCount: number;
}

/** A tensor crossing the boundary: row-major data with its shape. */
export interface NativeTensor {
  shape: number[];
  data: Float32Array;
}

export interface NativeCpuFeatures {
  avx2: boolean;
  fma: boolean;
  avx512f: boolean;
  avx512bw: boolean;
  avx512vl: boolean;
  avx512dq: boolean;
  avx512bf16: boolean;
  avx512fp16: boolean;
  amxTile: boolean;
  amxBf16: boolean;
  amxInt8: boolean;
  brand: string;
  cap: string;
  summary: string;
  hardwareThreads: number;
  /** The GEMM/conv kernel path in use after any S3D_CPU_FEATURES cap: 'avx512', 'avx2' or 'scalar'. */
  kernelIsa: 'avx512' | 'avx2' | 'scalar';
}

/** Wall-clock milliseconds of the engine stages of the last renderFrame (zeros before the first). */
export interface NativeFrameTimings {
  audioMs: number;
  attentionMs: number;
  nerfMs: number;
  srMs: number;
  totalMs: number;
}

/** Wall-clock milliseconds of the engine stages of the last encodeIdentity (zeros before the first). */
export interface NativeIdentityTimings {
  encoderMs: number;
  /** Slot-attention aggregation + MHCA query projection. */
  aggregateMs: number;
  srSourceMs: number;
  totalMs: number;
}

export interface NativeBinding {
  /** threads 0 = one per core. */
  loadModel(path: string, threads: number): Promise<NativeSession>;
  /** rgb: S*S*3 in [0,1] channel-last; mask: S*S in [0,1]; pose: 16 floats row-major cam2world. */
  encodeIdentity(session: NativeSession, rgb: Float32Array, mask: Float32Array, pose: Float32Array): Promise<NativeIdentity>;
  /** Mono samples at any rate. */
  prepareAudio(session: NativeSession, samples: Float32Array, sampleRate: number): Promise<NativeAudio>;
  /** Resolves to S*S*3 floats, channel-last, nominally [0,1]. */
  renderFrame(session: NativeSession, identity: NativeIdentity, audio: NativeAudio, frame: number, pose: Float32Array): Promise<Float32Array>;
  runStage(session: NativeSession, name: string, inputs: Record<string, NativeTensor>): Promise<Record<string, NativeTensor>>;
  /** ModelConfig as JSON. */
  config(session: NativeSession): string;
  /** The model file's whole safetensors __metadata__ object as JSON. */
  metadata(session: NativeSession): string;
  threads(session: NativeSession): number;
  lastTimings(session: NativeSession): { frame: NativeFrameTimings; identity: NativeIdentityTimings };
  cpuFeatures(): NativeCpuFeatures;
}

let binding: NativeBinding | undefined;

/** The addon, loaded on first use. */
export function native(): NativeBinding {
  if (binding) return binding;
  const require = createRequire(import.meta.url);
  const load = require('node-gyp-build') as (dir: string) => unknown;
  try {
    binding = load(packageRoot) as NativeBinding;
  } catch (err) {
    throw new InternalError(
      `Cannot load the s3d-nerf native addon from ${packageRoot} (run \`npm run build\`): ${(err as Error).message}`,
      { cause: err },
    );
  }
  return binding;
}
