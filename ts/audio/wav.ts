// WAV decoding for the audio input (DESIGN §2: anything that is not mono
// float32 is decoded and down-mixed here; resampling happens in the engine).
// The container (RIFF/RIFX/RF64 chunks, 'fmt ') is parsed by `wavefile`; the
// sample bytes are converted here because wavefile leaves integers
// unnormalised and reads WAVE_FORMAT_EXTENSIBLE float data as integers.
// The conversion works chunk by chunk (convertWavFrames) so that WAV files
// read from disk can be streamed (ts/audio/wav-stream.ts).
import wavefile from 'wavefile';

import { InputAudioError } from '../errors.js';

export interface DecodedAudio {
  /** Mono samples (channels averaged), nominally in [-1, 1]. */
  samples: Float32Array;
  sampleRate: number;
  /** Channel count of the file before down-mixing. */
  channels: number;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

export interface FmtChunk {
  audioFormat: number;
  numChannels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
  subformat?: number[];
}

/** Describes the first bytes of a buffer for error messages: "ID3" or 0x0001ABCD. */
export function describeStart(buf: Uint8Array): string {
  const head = buf.subarray(0, 4);
  let text = '';
  for (const b of head) {
    if (b < 0x20 || b > 0x7e) break;
    text += String.fromCharCode(b);
  }
  if (text.length > 0) return JSON.stringify(text);
  return '0x' + Array.from(head, (b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
}

function bytes(n: number): string {
  return `${n} byte${n === 1 ? '' : 's'}`;
}

function isWavContainer(buf: Uint8Array): boolean {
  if (buf.length < 12) return false;
  const tag = (o: number): string => String.fromCharCode(buf[o]!, buf[o + 1]!, buf[o + 2]!, buf[o + 3]!);
  const riff = tag(0);
  return (riff === 'RIFF' || riff === 'RIFX' || riff === 'RF64') && tag(8) === 'WAVE';
}

/**
 * Decodes a WAV file (PCM 8/16/24/32-bit integer, 32/64-bit float, any
 * channel count, including WAVE_FORMAT_EXTENSIBLE) to mono float32.
 * Throws InputAudioError for anything else.
 */
export function decodeWav(buf: Buffer): { samples: Float32Array; sampleRate: number; channels: number } {
  if (!(buf instanceof Uint8Array)) {
    throw new InputAudioError(`Expected a Buffer for audio but received ${buf === null ? 'null' : typeof buf}`);
  }
  if (!isWavContainer(buf)) {
    throw new InputAudioError(
      `Expected a WAV file (RIFF/WAVE) for audio but received ${bytes(buf.length)}` +
        (buf.length > 0 ? ` starting with ${describeStart(buf)}` : ''),
    );
  }
  let wav: InstanceType<typeof wavefile.WaveFile>;
  try {
    wav = new wavefile.WaveFile(buf);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new InputAudioError(`Expected a readable WAV file for audio but parsing failed: ${reason}`, { cause: err });
  }
  const fmt = wav.fmt as FmtChunk;
  const chunk = wav.data as { samples: Uint8Array; chunkSize: number };
  // wavefile's data slice includes the RIFF pad byte of an odd-sized chunk;
  // keep only the declared size (it can exceed the bytes present in a
  // truncated or RF64/streamed file: then take what is there).
  const declared = Number.isInteger(chunk.chunkSize) && chunk.chunkSize >= 0 ? chunk.chunkSize : chunk.samples.length;
  const data = chunk.samples.subarray(0, Math.min(declared, chunk.samples.length));
  const format = wavSampleFormat(fmt, wav.container === 'RIFX');
  const frames = wavFrameCount(format, data.length);
  const samples = new Float32Array(frames);
  convertWavFrames(format, data, samples, 0);
  return { samples, sampleRate: format.sampleRate, channels: format.channels };
}

/** How the sample bytes of a WAV file are laid out (validated). */
export interface WavSampleFormat {
  kind: 'u8' | 'i16' | 'i24' | 'i32' | 'f32' | 'f64';
  channels: number;
  sampleRate: number;
  bytesPerSample: number;
  /** Bytes per frame (all channels): channels * bytesPerSample, or a larger blockAlign. */
  frameBytes: number;
  bigEndian: boolean;
}

/**
 * Validates a 'fmt ' chunk (as wavefile parses it, or as the streaming reader
 * in ts/audio/wav-stream.ts does). Throws InputAudioError for what cannot be decoded.
 */
export function wavSampleFormat(fmt: FmtChunk, bigEndian: boolean): WavSampleFormat {
  let format = fmt.audioFormat;
  if (format === WAVE_FORMAT_EXTENSIBLE) {
    // The sub-format GUID starts with the plain format code (…-0000-0010-8000-00AA00389B71).
    format = fmt.subformat?.[0] ?? 0;
  }
  const channels = fmt.numChannels;
  const bits = fmt.bitsPerSample;
  const sampleRate = fmt.sampleRate;
  if (!Number.isInteger(channels) || channels < 1) {
    throw new InputAudioError(`Expected at least 1 audio channel in the WAV file but received ${channels}`);
  }
  if (!Number.isInteger(sampleRate) || sampleRate < 1) {
    throw new InputAudioError(`Expected a positive sample rate in the WAV file but received ${sampleRate}`);
  }
  let kind: WavSampleFormat['kind'];
  if (format === WAVE_FORMAT_PCM && bits === 8) kind = 'u8';
  else if (format === WAVE_FORMAT_PCM && bits === 16) kind = 'i16';
  else if (format === WAVE_FORMAT_PCM && bits === 24) kind = 'i24';
  else if (format === WAVE_FORMAT_PCM && bits === 32) kind = 'i32';
  else if (format === WAVE_FORMAT_IEEE_FLOAT && bits === 32) kind = 'f32';
  else if (format === WAVE_FORMAT_IEEE_FLOAT && bits === 64) kind = 'f64';
  else {
    const name =
      format === WAVE_FORMAT_PCM ? `${bits}-bit PCM` : format === WAVE_FORMAT_IEEE_FLOAT ? `${bits}-bit float` : `format code ${format} (${bits}-bit)`;
    throw new InputAudioError(
      `Expected WAV audio as 8/16/24/32-bit integer PCM or 32/64-bit float but received ${name}`,
    );
  }
  const bytesPerSample = bits / 8;
  // blockAlign is normally channels * bytesPerSample; honour a larger one.
  const frameBytes = Math.max(bytesPerSample * channels, Number.isInteger(fmt.blockAlign) ? fmt.blockAlign : 0);
  return { kind, channels, sampleRate, bytesPerSample, frameBytes, bigEndian };
}

/**
 * Whole frames in `dataBytes` bytes of sample data (a truncated last frame,
 * common in clipped files, is dropped). Throws InputAudioError when there are none.
 */
export function wavFrameCount(format: WavSampleFormat, dataBytes: number): number {
  const frames = Math.floor(dataBytes / format.frameBytes);
  if (frames === 0) {
    throw new InputAudioError(`Expected audio samples in the WAV file but received ${bytes(dataBytes)} of sample data`);
  }
  return frames;
}

/**
 * Converts out.length whole frames from `data` to mono float32 (channels
 * averaged) into `out`. `firstIndex` is the index of the first frame in the
 * whole file, for the error about a non-finite sample; chunks converted one
 * after another give exactly what one call on all the data gives.
 */
export function convertWavFrames(format: WavSampleFormat, data: Uint8Array, out: Float32Array, firstIndex: number): void {
  const { kind, channels, bytesPerSample, frameBytes } = format;
  const frames = out.length;
  const view = new DataView(data.buffer, data.byteOffset, frames * frameBytes);
  const le = !format.bigEndian;
  const inv = 1 / channels;
  const nonFinite = (v: number, i: number): never => {
    throw new InputAudioError(
      `Expected finite audio samples but received ${Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity'} at index ${firstIndex + i}`,
    );
  };
  // 16-bit little-endian PCM (by far the most common) gets a loop of its own.
  if (kind === 'i16' && le) {
    for (let i = 0, o = 0; i < frames; ++i, o += frameBytes) {
      let acc = 0;
      for (let c = 0, p = o; c < channels; ++c, p += 2) acc += view.getInt16(p, true) / 32768;
      out[i] = channels === 1 ? acc : acc * inv;
    }
    return;
  }
  const read = ((): ((offset: number) => number) => {
    switch (kind) {
      case 'u8':
        return (o) => (view.getUint8(o) - 128) / 128;
      case 'i16':
        return (o) => view.getInt16(o, le) / 32768;
      case 'i24':
        return (o) => {
          const b0 = view.getUint8(o), b1 = view.getUint8(o + 1), b2 = view.getUint8(o + 2);
          const v = le ? b0 | (b1 << 8) | (b2 << 16) : b2 | (b1 << 8) | (b0 << 16);
          return ((v << 8) >> 8) / 8388608;  // sign-extend 24 -> 32 bits
        };
      case 'i32':
        return (o) => view.getInt32(o, le) / 2147483648;
      case 'f32':
        return (o) => view.getFloat32(o, le);
      case 'f64':
        return (o) => view.getFloat64(o, le);
    }
  })();
  for (let i = 0; i < frames; ++i) {
    let acc = 0;
    for (let c = 0, o = i * frameBytes; c < channels; ++c, o += bytesPerSample) acc += read(o);
    const v = channels === 1 ? acc : acc * inv;
    if (!Number.isFinite(v)) nonFinite(v, i);
    out[i] = v;
  }
}

