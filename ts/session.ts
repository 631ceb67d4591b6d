// A loaded model on one backend: the entry point of the API.
import { stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { abortError, throwIfAborted } from './abort.js';
import { prepareAudio, type AudioInput, type AudioTrack, type PrepareAudioOptions } from './audio/index.js';
import { parseModelConfig, type ModelConfig } from './config.js';
import { asyncDispose } from './dispose.js';
import { cudaDiagnostics } from './cuda.js';
import { BackendUnavailableError, DisposedError, ModelFormatError, fromNative } from './errors.js';
import { encodeIdentity, type EncodeIdentityOptions, type Identity } from './identity.js';
import type { ImageInput } from './image.js';
import { native, packageRoot, type NativeSession } from './native.js';
import { SerialQueue } from './queue.js';
import type { SessionCore } from './session-core.js';
import { live, type LiveOptions, type LiveStream } from './live.js';
import { renderFrame, renderFrames, type Frame, type RenderFrameOptions, type RenderFramesOptions } from './render.js';
import { expectOneOf, expectOptions, expectPositiveInteger, expectSignal, expectString } from './validate.js';

export type Backend = 'cpu' | 'cuda';
/**
 * 'fast' (default): the NeRF MLPs and the super-resolution convolutions round
 * their operands to bfloat16 and sum in fp32, on CPUs with AVX512-BF16 (about
 * 1.6x the frame rate; frames stay within 40 dB PSNR of 'exact'). On other CPUs
 * 'fast' computes exactly what 'exact' does. 'exact': fp32 throughout, the
 * path the parity tests check against the PyTorch reference.
 */
export type Precision = 'fast' | 'exact';
export type BackendChoice = 'auto' | Backend;

export interface SessionOptions {
  /** Path of a .safetensors model; default the bundled weights/s3d-64.safetensors. */
  model?: string;
  /**
   * 'auto' (default) tries CUDA when its plugin loads and otherwise uses 'cpu',
   * emitting one process warning (code 'S3D_CUDA_FALLBACK') with the reasons;
   * no engine stage runs on CUDA in this version, so today 'auto' is always 'cpu'.
   * 'cuda' throws BackendUnavailableError (with `.reasons`) when CUDA is unusable.
   */
  backend?: BackendChoice;
  /** CPU worker threads; default one per core. */
  threads?: number;
  /** Arithmetic of the per-frame kernels; default 'fast' (see Precision). */
  precision?: Precision;
  signal?: AbortSignal;
}

/** The bundled default model (relative to the package root). */
export const DEFAULT_MODEL = 'weights/s3d-64.safetensors';

/** Backends this build can run (the CUDA engine is not wired into the addon yet: see cudaDiagnostics()). */
export function availableBackends(): Backend[] {
  return ['cpu'];
}

/**
 * Whether this version of the addon routes engine calls to the CUDA plugin.
 * False until the CUDA engine stages exist: even a plugin that reports itself
 * usable must not make a session claim 'cuda' while the CPU engine does the work.
 */
const CUDA_ENGINE_WIRED = false;

/** @internal Hooks for the CLI: it reports the CUDA fallback itself (under --verbose) instead of a process warning. */
export interface CreateSessionHooks {
  onCudaFallback?: (reasons: string[]) => void;
}

let fallbackWarned = false;

function numbered(reasons: string[]): string {
  return reasons.map((r, i) => `(${i + 1}) ${r}`).join('; ');
}

/** Resolves 'auto' | 'cuda' | 'cpu' to the backend the session runs on, or throws BackendUnavailableError for 'cuda'. */
async function resolveBackend(choice: BackendChoice, hooks: CreateSessionHooks): Promise<Backend> {
  if (choice === 'cpu') return 'cpu';
  const diag = await cudaDiagnostics();
  const reasons = [...diag.reasons];
  if (diag.device) {
    // The plugin found a working device: check a context (stream, cuBLAS/cuDNN
    // handles) can be made, so plugin errors surface here with call/file/line.
    try {
      await native().cudaContextCheck();
    } catch (err) {
      reasons.push(`creating a CUDA context failed: ${fromNative(err).message}`);
    }
  }
  if (diag.usable && reasons.length === 0 && !CUDA_ENGINE_WIRED)
    reasons.push('this version of the addon does not route engine calls to the CUDA plugin yet');
  if (reasons.length === 0) return 'cuda';
  if (choice === 'cuda')
    throw new BackendUnavailableError(`The CUDA backend is not available: ${numbered(reasons)}; use backend: 'cpu' or 'auto'`, { reasons });
  if (hooks.onCudaFallback) hooks.onCudaFallback(reasons);
  else if (!fallbackWarned) {
    fallbackWarned = true;
    // One short line: the first reason; every reason is in doctor and in backend: 'cuda''s error.
    const first = reasons[0]!.split(';')[0]!;
    const more = reasons.length > 1 ? ` (+${reasons.length - 1} more)` : '';
    process.emitWarning(`s3d-nerf: CUDA is not usable, using the CPU: ${first}${more}`, {
      code: 'S3D_CUDA_FALLBACK',
      detail: "Pass backend: 'cpu' to skip the CUDA probe (and this warning); `npx s3d-nerf doctor` lists every reason.",
    });
  }
  return 'cpu';
}

export class Session implements SessionCore {
  readonly backend: Backend;
  /** Absolute path of the model file. */
  readonly modelPath: string;
  readonly #config: ModelConfig;
  readonly #threads: number;
  readonly #precision: Precision;
  readonly #metadata: Readonly<Record<string, string>>;
  #handle: NativeSession | undefined;
  /** @internal */
  readonly _queue: SerialQueue;

  private constructor(handle: NativeSession, modelPath: string, backend: Backend, precision: Precision) {
    const n = native();
    this.#handle = handle;
    this.modelPath = modelPath;
    this.backend = backend;
    this.#config = parseModelConfig(n.config(handle));
    this.#threads = n.threads(handle);
    this.#precision = precision;
    let meta: Record<string, string> = {};
    try {
      meta = JSON.parse(n.metadata(handle)) as Record<string, string>;
    } catch {
      // metadata is informational; the engine already validated the file
    }
    this.#metadata = Object.freeze(meta);
    this._queue = new SerialQueue(() => new DisposedError('The session has been disposed'));
  }

  /** @internal */
  static _create(handle: NativeSession, modelPath: string, backend: Backend, precision: Precision): Session {
    return new Session(handle, modelPath, backend, precision);
  }

  /** The model's hyper-parameters (image_size, audio front end, ...). */
  get config(): ModelConfig {
    this._assertOpen();
    return this.#config;
  }

  /** Worker threads the engine uses. */
  get threads(): number {
    this._assertOpen();
    return this.#threads;
  }

  /** The precision asked for at createSession (whether 'fast' uses bf16 here: cpuFeatures().bf16Kernels). */
  get precision(): Precision {
    this._assertOpen();
    return this.#precision;
  }

  /** The model file's metadata (string values, e.g. format, config, provenance). */
  get metadata(): Readonly<Record<string, string>> {
    this._assertOpen();
    return this.#metadata;
  }

  get disposed(): boolean {
    return this.#handle === undefined;
  }

  /** @internal */
  _assertOpen(): void {
    if (!this.#handle) throw new DisposedError('The session has been disposed');
  }

  /** @internal The native handle; throws DisposedError after dispose(). */
  _native(): NativeSession {
    if (!this.#handle) throw new DisposedError('The session has been disposed');
    return this.#handle;
  }

  /** Encodes an aligned portrait (phase 1, once per photo). */
  encodeIdentity(image: ImageInput, options?: EncodeIdentityOptions): Promise<Identity> {
    return encodeIdentity(this, image, options);
  }

  /** Decodes and analyses speech (resampling + log-mel, once per recording). */
  prepareAudio(input: AudioInput, options?: PrepareAudioOptions): Promise<AudioTrack> {
    return prepareAudio(this, input, options);
  }

  /** Renders one frame (phase 2). */
  renderFrame(identity: Identity, options: RenderFrameOptions & { format: 'float32' }): Promise<Frame<Float32Array>>;
  renderFrame(identity: Identity, options: RenderFrameOptions & { format?: 'uint8' }): Promise<Frame<Uint8Array>>;
  renderFrame(identity: Identity, options: RenderFrameOptions): Promise<Frame<Uint8Array | Float32Array>>;
  renderFrame(identity: Identity, options: RenderFrameOptions): Promise<Frame<Uint8Array | Float32Array>> {
    return renderFrame(this, identity, options);
  }

  /** Renders several frames in order; the signal is checked between frames. */
  renderFrames(identity: Identity, options: RenderFramesOptions & { format: 'float32' }): Promise<Frame<Float32Array>[]>;
  renderFrames(identity: Identity, options: RenderFramesOptions & { format?: 'uint8' }): Promise<Frame<Uint8Array>[]>;
  renderFrames(identity: Identity, options: RenderFramesOptions): Promise<Frame<Uint8Array | Float32Array>[]>;
  renderFrames(identity: Identity, options: RenderFramesOptions): Promise<Frame<Uint8Array | Float32Array>[]> {
    return renderFrames(this, identity, options);
  }

  /**
   * Renders frames as the speech arrives: push audio into the returned stream
   * (push(), pipeFrom()), end() it, and iterate its frames (ts/live.ts).
   * Frames are byte-identical to renderFrames over prepareAudio of the same audio.
   */
  live(identity: Identity, options: LiveOptions & { format: 'float32' }): LiveStream<Float32Array>;
  live(identity: Identity, options?: LiveOptions & { format?: 'uint8' }): LiveStream<Uint8Array>;
  live(identity: Identity, options?: LiveOptions): LiveStream<Uint8Array | Float32Array>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  live(identity: Identity, options?: LiveOptions): LiveStream<any> {
    return live(this, identity, options);
  }

  /**
   * Releases the engine. Calls still queued and later calls reject with
   * DisposedError; a call already running finishes normally. Resolves when
   * that call has settled. Identities and audio tracks of this session become
   * unusable.
   */
  async dispose(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    const idle = this._queue.close();
    handle?.dispose(); // a native call in flight keeps its own reference to the engine
    await idle;
  }

  [asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

/** Loads a model and returns a Session. */
export function createSession(options?: SessionOptions): Promise<Session> {
  return createSessionWith(options, {});
}

/** @internal createSession with hooks (the CLI). */
export async function createSessionWith(options: SessionOptions | undefined, hooks: CreateSessionHooks): Promise<Session> {
  const opts = expectOptions(options, 'options', { fn: 'createSession', keys: ['model', 'backend', 'threads', 'precision', 'signal'] }) as SessionOptions;
  const choice = opts.backend === undefined ? 'auto' : expectOneOf(opts.backend, 'backend', ['auto', 'cpu', 'cuda'] as const);
  const threads = opts.threads === undefined ? 0 : expectPositiveInteger(opts.threads, 'threads');
  const precision = opts.precision === undefined ? 'fast' : expectOneOf(opts.precision, 'precision', ['fast', 'exact'] as const);
  const signal = expectSignal(opts.signal);
  const model = opts.model === undefined ? join(packageRoot, DEFAULT_MODEL) : expectString(opts.model, 'model');
  const modelPath = isAbsolute(model) ? model : resolve(model);
  throwIfAborted(signal);
  const backend = await resolveBackend(choice, hooks);
  if (backend !== 'cpu') throw new BackendUnavailableError(`The ${backend} engine is not wired into this version`, { reasons: [] });
  throwIfAborted(signal);

  try {
    const st = await stat(modelPath);
    if (!st.isFile()) throw new ModelFormatError(`The model path is not a file: ${modelPath}`);
  } catch (err) {
    if (err instanceof ModelFormatError) throw err;
    throw new ModelFormatError(`Cannot open the model file ${modelPath}: ${(err as Error).message}`, { cause: err });
  }

  let handle: NativeSession;
  try {
    handle = await native().loadModel(modelPath, threads, precision);
  } catch (err) {
    throw fromNative(err, modelPath);
  }
  if (signal?.aborted) {
    handle.dispose();
    throw abortError(signal);
  }
  try {
    return Session._create(handle, modelPath, backend, precision);
  } catch (err) {
    handle.dispose();
    throw fromNative(err, modelPath);
  }
}
