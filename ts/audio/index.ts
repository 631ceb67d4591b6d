// Driving speech: any AudioInput to an AudioTrack. This module picks the
// decoder, WAV (ts/audio/wav.ts; files read in chunks by ts/audio/wav-stream.ts)
// or ffmpeg for other formats (ts/audio/ffmpeg.ts), and hands the samples to the
// engine (ts/audio/track.ts), which resamples to the model rate and computes the
// log-mel track. Files are streamed into the engine in chunks; samples and
// bytes already in memory go in one call. Speech arriving as a byte stream
// (live) is decoded by ts/audio/pcm-stream.ts.
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { throwIfAborted } from '../abort.js';
import { InputAudioError, S3DError } from '../errors.js';
import type { SessionCore } from '../session-core.js';
import { describe, expectOptions, expectSignal, isPlainObject } from '../validate.js';
import { findFfmpeg, streamWithFfmpeg } from './ffmpeg.js';
import { AudioTrack, StreamingTrack, oneShotTrack, type Samples } from './track.js';
import { readWavLayout, streamWavFile, type WavLayout } from './wav-stream.js';
import { decodeWav, describeStart } from './wav.js';

export { AudioTrack } from './track.js';
export { findFfmpeg, decodeWithFfmpeg } from './ffmpeg.js';
export type { FfmpegInfo, DecodeWithFfmpegOptions } from './ffmpeg.js';
export { decodeAudioStream } from './pcm-stream.js';
export type { PcmFormat, DecodeAudioStreamOptions, ByteSource, PcmChunk } from './pcm-stream.js';

/**
 * An audio file path or its bytes (WAV natively; mp3, m4a/aac, ogg, opus,
 * flac, ... through ffmpeg), or mono float samples with their rate.
 */
export type AudioInput = string | Buffer | Uint8Array | { samples: Float32Array; sampleRate: number };

export interface PrepareAudioOptions {
  signal?: AbortSignal;
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

/** Malformed WAV files up to this size go through the in-memory decoder (its errors and ffmpeg fallback, as for a Buffer). */
const SMALL_FILE_BYTES = 64 << 20;

/** Decodes with ffmpeg straight into the engine, chunk by chunk. */
async function ffmpegTrack(session: SessionCore, input: string | Uint8Array, label: string, signal: AbortSignal | undefined): Promise<AudioTrack> {
  const sink = new StreamingTrack(session, signal);
  try {
    await streamWithFfmpeg(input, sink, { signal, label });
    return await sink.finish();
  } finally {
    sink.dispose();
  }
}

/**
 * Audio file bytes in memory. WAV goes through wavefile (ts/audio/wav.ts)
 * and the engine in one call. Encoded audio (see looksLikeEncodedAudio), and a
 * WAV whose codec or container wavefile cannot read, go through ffmpeg when
 * one is available (streamed into the engine). Other bytes get the WAV
 * decoder's error. `path` is the file the bytes came from (ffmpeg then reads
 * the file itself).
 */
async function trackFromBytes(session: SessionCore, buf: Uint8Array, label: string, path: string | undefined, signal: AbortSignal | undefined): Promise<AudioTrack> {
  if (buf.length === 0) throw new InputAudioError(`Expected WAV data but received an empty ${label}`);
  const describeInput = `${label}, ${buf.length} bytes starting with ${describeStart(buf)}`;
  if (!isWav(buf) && looksLikeEncodedAudio(buf)) return ffmpegTrack(session, path ?? buf, describeInput, signal);
  let decoded: Samples;
  try {
    decoded = decodeWav(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length));
  } catch (err) {
    const wavError = err instanceof S3DError ? err : new InputAudioError(`Cannot decode the audio (${label}): ${(err as Error).message}`, { cause: err });
    if (!isWav(buf) || !wavFallbackWorthy(err) || !findFfmpeg()) throw wavError;
    return ffmpegFallback(session, path ?? buf, describeInput, wavError, signal);
  }
  return oneShotTrack(session, decoded, signal);
}

