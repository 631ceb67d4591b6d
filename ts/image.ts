// Image decoding, the one place an ImageInput (file path | encoded Buffer:
// PNG/JPEG/WebP/... via sharp | raw pixels) becomes pixels, in two forms:
// - decodeImage: an aligned face crop as the size*size*3 float RGB in [0, 1]
//   the engine takes (square input, resized to size);
// - decodePhoto: any photo at its own resolution as 8-bit RGB (EXIF rotation
//   applied, alpha flattened onto white, greyscale/CMYK/16-bit converted to
//   8-bit sRGB), for face preparation (ts/face/).
// Both refuse inputs over MAX_INPUT_PIXELS from the header, before decoding.
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { InputImageError } from './errors.js';
import { describe, isPlainObject } from './validate.js';

/** Uncompressed pixels, row-major, interleaved channels (alpha is dropped). */
export interface RawImage {
  /** 8-bit values (0..255), or floats in [0, 1]. */
  data: Uint8Array | Uint8ClampedArray | Float32Array;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** A file path, an encoded image (PNG, JPEG, WebP, ...) in a Buffer, or raw pixels. */
export type ImageInput = string | Buffer | Uint8Array | RawImage;

export interface DecodedImage {
  /** size*size*3 floats in [0, 1], channel-last. */
  rgb: Float32Array;
  /** Dimensions of the input before resizing (after EXIF rotation). */
  sourceWidth: number;
  sourceHeight: number;
}

/** 8-bit interleaved RGB pixels. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface DecodedPhoto extends RgbImage {
  /** How the input is named in messages (its path, 'buffer' or 'raw image'). */
  label: string;
}

/**
 * Largest input accepted, in pixels (width * height before resizing): 64 Mpx,
 * e.g. 8192 x 8192. Checked from the image header before any pixel is decoded,
 * so a small file declaring a huge image (a decompression bomb) is rejected
 * without allocating its pixels.
 */
export const MAX_INPUT_PIXELS = 8192 * 8192;

function tooLarge(w: number, h: number, label: string): InputImageError {
  return new InputImageError(
    `The image (${label}) is ${w}x${h} (${((w * h) / 1e6).toFixed(1)} Mpx), more than the ${MAX_INPUT_PIXELS / (1 << 20)} Mpx limit: ` +
      'crop or downscale it first',
  );
}

function isRawImage(v: unknown): v is RawImage {
  return isPlainObject(v) && 'data' in v && 'width' in v && 'height' in v;
}

/**
 * Reads a path or takes the bytes and hands them to `encoded`, or hands raw
 * pixels to `raw`; the one dispatch on ImageInput. Throws InputImageError.
 */
async function decodeInput<T>(
  input: ImageInput,
  encoded: (buf: Uint8Array, label: string) => Promise<T>,
  raw: (image: RawImage) => T | Promise<T>,
): Promise<T> {
  if (typeof input === 'string') {
    let buf: Buffer;
    try {
      buf = await readFile(input);
    } catch (err) {
      throw new InputImageError(`Cannot read the image file ${input}: ${(err as Error).message}`, { cause: err });
    }
    return encoded(buf, input);
  }
  if (input instanceof Uint8Array && !isRawImage(input)) return encoded(input, 'buffer');
  if (isRawImage(input)) return raw(checkRawImage(input));
  throw new InputImageError(
    `Expected a file path, a Buffer holding an encoded image, or { data, width, height, channels } for image but received ${describe(input)}`,
  );
}

/** Checks a raw image's size, channel count, pixel cap and data type/length. */
function checkRawImage(raw: RawImage): RawImage {
  const { data, width, height, channels } = raw;
  const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (!isInt(width) || !isInt(height))
    throw new InputImageError(`Expected positive integer width and height for a raw image but received ${describe(width)}x${describe(height)}`);
  if (channels !== 3 && channels !== 4) throw new InputImageError(`Expected 3 or 4 for raw image channels but received ${describe(channels)}`);
  if (width * height > MAX_INPUT_PIXELS) throw tooLarge(width, height, 'raw image');
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray || data instanceof Float32Array))
    throw new InputImageError(`Expected a Uint8Array, Uint8ClampedArray or Float32Array for raw image data but received ${describe(data)}`);
  const expected = width * height * channels;
  if (data.length !== expected)
    throw new InputImageError(`Expected ${expected} values for a ${width}x${height}x${channels} raw image but received ${data.length}`);
  return raw;
}

/**
 * Runs `decode` on an encoded image whose header was checked (non-empty, a
 * declared size within MAX_INPUT_PIXELS); sharp's errors become
 * InputImageError. The header is read without sharp's own pixel limit so the
 * size check gives our message; `decoder` keeps limitInputPixels as a second
 * line of defence.
 */
async function decodeEncoded<T>(
  buf: Uint8Array,
  label: string,
  decode: (decoder: sharp.Sharp, meta: sharp.Metadata) => Promise<T>,
): Promise<T> {
  if (buf.length === 0) throw new InputImageError(`Expected a non-empty image but received an empty ${label}`);
  try {
    const meta = await sharp(buf, { failOn: 'error', limitInputPixels: false }).metadata();
    const w = meta.width ?? 0;
    const h = meta.height ?? 0;
    if (!(w > 0 && h > 0)) throw new InputImageError(`Cannot decode the image (${label}): its header declares no size`);
    if (w * h > MAX_INPUT_PIXELS) throw tooLarge(w, h, label);
    return await decode(sharp(buf, { failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS }), meta);
  } catch (err) {
    if (err instanceof InputImageError) throw err;
    throw new InputImageError(`Cannot decode the image (${label}): ${(err as Error).message}`, { cause: err });
  }
}

