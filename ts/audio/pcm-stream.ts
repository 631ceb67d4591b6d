// Speech arriving as bytes (a pipe, a socket, stdin, a fetch body) decoded to
// mono float32 chunks as the bytes come in, for live streams (ts/live.ts):
// WAV (header parsed incrementally; a streamed WAV's placeholder sizes are
// read to the end of the input), or raw little-endian PCM (f32le, s16le) at a
// given rate. The sample conversion and down-mixing are the WAV decoder's
// (ts/audio/wav.ts), so a WAV decodes here exactly as prepareAudio decodes
// the same file.
import { throwIfAborted } from '../abort.js';
import { InputAudioError, InvalidArgumentError } from '../errors.js';
import { describe, isPlainObject } from '../validate.js';
import { convertWavFrames, describeStart, wavSampleFormat, type FmtChunk, type WavSampleFormat } from './wav.js';

/** 'wav': a WAV stream (any rate/channels/sample format prepareAudio reads); 'f32le' / 's16le': raw PCM, needs sampleRate. */
export type PcmFormat = 'wav' | 'f32le' | 's16le';

export const PCM_FORMATS: readonly PcmFormat[] = ['wav', 'f32le', 's16le'];

export interface DecodeAudioStreamOptions {
  /** Default 'wav'. */
  format?: PcmFormat;
  /** Samples per second per channel; required for raw PCM, not allowed with 'wav' (the header has it). */
  sampleRate?: number;
  /** Interleaved channels of raw PCM (default 1; averaged to mono). */
  channels?: number;
  signal?: AbortSignal;
}

/** Bytes: a Node Readable, a WHATWG ReadableStream, or any (async) iterable of Uint8Array / ArrayBuffer chunks. */
export type ByteSource =
  | AsyncIterable<Uint8Array | ArrayBuffer>
  | Iterable<Uint8Array | ArrayBuffer>
  | { getReader(): { read(): Promise<{ done?: boolean; value?: unknown }>; releaseLock(): void; cancel?(reason?: unknown): Promise<void> } };

/** A decoded chunk: mono float32 at the source rate. */
export interface PcmChunk {
  samples: Float32Array;
  sampleRate: number;
}

/** Checks the options; returns them with defaults. */
export function checkDecodeOptions(options: unknown): Required<Omit<DecodeAudioStreamOptions, 'sampleRate' | 'signal'>> & { sampleRate: number | undefined; signal: AbortSignal | undefined } {
  if (options !== undefined && !isPlainObject(options)) throw new InvalidArgumentError(`Expected an object for options but received ${describe(options)}`);
  const o = (options ?? {}) as DecodeAudioStreamOptions;
  const format = o.format ?? 'wav';
  if (!PCM_FORMATS.includes(format))
    throw new InvalidArgumentError(`Expected one of 'wav', 'f32le', 's16le' for format but received ${describe(format)}`);
  const channels = o.channels ?? 1;
  if (typeof channels !== 'number' || !Number.isInteger(channels) || channels < 1 || channels > 64)
    throw new InvalidArgumentError(`Expected an integer between 1 and 64 for channels but received ${describe(channels)}`);
  let sampleRate = o.sampleRate;
  if (format === 'wav') {
    if (sampleRate !== undefined) throw new InvalidArgumentError(`sampleRate is only for raw PCM (format 'f32le' or 's16le'): a WAV stream carries its rate`);
    if (o.channels !== undefined) throw new InvalidArgumentError(`channels is only for raw PCM (format 'f32le' or 's16le'): a WAV stream carries its channel count`);
  } else if (typeof sampleRate !== 'number' || !Number.isInteger(sampleRate) || sampleRate < 1)
    throw new InvalidArgumentError(`Expected a positive integer sampleRate for raw ${format} PCM but received ${describe(sampleRate)}`);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new InvalidArgumentError(`Expected an AbortSignal for signal but received ${describe(o.signal)}`);
  return { format, channels, sampleRate, signal: o.signal };
}

