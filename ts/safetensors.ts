// The safetensors container's header, the one JavaScript reader of it (the engine's
// C++ reader, cpp/core/safetensors.cc, loads the tensors). `s3d-nerf doctor` reads a
// model's header with it; tests/helpers/safetensors.mjs builds the tests' tensor
// codec on it. Layout: u64 little-endian header length N, N bytes of UTF-8 JSON
// { "__metadata__": { str: str }, name: { dtype, shape, data_offsets: [begin, end] } },
// then the tensor data.
import { open } from 'node:fs/promises';

/** Largest header accepted, as the engine's (kSafetensorsMaxHeader). */
export const SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024;

export interface SafetensorsHeader {
  /** The parsed JSON header (tensor entries and "__metadata__"). */
  readonly header: Record<string, unknown>;
  /** The header's text as stored (with any alignment padding). */
  readonly headerText: string;
  /** Bytes before the data section: 8 + N. */
  readonly dataStart: number;
}

/**
 * Parses the header at the start of `buf`. `fileBytes` is the whole file's size when
 * `buf` holds only its beginning (default: buf.length). Throws an Error naming the
 * problem when the length prefix is out of range or the header is not a JSON object.
 */
export function parseSafetensorsHeader(buf: Uint8Array, fileBytes = buf.length): SafetensorsHeader {
  if (buf.length < 8 || fileBytes < 8)
    throw new Error(`not a safetensors file: ${Math.min(buf.length, fileBytes)} bytes is too short for the 8-byte header length`);
  const n = Number(Buffer.from(buf.buffer, buf.byteOffset, 8).readBigUInt64LE(0));
  if (n <= 0 || n > SAFETENSORS_MAX_HEADER || 8 + n > fileBytes || 8 + n > buf.length)
    throw new Error(`not a safetensors file: header length ${n} out of range for ${fileBytes} bytes`);
  const headerText = Buffer.from(buf.buffer, buf.byteOffset + 8, n).toString('utf8');
  const header = JSON.parse(headerText) as unknown;
  if (!header || typeof header !== 'object' || Array.isArray(header))
    throw new Error('not a safetensors file: the header is not a JSON object');
  return { header: header as Record<string, unknown>, headerText, dataStart: 8 + n };
}

/** Reads only the header of the file at `path` (model files are large). */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader & { readonly fileBytes: number }> {
  const fh = await open(path, 'r');
  try {
    const fileBytes = (await fh.stat()).size;
    const len = Buffer.alloc(8);
    await fh.read(len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    const head = Buffer.alloc(8 + Math.max(0, Math.min(n, SAFETENSORS_MAX_HEADER, fileBytes - 8)));
    await fh.read(head, 0, head.length, 0);
    return { ...parseSafetensorsHeader(head, fileBytes), fileBytes };
  } finally {
    await fh.close();
  }
}
