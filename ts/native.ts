// Loads the addon (build/Release or prebuilds/, via node-gyp-build) from the
// package root and types its functions (cpp/napi/*.cc). Loaded lazily, so
// argument validation works and errors are clear even without a built addon.
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
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
/** An audio track being built chunk by chunk (cpp/napi/audio_stream_wrap.h). */
export interface NativeAudioStream extends NativeHandle {
  readonly __brand?: 'audio-stream';
}

/** A stream's state after a push (cpp/napi/audio_stream_wrap.cc). */
export interface NativeAudioStreamStatus {
  samplesPushed: number;
  samples16k: number;
  melFrames: number;
  /** Video frames [0, framesReady) have their whole deformation window computed. */
  framesReady: number;
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
  /** Whether precision: 'fast' multiplies in bf16 on this CPU (AVX512-BF16 and the avx512 kernels); else 'fast' computes what 'exact' does. */
  bf16Kernels: boolean;
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

/** A run-time loaded CUDA library (cuBLAS, cuDNN) as the plugin found it. */
export interface NativeCudaLibrary {
  found: boolean;
  /** The file that was loaded (null when not found). */
  path: string | null;
  /** "12.4.5" / "9.1.0" (null when unknown). */
  version: string | null;
}

/** The CUDA plugin's probe (cpp/napi/cuda_info.cc): what was found, and every reason CUDA is unusable. */
export interface NativeCudaProbe {
  /** Where libs3d_cuda.so was looked for (next to the addon, or env S3D_CUDA_PLUGIN). */
  pluginPath: string | null;
  pluginLoaded: boolean;
  /** The plugin's build description: version, CUDA version, architectures. */
  buildInfo: string | null;
  apiVersion: number;
  /** CUDA runtime version inside the plugin (e.g. 13000), null without a plugin. */
  runtimeVersion: number | null;
  /** Highest CUDA version the driver supports (e.g. 12080), null without a driver. */
  driverVersion: number | null;
  /** null when it could not be counted (no plugin, or cudaGetDeviceCount failed). */
  deviceCount: number | null;
  /** Device 0, when it exists and ran the plugin's self-test kernel. */
  device: { ordinal: number; name: string; computeCapability: string; multiprocessors: number; totalBytes: number; freeBytes: number; pciBusId: string } | null;
  cublas: NativeCudaLibrary;
  cudnn: NativeCudaLibrary;
  stagesImplemented: number;
  stagesTotal: number;
  usable: boolean;
  reasons: string[];
}

export interface NativeBinding {
  /** threads 0 = one per core. */
  loadModel(path: string, threads: number, precision: 'exact' | 'fast'): Promise<NativeSession>;
  /** rgb: S*S*3 in [0,1] channel-last; mask: S*S in [0,1]; pose: 16 floats row-major cam2world. */
  encodeIdentity(session: NativeSession, rgb: Float32Array, mask: Float32Array, pose: Float32Array): Promise<NativeIdentity>;
  /** Mono samples at any rate. */
  prepareAudio(session: NativeSession, samples: Float32Array, sampleRate: number): Promise<NativeAudio>;
  /** The same, streamed: mono chunks of any size at sampleRate; one push or finish at a time per stream. */
  audioStreamCreate(session: NativeSession, sampleRate: number): NativeAudioStream;
  audioStreamPush(stream: NativeAudioStream, samples: Float32Array): Promise<NativeAudioStreamStatus>;
  audioStreamFinish(stream: NativeAudioStream): Promise<NativeAudio>;
  /**
   * Live rendering (ts/live.ts): an audio handle holding only ready frame
   * `frame`'s window (frameCount frame + 1), which renderFrame renders as it
   * renders that frame of the finished track. Synchronous; not while a push is in flight.
   */
  audioStreamWindow(stream: NativeAudioStream, frame: number): NativeAudio;
  /** Frees the log-mel columns no frame >= `frame` needs. Synchronous. */
  audioStreamDiscard(stream: NativeAudioStream, frame: number): void;
  /** The log-mel track of a prepared audio: shape [melFrames, nMels], channel-last. */
  audioLogMel(audio: NativeAudio): NativeTensor;
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
  /** Loads (once) and probes the CUDA plugin; never rejects for a missing plugin/driver/device. */
  cudaProbe(): Promise<NativeCudaProbe>;
  /** Creates and destroys a CUDA plugin context on device 0; rejects with the plugin's error (code, call, file, line). */
  cudaContextCheck(): Promise<{ freeBytes: number; totalBytes: number }>;
}

let binding: NativeBinding | undefined;
let bindingPath: string | undefined;

interface NodeGypBuild {
  (dir: string): unknown;
  /** The .node file node-gyp-build would load for `dir` (throws when none matches). */
  resolve(dir: string): string;
}

function nodeGypBuild(): NodeGypBuild {
  return createRequire(import.meta.url)('node-gyp-build') as NodeGypBuild;
}

/**
 * The addon, loaded on first use. node-gyp-build picks, in order: the binary
 * named by env S3D_NERF_PREBUILD (a folder), build/Release, build/Debug (a
 * source build: the install fallback or a development build), then the
 * prebuilds/<platform>-<arch>/ file matching this Node (N-API) and C library.
 * An installed package normally has no build/, so the prebuild is used.
 */
export function native(): NativeBinding {
  if (binding) return binding;
  try {
    const file = nodeGypBuild().resolve(packageRoot);
    binding = createRequire(import.meta.url)(file) as NativeBinding;
    bindingPath = file;
  } catch (err) {
    throw new InternalError(
      `Cannot load the s3d-nerf native addon from ${packageRoot} ` +
        `(reinstall the package, which compiles it when no prebuilt binary matches; in a clone run \`npm run build\`): ${(err as Error).message}`,
      { cause: err },
    );
  }
  return binding;
}

/** Where the native addon comes from. */
export interface NativeBinaryInfo {
  /** Absolute path of the .node file (loaded, or that would be loaded). */
  path: string;
  /** 'prebuild': prebuilds/<platform>-<arch>/ shipped in the package; 'build': compiled from source into build/; 'override': env S3D_NERF_PREBUILD. */
  kind: 'prebuild' | 'build' | 'override';
  /** Whether it is loaded in this process. */
  loaded: boolean;
  /** Why node-gyp-build picked it, in words. */
  reason: string;
}

/** Which .node file native() loads (or would load) and why; throws like native() when there is none. */
export function nativeBinaryInfo(): NativeBinaryInfo {
  const file = bindingPath ?? nodeGypBuild().resolve(packageRoot);
  const rel = relative(packageRoot, file).split(sep).join('/');
  const override = process.env.S3D_NERF_PREBUILD;
  const target = `${process.platform}-${process.arch}`;
  let kind: NativeBinaryInfo['kind'];
  let reason: string;
  if (override && !rel.startsWith('build/') && !rel.startsWith('prebuilds/')) {
    kind = 'override';
    reason = `env S3D_NERF_PREBUILD=${override} names the folder to load from`;
  } else if (rel.startsWith('build/')) {
    kind = 'build';
    const prebuilt = readdirOr(join(packageRoot, 'prebuilds', target)).some((f) => f.endsWith('.node'));
    reason =
      `compiled from source into ${rel.split('/').slice(0, 2).join('/')}/ (node-gyp); node-gyp-build loads a local build before prebuilds/` +
      (prebuilt ? ` (prebuilds/${target}/ is present but not used while build/ has a binary)` : ` (the package has no prebuilds/${target}/)`);
  } else {
    kind = 'prebuild';
    reason = `prebuilt binary shipped in the package for ${target} (N-API, ${libcName()}); the package has no build/Release, so nothing was compiled`;
  }
  return { path: file, kind, loaded: bindingPath !== undefined, reason };
}

function readdirOr(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function libcName(): string {
  if (process.platform !== 'linux') return process.platform;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ? `glibc ${header.glibcVersionRuntime}` : 'musl';
}
