// Driving speech: decoded (ts/audio-decode.ts), handed to the engine, which
// resamples to the model rate and computes the log-mel track once.
import { readFile } from 'node:fs/promises';
import { throwIfAborted } from './abort.js';
import { decodeWav } from './audio-decode.js';
import { decodeWithFfmpeg, findFfmpeg } from './audio-ffmpeg.js';
import { InputAudioError, S3DError, fromNative } from './errors.js';
import { native, type NativeAudio } from './native.js';
import { SessionResource } from './session-resource.js';
import type { Session } from './session.js';
import { describe, expectOptions, expectSignal, isPlainObject } from './validate.js';

/**
 * An audio file path or its bytes (WAV natively; mp3, m4a/aac, ogg, opus,
 * flac, ... through ffmpeg), or mono float samples with their rate.
 */
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

function isWav(buf: Uint8Array): boolean {
  if (buf.length < 12) return false;
  const tag = (o: number): string => String.fromCharCode(buf[o]!, buf[o + 1]!, buf[o + 2]!, buf[o + 3]!);
  return ['RIFF', 'RIFX', 'RF64'].includes(tag(0)) && tag(8) === 'WAVE';
}

/**
 * True when the bytes start like a container or stream ffmpeg decodes:
 * ID3/MPEG audio or ADTS sync, fLaC, OggS, ISO BMFF (m4a/mp4/3gp/mov),
 * Matroska/WebM, AIFF, AU, CAF, AMR, ASF (wma), Monkey's Audio, WavPack.
 */
export function looksLikeEncodedAudio(buf: Uint8Array): boolean {
  if (buf.length < 4) return false;
  const tag = (o: number): string => (buf.length >= o + 4 ? String.fromCharCode(buf[o]!, buf[o + 1]!, buf[o + 2]!, buf[o + 3]!) : '');
  const t0 = tag(0);
  if (t0.startsWith('ID3')) return true;
  if (buf[0] === 0xff && (buf[1]! & 0xe0) === 0xe0) return true; // MPEG audio frame / ADTS sync
  if (['fLaC', 'OggS', 'FORM', '.snd', 'caff', 'MAC ', 'wvpk', '#!AM'].includes(t0)) return true;
  if (tag(4) === 'ftyp') return true;
  if (buf[0] === 0x1a && buf[1] === 0x45 && buf[2] === 0xdf && buf[3] === 0xa3) return true; // EBML
  if (buf[0] === 0x30 && buf[1] === 0x26 && buf[2] === 0xb2 && buf[3] === 0x75) return true; // ASF
  return false;
}

/**
 * A WAV error that ffmpeg might get past: a container wavefile cannot parse.
 * (WAVs with other codecs, e.g. a-law or ADPCM, are still rejected with the
 * WAV decoder's message: tests/audio.test.mjs pins that behaviour. Adding
 * `|| m.startsWith('Expected WAV audio as ')` here would send them to ffmpeg.)
 */
function wavFallbackWorthy(err: unknown): boolean {
  const m = err instanceof Error ? err.message : '';
  return m.startsWith('Expected a readable WAV file');
}

function startsWith(buf: Uint8Array, n = 4): string {
  const head = buf.subarray(0, n);
  let text = '';
  for (const b of head) {
    if (b < 0x20 || b > 0x7e) break;
    text += String.fromCharCode(b);
  }
  if (text.length > 0) return JSON.stringify(text);
  return '0x' + Array.from(head, (b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
}

/**
 * WAV goes through wavefile (ts/audio-decode.ts). Encoded audio (see
 * looksLikeEncodedAudio), and a WAV whose codec or container wavefile cannot
 * read, go through ffmpeg when one is available. Other bytes get the WAV
 * decoder's error. `path` is the file the bytes came from (ffmpeg then reads
 * the file itself).
 */
async function decode(buf: Uint8Array, label: string, path: string | undefined, signal: AbortSignal | undefined): Promise<{ samples: Float32Array; sampleRate: number }> {
  if (buf.length === 0) throw new InputAudioError(`Expected WAV data but received an empty ${label}`);
  const describeInput = `${label}, ${buf.length} bytes starting with ${startsWith(buf)}`;
  if (!isWav(buf) && looksLikeEncodedAudio(buf)) return decodeWithFfmpeg(path ?? buf, { signal, label: describeInput });
  try {
    const { samples, sampleRate } = decodeWav(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length));
    return { samples, sampleRate };
  } catch (err) {
    const wavError = err instanceof S3DError ? err : new InputAudioError(`Cannot decode the audio (${label}): ${(err as Error).message}`, { cause: err });
    if (!isWav(buf) || !wavFallbackWorthy(err) || !findFfmpeg()) throw wavError;
    try {
      return await decodeWithFfmpeg(path ?? buf, { signal, label: describeInput });
    } catch (ffErr) {
      if (!(ffErr instanceof InputAudioError)) throw ffErr;
      throw new InputAudioError(`${wavError.message}; ffmpeg could not decode it either: ${ffErr.message}`, { cause: ffErr });
    }
  }
}

async function toSamples(input: AudioInput, signal: AbortSignal | undefined): Promise<{ samples: Float32Array; sampleRate: number }> {
  if (typeof input === 'string') {
    let buf: Buffer;
    try {
      buf = await readFile(input);
    } catch (err) {
      throw new InputAudioError(`Cannot read the audio file ${input}: ${(err as Error).message}`, { cause: err });
    }
    return decode(buf, input, input, signal);
  }
  if (input instanceof Uint8Array) return decode(input, 'buffer', undefined, signal);
  if (isPlainObject(input) && 'samples' in input) {
    const { samples, sampleRate } = input as { samples: unknown; sampleRate: unknown };
    if (!(samples instanceof Float32Array))
      throw new InputAudioError(`Expected a Float32Array of mono samples for samples but received ${describe(samples)}`);
    if (typeof sampleRate !== 'number' || !Number.isInteger(sampleRate) || sampleRate < 1)
      throw new InputAudioError(`Expected a positive integer for sampleRate but received ${describe(sampleRate)}`);
    return { samples, sampleRate };
  }
  throw new InputAudioError(
    `Expected an audio file path, a Buffer of audio file data, or { samples, sampleRate } for audio but received ${describe(input)}`,
  );
}

/** @internal Implementation of Session.prepareAudio. */
export async function prepareAudio(session: Session, input: AudioInput, options?: PrepareAudioOptions): Promise<AudioTrack> {
  session._assertOpen();
  const signal = expectSignal(expectOptions(options).signal);
  throwIfAborted(signal);
  const { samples, sampleRate } = await toSamples(input, signal);
  throwIfAborted(signal);
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
