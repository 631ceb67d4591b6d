// Driving speech: decoded (ts/audio-decode.ts), handed to the engine, which
// resamples to the model rate and computes the log-mel track once.
import { readFile } from 'node:fs/promises';
import { throwIfAborted } from './abort.js';
import { decodeWav } from './audio-decode.js';
import { InputAudioError, S3DError, fromNative } from './errors.js';
import { native, type NativeAudio } from './native.js';
import { SessionResource } from './session-resource.js';
import type { Session } from './session.js';
import { describe, expectOptions, expectSignal, isPlainObject } from './validate.js';

/** A WAV file path, WAV bytes, or mono float samples with their rate. */
export type AudioInput = string | Buffer | Uint8Array | { samples: Float32Array; sampleRate: number };

export interface PrepareAudioOptions {
  signal?: AbortSignal;
}

/** Prepared speech. Belongs to the session that prepared it. */
export class AudioTrack extends SessionResource<NativeAudio> {
  /** Video frames covered (frame t covers [t/fps, (t+1)/fps); a partial last frame counts). */
  readonly frameCount: number;
  /** Seconds of input audio. */
  readonly duration: number;
  /** Rate of the input samples (the engine resamples to the model's rate). */
  readonly sampleRate: number;
  readonly sampleCount: number;

  /** @internal */
  constructor(session: Session, handle: NativeAudio, sampleRate: number) {
    super(session, handle, 'audio track', 'prepared');
    this.frameCount = handle.frameCount;
    this.sampleCount = handle.sampleCount;
    this.sampleRate = sampleRate;
    this.duration = handle.sampleCount / sampleRate;
  }
}

function decode(buf: Uint8Array, label: string): { samples: Float32Array; sampleRate: number } {
  if (buf.length === 0) throw new InputAudioError(`Expected WAV data but received an empty ${label}`);
  try {
    const { samples, sampleRate } = decodeWav(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length));
    return { samples, sampleRate };
  } catch (err) {
    if (err instanceof S3DError) throw err;
    throw new InputAudioError(`Cannot decode the audio (${label}): ${(err as Error).message}`, { cause: err });
  }
}

async function toSamples(input: AudioInput): Promise<{ samples: Float32Array; sampleRate: number }> {
  if (typeof input === 'string') {
    let buf: Buffer;
    try {
      buf = await readFile(input);
    } catch (err) {
      throw new InputAudioError(`Cannot read the audio file ${input}: ${(err as Error).message}`, { cause: err });
    }
    return decode(buf, input);
  }
  if (input instanceof Uint8Array) return decode(input, 'buffer');
  if (isPlainObject(input) && 'samples' in input) {
    const { samples, sampleRate } = input as { samples: unknown; sampleRate: unknown };
    if (!(samples instanceof Float32Array))
      throw new InputAudioError(`Expected a Float32Array of mono samples for samples but received ${describe(samples)}`);
    if (typeof sampleRate !== 'number' || !Number.isInteger(sampleRate) || sampleRate < 1)
      throw new InputAudioError(`Expected a positive integer for sampleRate but received ${describe(sampleRate)}`);
    return { samples, sampleRate };
  }
  throw new InputAudioError(
    `Expected a WAV file path, a Buffer of WAV data, or { samples, sampleRate } for audio but received ${describe(input)}`,
  );
}

/** @internal Implementation of Session.prepareAudio. */
export async function prepareAudio(session: Session, input: AudioInput, options?: PrepareAudioOptions): Promise<AudioTrack> {
  session._assertOpen();
  const signal = expectSignal(expectOptions(options).signal);
  throwIfAborted(signal);
  const { samples, sampleRate } = await toSamples(input);
  if (samples.length === 0) throw new InputAudioError('Expected at least one audio sample but received none');
  for (let i = 0; i < samples.length; ++i)
    if (!Number.isFinite(samples[i])) throw new InputAudioError(`Expected finite audio samples but sample ${i} is ${samples[i]}`);
  return session._queue.run(async () => {
    let handle: NativeAudio;
    try {
      handle = await native().prepareAudio(session._native(), samples, sampleRate);
    } catch (err) {
      throw fromNative(err);
    }
    return new AudioTrack(session, handle, sampleRate);
  }, signal);
}
