// Error classes with stable `code`s. The native addon raises plain Errors with
// a `.code` (cpp/napi/errors.cc); fromNative() turns them into these classes.

export type ErrorCode =
  | 'ERR_INVALID_ARG'
  | 'ERR_INPUT_IMAGE'
  | 'ERR_INPUT_AUDIO'
  | 'ERR_NO_FACE'
  | 'ERR_MODEL_FORMAT'
  | 'ERR_BACKEND_UNAVAILABLE'
  | 'ERR_DISPOSED'
  | 'ERR_ABORTED'
  | 'ERR_NOT_IMPLEMENTED'
  | 'ERR_OUT_OF_MEMORY'
  | 'ERR_INTERNAL';

/** Where a native (CUDA plugin) call failed: the CUDA/library call, plugin source file and line. */
export interface NativeLocation {
  call: string;
  file: string;
  line: number;
}

/** Base class of every error this package throws on purpose. */
export class S3DError extends Error {
  readonly code: ErrorCode;
  /** Set for errors of the CUDA plugin: which call failed, and where. */
  location?: NativeLocation;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A function argument or option has the wrong type or value. */
export class InvalidArgumentError extends S3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INVALID_ARG', message, options);
  }
}

/** The image could not be read or decoded, or has the wrong size or layout. */
export class InputImageError extends S3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INPUT_IMAGE', message, options);
  }
}

/** The audio could not be read or decoded, or is empty. */
export class InputAudioError extends S3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INPUT_AUDIO', message, options);
  }
}

/** No face was found in the image (face alignment), or the face is too small or cut off. */
export class NoFaceError extends S3DError {
  constructor(
    message = 'No face was found in the image: use a photo with one clearly visible, roughly frontal face, or pass an aligned crop with { aligned: true }',
    options?: { cause?: unknown },
  ) {
    super('ERR_NO_FACE', message, options);
  }
}

/** The model file is missing, truncated, or not an s3d-nerf safetensors file. */
export class ModelFormatError extends S3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_MODEL_FORMAT', message, options);
  }
}

/**
 * The requested backend (e.g. 'cuda') is not available in this build or on this
 * machine. `reasons` lists every reason found (for CUDA: plugin, driver, device,
 * cuBLAS/cuDNN, engine stages), in the order they were checked.
 */
export class BackendUnavailableError extends S3DError {
  readonly reasons: string[];
  constructor(message: string, options?: { cause?: unknown; reasons?: string[] }) {
    super('ERR_BACKEND_UNAVAILABLE', message, options);
    this.reasons = options?.reasons ? [...options.reasons] : [];
  }
}

/** The session, identity or audio track was used after dispose(). */
export class DisposedError extends S3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DISPOSED', message, options);
  }
}

/** The operation was cancelled through its AbortSignal. `cause` is the signal's reason. */
export class AbortError extends S3DError {
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super('ERR_ABORTED', message, options);
  }
}

/** The feature exists in the API but not yet in this version. */
export class NotImplementedError extends S3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NOT_IMPLEMENTED', message, options);
  }
}

const OUT_OF_MEMORY_MESSAGE =
  'The engine ran out of memory: dispose unused sessions, identities and audio tracks, or use fewer threads or a smaller model';

/**
 * The engine could not allocate memory (C++ std::bad_alloc, or a CUDA device
 * allocation: then `requestedBytes` and `freeBytes` say how much was asked for
 * and how much device memory was free).
 */
export class OutOfMemoryError extends S3DError {
  requestedBytes?: number;
  freeBytes?: number;
  constructor(message = OUT_OF_MEMORY_MESSAGE, options?: { cause?: unknown; requestedBytes?: number; freeBytes?: number }) {
    super('ERR_OUT_OF_MEMORY', message, options);
    if (options?.requestedBytes !== undefined) this.requestedBytes = options.requestedBytes;
    if (options?.freeBytes !== undefined) this.freeBytes = options.freeBytes;
  }
}

/** A bug or unexpected condition inside the engine. */
export class InternalError extends S3DError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INTERNAL', message, options);
  }
}

const byCode: Record<ErrorCode, new (message: string, options?: { cause?: unknown }) => S3DError> = {
  ERR_INVALID_ARG: InvalidArgumentError,
  ERR_INPUT_IMAGE: InputImageError,
  ERR_INPUT_AUDIO: InputAudioError,
  ERR_NO_FACE: NoFaceError,
  ERR_MODEL_FORMAT: ModelFormatError,
  ERR_BACKEND_UNAVAILABLE: BackendUnavailableError,
  ERR_DISPOSED: DisposedError,
  ERR_ABORTED: AbortError,
  ERR_NOT_IMPLEMENTED: NotImplementedError,
  ERR_OUT_OF_MEMORY: OutOfMemoryError,
  ERR_INTERNAL: InternalError,
};

/**
 * Maps an error raised by the native addon (a plain Error with a string `.code`)
 * to the matching S3DError subclass; the original is kept as `cause`.
 * S3DErrors pass through; anything else becomes an InternalError.
 */
export function fromNative(err: unknown, prefix?: string): Error {
  if (err instanceof S3DError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  let message = err instanceof Error ? err.message : String(err);
  // The addon reports std::bad_alloc as a bare "out of memory": say what to do.
  if (code === 'ERR_OUT_OF_MEMORY' && /^out of memory$/i.test(message.trim())) message = OUT_OF_MEMORY_MESSAGE;
  const text = prefix && !message.includes(prefix) ? `${prefix}: ${message}` : message;
  const Ctor = typeof code === 'string' && code in byCode ? byCode[code as ErrorCode] : InternalError;
  const out = new Ctor(text, { cause: err });
  // CUDA plugin errors (cpp/napi/errors.cc) carry where they failed, and OOM the sizes.
  const e = err as { call?: unknown; file?: unknown; line?: unknown; requestedBytes?: unknown; freeBytes?: unknown } | null;
  if (e && typeof e.call === 'string' && typeof e.file === 'string' && typeof e.line === 'number')
    out.location = { call: e.call, file: e.file, line: e.line };
  if (out instanceof OutOfMemoryError && e) {
    if (typeof e.requestedBytes === 'number') out.requestedBytes = e.requestedBytes;
    if (typeof e.freeBytes === 'number') out.freeBytes = e.freeBytes;
  }
  return out;
}