// ---- aligned face crops: size*size float RGB -------------------------------

function toFloat(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; ++i) out[i] = bytes[i]! / 255;
  return out;
}

function notSquare(w: number, h: number): InputImageError {
  return new InputImageError(
    `Expected a square aligned face crop but received a ${w}x${h} image (align and crop the face first)`,
  );
}

function decodeEncodedCrop(buf: Uint8Array, size: number, label: string): Promise<DecodedImage> {
  return decodeEncoded(buf, label, async (image, meta) => {
    let w = meta.width!;
    let h = meta.height!;
    if ((meta.orientation ?? 1) >= 5) [w, h] = [h, w]; // EXIF 5..8 swap the axes
    if (w !== h) throw notSquare(w, h);
    let pipeline = image.rotate().removeAlpha().toColourspace('srgb');
    if (w !== size) pipeline = pipeline.resize(size, size, { fit: 'fill', kernel: 'lanczos3' });
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.width !== size || info.height !== size || info.channels !== 3 || data.length !== size * size * 3)
      throw new InputImageError(`Unexpected decoded layout ${info.width}x${info.height}x${info.channels} for ${label}`);
    return { rgb: toFloat(data), sourceWidth: w, sourceHeight: h };
  });
}

async function decodeRawCrop(raw: RawImage, size: number): Promise<DecodedImage> {
  const { data, width, height, channels } = raw;
  if (width !== height) throw notSquare(width, height);

  // Drop alpha; floats are taken as [0,1], bytes as 0..255.
  const n = width * height;
  const rgb = new Float32Array(n * 3);
  const scale = data instanceof Float32Array ? 1 : 1 / 255;
  for (let i = 0; i < n; ++i)
    for (let c = 0; c < 3; ++c) rgb[i * 3 + c] = data[i * channels + c]! * scale;
  for (let i = 0; i < rgb.length; ++i)
    if (!Number.isFinite(rgb[i])) throw new InputImageError('Expected finite values in raw image data');
  if (width === size) return { rgb, sourceWidth: width, sourceHeight: height };

  // Other sizes go through sharp at 8 bits per channel.
  const bytes = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; ++i) bytes[i] = Math.min(255, Math.max(0, Math.round(rgb[i]! * 255)));
  const out = await sharp(bytes, { raw: { width, height, channels: 3 } })
    .resize(size, size, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  return { rgb: toFloat(out), sourceWidth: width, sourceHeight: height };
}

/** Decodes an aligned (square) face crop to size*size RGB floats. Throws InputImageError. */
export function decodeImage(input: ImageInput, size: number): Promise<DecodedImage> {
  return decodeInput(input, (buf, label) => decodeEncodedCrop(buf, size, label), (raw) => decodeRawCrop(raw, size));
}

// ---- photos: 8-bit RGB at their own resolution -----------------------------

/** 1..4 channel bytes -> RGB (grey replicated, alpha composited over white). */
function toRgb(src: Uint8Array, width: number, height: number, channels: number): RgbImage {
  if (channels === 3) return { data: src, width, height };
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; ++i) {
    const grey = channels <= 2;
    const a = channels === 2 || channels === 4 ? src[i * channels + channels - 1]! / 255 : 1;
    for (let c = 0; c < 3; ++c) {
      const v = src[i * channels + (grey ? 0 : c)]!;
      out[i * 3 + c] = Math.round(v * a + 255 * (1 - a));
    }
  }
  return { data: out, width, height };
}

function decodeEncodedPhoto(buf: Uint8Array, label: string): Promise<DecodedPhoto> {
  return decodeEncoded(buf, label, async (image, meta) => {
    let pipeline = image.rotate();
    if (meta.hasAlpha) pipeline = pipeline.flatten({ background: { r: 255, g: 255, b: 255 } });
    const { data, info } = await pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return { ...toRgb(new Uint8Array(data.buffer, data.byteOffset, data.length), info.width, info.height, info.channels), label };
  });
}

function decodeRawPhoto(raw: RawImage): DecodedPhoto {
  const { data, width, height, channels } = raw;
  let bytes: Uint8Array;
  if (data instanceof Float32Array) {
    bytes = new Uint8Array(data.length);
    for (let i = 0; i < data.length; ++i) {
      const v = data[i]!;
      if (!Number.isFinite(v)) throw new InputImageError('Expected finite values in raw image data');
      bytes[i] = Math.min(255, Math.max(0, Math.round(v * 255)));
    }
  } else bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
  return { ...toRgb(bytes, width, height, channels), label: 'raw image' };
}

/** Decodes any photo at its own resolution to 8-bit RGB. Throws InputImageError. */
export function decodePhoto(input: ImageInput): Promise<DecodedPhoto> {
  return decodeInput(input, decodeEncodedPhoto, decodeRawPhoto);
}
