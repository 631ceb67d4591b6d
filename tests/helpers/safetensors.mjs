// The tests' safetensors reader/writer (no PyTorch needed), the one JavaScript
// codec: tests/*.mjs and scripts/*.mjs import it rather than parse files themselves.
// Reads F32 / F16 / BF16 (and F64) tensors into Float32Array; writes F32
// (default), F16 or BF16. Format: u64 LE header length, JSON header
// { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__: {str: str} },
// then the raw little-endian data. The header itself is read by the package's own
// reader (ts/safetensors.ts, which `s3d-nerf doctor` uses).
// splitSafetensors / joinSafetensors give the header and the data section apart,
// for tests that edit a file's header (model surgery, malformed files).
import { readFileSync, writeFileSync } from 'node:fs';
import { parseSafetensorsHeader, readSafetensorsHeader } from '../../lib/safetensors.js';

export { parseSafetensorsHeader, readSafetensorsHeader };

function f16ToF32(h) {
  const s = (h & 0x8000) ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function f32ToF16(x) {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

function f32ToBf16(x) {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff)) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * Splits a safetensors buffer: { header (parsed JSON, "__metadata__" included),
 * headerText (as stored), dataStart (8 + header bytes), data (the data section, a
 * view of buf) }.
 */
export function splitSafetensors(buf) {
  const { header, headerText, dataStart } = parseSafetensorsHeader(buf);
  return { header, headerText, dataStart, data: buf.subarray(dataStart) };
}

/**
 * The inverse of splitSafetensors: the length prefix, the header (an object, written
 * with JSON.stringify; or a string / Buffer written as it is, for malformed headers)
 * and the data section. No alignment padding is added.
 */
export function joinSafetensors(header, data = Buffer.alloc(0)) {
  const h = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

/** Parses a safetensors buffer. Returns { metadata, tensors: Map<name, { dtype, shape, data: Float32Array }> }. */
export function parseSafetensors(buf) {
  const { header, data: body } = splitSafetensors(buf);
  const metadata = header.__metadata__ ?? {};
  delete header.__metadata__;
  const tensors = new Map();
  for (const [name, info] of Object.entries(header)) {
    const [b, e] = info.data_offsets;
    const bytes = body.subarray(b, e);
    const count = info.shape.reduce((a, d) => a * d, 1);
    const data = new Float32Array(count);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    switch (info.dtype) {
      case 'F32': for (let i = 0; i < count; i++) data[i] = dv.getFloat32(4 * i, true); break;
      case 'F64': for (let i = 0; i < count; i++) data[i] = dv.getFloat64(8 * i, true); break;
      case 'F16': for (let i = 0; i < count; i++) data[i] = f16ToF32(dv.getUint16(2 * i, true)); break;
      case 'BF16':
        for (let i = 0; i < count; i++) { u32[0] = dv.getUint16(2 * i, true) << 16; data[i] = f32[0]; }
        break;
      default: throw new Error(`safetensors: unsupported dtype ${info.dtype} for ${name}`);
    }
    if (bytes.length !== count * { F32: 4, F64: 8, F16: 2, BF16: 2 }[info.dtype])
      throw new Error(`safetensors: ${name} has ${bytes.length} bytes for shape [${info.shape}]`);
    tensors.set(name, { dtype: info.dtype, shape: info.shape, data });
  }
  return { metadata, tensors };
}

export function readSafetensors(path) {
  return parseSafetensors(readFileSync(path));
}

/**
 * Serialises tensors (Map or object of { shape, data, dtype? }) with string
 * metadata. dtype per tensor: 'F32' (default), 'F16' or 'BF16'. Names are
 * written sorted, data 8-byte aligned as in the reference implementation.
 */
export function serializeSafetensors(tensors, metadata = {}) {
  const entries = [...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors))].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const chunks = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const dtype = t.dtype ?? 'F32';
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (t.data.length !== count) throw new Error(`safetensors: ${name} has ${t.data.length} values for shape [${t.shape}]`);
    let bytes;
    if (dtype === 'F32') bytes = Buffer.from(Float32Array.from(t.data).buffer);
    else if (dtype === 'F16' || dtype === 'BF16') {
      const h = new Uint16Array(count);
      const conv = dtype === 'F16' ? f32ToF16 : f32ToBf16;
      for (let i = 0; i < count; i++) h[i] = conv(t.data[i]);
      bytes = Buffer.from(h.buffer);
    } else throw new Error(`safetensors: cannot write dtype ${dtype}`);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8) json += ' ';
  return joinSafetensors(json, Buffer.concat(chunks));
}

export function writeSafetensors(path, tensors, metadata = {}) {
  writeFileSync(path, serializeSafetensors(tensors, metadata));
}
