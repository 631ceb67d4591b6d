// WAV files read from disk in chunks: the RIFF/RIFX/RF64 header is parsed here
// (chunk by chunk, with positional reads, so the sample data is never loaded
// whole), then the sample data is read 1 MiB at a time, converted and
// down-mixed by the same code as the in-memory decoder (ts/audio/wav.ts)
// and handed to a sink (the engine's streaming front end).
import type { FileHandle } from 'node:fs/promises';
import { throwIfAborted } from '../abort.js';
import { InputAudioError } from '../errors.js';
import type { SampleSink } from './ffmpeg.js';
import { convertWavFrames, wavFrameCount, wavSampleFormat, type FmtChunk, type WavSampleFormat } from './wav.js';

/** Bytes of sample data read per chunk (rounded down to whole frames). */
export const WAV_CHUNK_BYTES = 1 << 20;

export interface WavLayout {
  format: WavSampleFormat;
  /** File offset of the first sample byte. */
  dataOffset: number;
  /** Sample bytes to use: the declared size, or what the file holds when it claims more. */
  dataBytes: number;
}

function unreadable(reason: string): InputAudioError {
  // Same wording as decodeWav's container errors, so the ffmpeg fallback applies alike.
  return new InputAudioError(`Expected a readable WAV file for audio but parsing failed: ${reason}`);
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/**
 * Parses the header of the WAV file open as `fh` (fileSize bytes): the 'fmt '
 * chunk (validated by wavSampleFormat: its errors are the in-memory
 * decoder's) and where the 'data' chunk's samples lie. RF64 sizes come from
 * the 'ds64' chunk. Throws InputAudioError; container problems read
 * "Expected a readable WAV file for audio but parsing failed: ...".
 */
export async function readWavLayout(fh: FileHandle, fileSize: number): Promise<WavLayout> {
  const riff = await readAt(fh, 0, 12);
  const tag = riff.length === 12 ? riff.toString('latin1', 0, 4) : '';
  if (!['RIFF', 'RIFX', 'RF64'].includes(tag) || riff.toString('latin1', 8, 12) !== 'WAVE') throw unreadable('not a RIFF/WAVE file');
  const be = tag === 'RIFX';
  const u16 = (b: Buffer, o: number): number => (be ? b.readUInt16BE(o) : b.readUInt16LE(o));
  const u32 = (b: Buffer, o: number): number => (be ? b.readUInt32BE(o) : b.readUInt32LE(o));
  let fmt: FmtChunk | undefined;
  let data: { offset: number; size: number } | undefined;
  let ds64DataSize: number | undefined;
  let pos = 12;
  while (pos + 8 <= fileSize && !(fmt && data)) {
    const head = await readAt(fh, pos, 8);
    if (head.length < 8) break;
    const id = head.toString('latin1', 0, 4);
    let size = u32(head, 4);
    const body = pos + 8;
    if (id === 'ds64' && tag === 'RF64') {
      const b = await readAt(fh, body, Math.min(size, 28));
      if (b.length < 16) throw unreadable('ds64 chunk too short');
      ds64DataSize = b.readUInt32LE(8) + b.readUInt32LE(12) * 2 ** 32;
    } else if (id === 'fmt ' && !fmt) {
      const b = await readAt(fh, body, Math.min(size, 40));
      if (size < 16 || b.length < 16) throw unreadable(`'fmt ' chunk of ${size} bytes`);
      fmt = {
        audioFormat: u16(b, 0),
        numChannels: u16(b, 2),
        sampleRate: u32(b, 4),
        blockAlign: u16(b, 12),
        bitsPerSample: u16(b, 14),
      };
      // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the format code.
      if (b.length >= 28) fmt.subformat = [u32(b, 24)];
    } else if (id === 'data' && !data) {
      if (tag === 'RF64' && size === 0xffffffff && ds64DataSize !== undefined) size = ds64DataSize;
      data = { offset: body, size };
    }
    pos = body + size + (size % 2);
  }
  if (!fmt) throw unreadable("no 'fmt ' chunk");
  if (!data) throw unreadable("no 'data' chunk");
  const format = wavSampleFormat(fmt, be);
  return { format, dataOffset: data.offset, dataBytes: Math.max(0, Math.min(data.size, fileSize - data.offset)) };
}

/**
 * Reads the samples described by `layout` in chunks, converts and down-mixes
 * each, and writes it to the sink (sink.start first, with the rate); the
 * signal is checked before every chunk. Resolves to the number of samples.
 */
export async function streamWavFile(fh: FileHandle, layout: WavLayout, sink: SampleSink, signal?: AbortSignal): Promise<number> {
  const { format, dataOffset } = layout;
  const { frameBytes } = format;
  const frames = wavFrameCount(format, layout.dataBytes);
  sink.start(format.sampleRate);
  const perChunk = Math.max(1, Math.floor(WAV_CHUNK_BYTES / frameBytes));
  const buf = Buffer.alloc(perChunk * frameBytes);
  let done = 0;
  while (done < frames) {
    throwIfAborted(signal);
    const want = Math.min(perChunk, frames - done) * frameBytes;
    let got = 0;
    while (got < want) {
      const { bytesRead } = await fh.read(buf, got, want - got, dataOffset + done * frameBytes + got);
      if (bytesRead === 0) break;  // the file shrank while being read: use what is there
      got += bytesRead;
    }
    const n = Math.floor(got / frameBytes);
    if (n === 0) break;
    // A fresh array per chunk: the sink may still be using the previous one.
    const out = new Float32Array(n);
    convertWavFrames(format, buf.subarray(0, n * frameBytes), out, done);
    await sink.write(out);
    done += n;
    if (got < want) break;
  }
  return done;
}