/** The chunks of a byte source, as Uint8Array. */
export async function* byteChunks(source: ByteSource, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const asBytes = (c: unknown): Uint8Array => {
    if (c instanceof Uint8Array) return c;
    if (c instanceof ArrayBuffer) return new Uint8Array(c);
    throw new InvalidArgumentError(
      `Expected audio bytes (Uint8Array, Buffer or ArrayBuffer chunks) but the stream produced ${describe(c)}` +
        (typeof c === 'string' ? ' (a Readable with an encoding set: do not call setEncoding)' : ''),
    );
  };
  if (source !== null && typeof source === 'object' && typeof (source as { getReader?: unknown }).getReader === 'function' && !(Symbol.asyncIterator in source)) {
    const reader = (source as Extract<ByteSource, { getReader(): unknown }>).getReader();
    try {
      for (;;) {
        throwIfAborted(signal);
        const { done, value } = await reader.read();
        if (done) return;
        yield asBytes(value);
      }
    } finally {
      reader.releaseLock();
    }
  }
  if (source === null || typeof source !== 'object' || (!(Symbol.asyncIterator in source) && !(Symbol.iterator in source)))
    throw new InvalidArgumentError(`Expected a Readable, a ReadableStream or an iterable of byte chunks for source but received ${describe(source)}`);
  for await (const c of source as AsyncIterable<unknown>) {
    throwIfAborted(signal);
    yield asBytes(c);
  }
}

/** Concatenation of byte chunks. */
function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}


const unreadable = (reason: string): InputAudioError => new InputAudioError(`Expected a readable WAV stream for audio but parsing failed: ${reason}`);

/**
 * Incremental WAV header parser: feed() bytes until it returns the sample
 * format and the bytes after the 'data' chunk header (the first samples).
 */
class WavHeaderParser {
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 12; // next chunk header
  #tag = '';
  #fmt: FmtChunk | undefined;
  #ds64: number | undefined;
  #total = 0;