/** ffmpeg for a WAV the WAV reader could not parse; both errors when it fails too. */
async function ffmpegFallback(session: SessionCore, input: string | Uint8Array, label: string, wavError: Error, signal: AbortSignal | undefined): Promise<AudioTrack> {
  try {
    return await ffmpegTrack(session, input, label, signal);
  } catch (ffErr) {
    if (!(ffErr instanceof InputAudioError)) throw ffErr;
    throw new InputAudioError(`${wavError.message}; ffmpeg could not decode it either: ${ffErr.message}`, { cause: ffErr });
  }
}

/**
 * An audio file on disk, streamed: WAV is read in chunks (ts/audio/wav-stream.ts)
 * and other formats are decoded by ffmpeg as they are read, both pushed to
 * the engine chunk by chunk, so a recording of any length fits in memory.
 * What the streaming reader cannot parse (and is small) takes the in-memory
 * path, with its errors and fallbacks.
 */
async function trackFromFile(session: SessionCore, path: string, signal: AbortSignal | undefined): Promise<AudioTrack> {
  const readError = (err: unknown): InputAudioError =>
    new InputAudioError(`Cannot read the audio file ${path}: ${(err as Error).message}`, { cause: err });
  const inMemory = async (): Promise<AudioTrack> => {
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch (err) {
      throw readError(err);
    }
    return trackFromBytes(session, buf, path, path, signal);
  };
  let fh: FileHandle;
  let size: number;
  let head: Buffer;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw readError(err);
  }
  try {
    try {
      const st = await fh.stat();
      if (!st.isFile() || st.size === 0) return await inMemory(); // its error (or a FIFO read whole)
      size = st.size;
      head = Buffer.alloc(Math.min(size, 64));
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      head = head.subarray(0, bytesRead);
    } catch (err) {
      if (err instanceof S3DError) throw err;
      throw readError(err);
    }
    const label = `${path}, ${size} bytes starting with ${describeStart(head)}`;
    if (!isWav(head)) {
      if (looksLikeEncodedAudio(head)) return await ffmpegTrack(session, path, label, signal);
      if (size <= SMALL_FILE_BYTES) return await inMemory();
      throw new InputAudioError(`Expected a WAV file (RIFF/WAVE) for audio but received ${size} bytes starting with ${describeStart(head)}`);
    }
    let layout: WavLayout;
    try {
      layout = await readWavLayout(fh, size);
    } catch (err) {
      if (size <= SMALL_FILE_BYTES) return await inMemory();
      if (!(err instanceof InputAudioError)) throw readError(err);
      if (!wavFallbackWorthy(err) || !findFfmpeg()) throw err;
      return await ffmpegFallback(session, path, label, err, signal);
    }
    const sink = new StreamingTrack(session, signal);
    try {
      try {
        await streamWavFile(fh, layout, sink, signal);
      } catch (err) {
        if (err instanceof S3DError) throw err;
        throw readError(err);
      }
      return await sink.finish();
    } finally {
      sink.dispose();
    }
  } finally {
    await fh.close();
  }
}

/** @internal Implementation of Session.prepareAudio. */
export async function prepareAudio(session: SessionCore, input: AudioInput, options?: PrepareAudioOptions): Promise<AudioTrack> {
  session._assertOpen();
  const signal = expectSignal(expectOptions(options, 'options', { fn: 'prepareAudio', keys: ['signal'] }).signal);
  throwIfAborted(signal);
  if (typeof input === 'string') return trackFromFile(session, input, signal);
  if (input instanceof Uint8Array) return trackFromBytes(session, input, 'buffer', undefined, signal);
  if (isPlainObject(input) && 'samples' in input) {
    const { samples, sampleRate } = input as { samples: unknown; sampleRate: unknown };
    if (!(samples instanceof Float32Array))
      throw new InputAudioError(`Expected a Float32Array of mono samples for samples but received ${describe(samples)}`);
    if (typeof sampleRate !== 'number' || !Number.isInteger(sampleRate) || sampleRate < 1)
      throw new InputAudioError(`Expected a positive integer for sampleRate but received ${describe(sampleRate)}`);
    return oneShotTrack(session, { samples, sampleRate }, signal);
  }
  throw new InputAudioError(
    `Expected an audio file path, a Buffer of audio file data, or { samples, sampleRate } for audio but received ${describe(input)}`,
  );
}