  /** Undefined while more bytes are needed. */
  feed(chunk: Uint8Array): { format: WavSampleFormat; dataBytes: number | undefined; rest: Uint8Array } | undefined {
    this.#buf = concat(this.#buf, chunk);
    this.#total += chunk.length;
    const b = this.#buf;
    if (!this.#tag) {
      if (b.length < 12) {
        if (b.length >= 4 && !['RIFF', 'RIFX', 'RF64'].some((t) => t.startsWith(String.fromCharCode(...b.subarray(0, 4))))) this.#notWav();
        return undefined;
      }
      const tag = String.fromCharCode(...b.subarray(0, 4));
      if (!['RIFF', 'RIFX', 'RF64'].includes(tag) || String.fromCharCode(...b.subarray(8, 12)) !== 'WAVE') this.#notWav();
      this.#tag = tag;
    }
    const be = this.#tag === 'RIFX';
    const view = new DataView(b.buffer, b.byteOffset, b.length);
    const u16 = (o: number): number => view.getUint16(o, !be);
    const u32 = (o: number): number => view.getUint32(o, !be);
    for (;;) {
      if (this.#pos + 8 > b.length) return undefined;
      const id = String.fromCharCode(...b.subarray(this.#pos, this.#pos + 4));
      const size = u32(this.#pos + 4);
      const body = this.#pos + 8;
      if (id === 'data') {
        if (!this.#fmt) throw unreadable("the 'data' chunk comes before the 'fmt ' chunk");
        const format = wavSampleFormat(this.#fmt, be);
        let dataBytes: number | undefined = size;
        if (this.#tag === 'RF64' && size === 0xffffffff) dataBytes = this.#ds64;
        // Streamed WAVs (ffmpeg/sox to a pipe) carry 0 or 0xFFFFFFFF: read to the end of the input.
        if (dataBytes === 0 || dataBytes === 0xffffffff) dataBytes = undefined;
        const rest = b.subarray(body);
        this.#buf = new Uint8Array(0);
        return { format, dataBytes, rest };
      }
      // Other chunks: wait for the whole body ('fmt ' and 'ds64' are read, the rest skipped).
      if (body + size + (size % 2) > b.length) {
        if (size > 1 << 20 && id !== 'fmt ' && id !== 'ds64') throw unreadable(`a '${id}' chunk of ${size} bytes before the samples`);
        return undefined;
      }
      if (id === 'fmt ' && !this.#fmt) {
        if (size < 16) throw unreadable(`'fmt ' chunk of ${size} bytes`);
        this.#fmt = { audioFormat: u16(body), numChannels: u16(body + 2), sampleRate: u32(body + 4), blockAlign: u16(body + 12), bitsPerSample: u16(body + 14) };
        if (size >= 28) this.#fmt.subformat = [u32(body + 24)];
      } else if (id === 'ds64' && this.#tag === 'RF64') {
        if (size < 16) throw unreadable('ds64 chunk too short');
        this.#ds64 = view.getUint32(body + 8, true) + view.getUint32(body + 12, true) * 2 ** 32;
      }
      this.#pos = body + size + (size % 2);
    }
  }

  /** The input ended before the first sample. */
  ended(): never {
    if (!this.#tag) this.#notWav();
    throw new InputAudioError(
      this.#fmt
        ? `Expected audio samples in the WAV stream but it ended after ${this.#total} bytes, before its 'data' chunk`
        : `Expected a readable WAV stream for audio but it ended after ${this.#total} bytes, before its 'fmt ' chunk`,
    );
  }

  #notWav(): never {
    const b = this.#buf;
    throw new InputAudioError(
      `Expected a WAV stream (RIFF/WAVE) for audio but received ${b.length === 0 ? 'no bytes' : `bytes starting with ${describeStart(b)}`}; ` +
        `for raw PCM give the format (f32le or s16le) and the sample rate`,
    );
  }
}

/**
 * Decodes audio bytes as they arrive into mono float32 chunks (one per input
 * chunk that completes at least one sample frame). Throws InputAudioError for
 * a malformed stream: not a WAV (format 'wav'), an unsupported WAV sample
 * format, a non-finite float sample, or raw PCM whose length is not a whole
 * number of sample frames when the input ends.
 */
export async function* decodeAudioStream(source: ByteSource, options?: DecodeAudioStreamOptions): AsyncGenerator<PcmChunk> {
  const o = checkDecodeOptions(options);
  const signal = o.signal;
  let format: WavSampleFormat | undefined;
  let remaining: number | undefined; // data bytes left (WAV with a real size)
  let carry: Uint8Array = new Uint8Array(0);
  let frames = 0; // sample frames decoded so far
  let bytes = 0;
  const header = o.format === 'wav' ? new WavHeaderParser() : undefined;
  if (!header) {
    const bytesPerSample = o.format === 'f32le' ? 4 : 2;
    format = {
      kind: o.format === 'f32le' ? 'f32' : 'i16',
      channels: o.channels,
      sampleRate: o.sampleRate!,
      bytesPerSample,
      frameBytes: bytesPerSample * o.channels,
      bigEndian: false,
    };
  }
  const convert = (data: Uint8Array): PcmChunk | undefined => {
    const fmt = format!;
    if (remaining !== undefined) {
      data = data.subarray(0, Math.min(data.length, remaining));
      remaining -= data.length;
    }
    const all = concat(carry, data);
    const n = Math.floor(all.length / fmt.frameBytes);
    carry = all.slice(n * fmt.frameBytes);
    if (n === 0) return undefined;
    const out = new Float32Array(n);
    convertWavFrames(fmt, all.subarray(0, n * fmt.frameBytes), out, frames);
    frames += n;
    return { samples: out, sampleRate: fmt.sampleRate };
  };
  for await (const chunk of byteChunks(source, signal)) {
    bytes += chunk.length;
    let data = chunk;
    if (!format) {
      const h = header!.feed(chunk);
      if (!h) continue;
      format = h.format;
      remaining = h.dataBytes;
      data = h.rest;
    }
    if (remaining === 0) continue; // past the declared data: trailing chunks
    const c = convert(data);
    if (c) yield c;
  }
  throwIfAborted(signal);
  if (!format) header!.ended();
  if (carry.length > 0 && !header) {
    const what = o.channels === 1 ? `${format!.bytesPerSample}-byte ${o.format} sample` : `${format!.frameBytes}-byte ${o.format} sample frame (${o.channels} channels)`;
    throw new InputAudioError(`Expected whole samples but the raw audio ended with ${carry.length} byte${carry.length === 1 ? '' : 's'} that ${carry.length === 1 ? 'is' : 'are'} not a whole ${what} (${bytes} bytes in all)`);
  }
  // WAV: a truncated last sample frame is dropped, as the WAV file readers do.
  if (frames === 0) throw new InputAudioError(`Expected audio samples but the ${o.format === 'wav' ? 'WAV stream' : 'raw audio'} held none (${bytes} bytes in all)`);
}
