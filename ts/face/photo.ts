// Full-resolution photo decoding (any size, EXIF rotation applied, alpha
// flattened onto white, greyscale/CMYK/16-bit converted to 8-bit sRGB) and the
// bilinear crop warp of train/s3d_nerf/alignment.warp_crop.
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { InputImageError } from '../errors.js';
import { MAX_INPUT_PIXELS, type ImageInput, type RawImage } from '../image.js';
import { describe, isPlainObject } from '../validate.js';
import { affineScale, applyAffine, invertAffine, type Affine } from './geometry.js';

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

function tooLarge(w: number, h: number, label: string): InputImageError {
  return new InputImageError(
    `The image (${label}) is ${w}x${h} (${((w * h) / 1e6).toFixed(1)} Mpx), more than the ${MAX_INPUT_PIXELS / (1 << 20)} Mpx limit: ` +
      'crop or downscale it first',
  );
}

async function decodeEncodedPhoto(buf: Uint8Array, label: string): Promise<DecodedPhoto> {
  if (buf.length === 0) throw new InputImageError(`Expected a non-empty image but received an empty ${label}`);
  try {
    const meta = await sharp(buf, { failOn: 'error', limitInputPixels: false }).metadata();
    const w0 = meta.width ?? 0;
    const h0 = meta.height ?? 0;
    if (!(w0 > 0 && h0 > 0)) throw new InputImageError(`Cannot decode the image (${label}): its header declares no size`);
    if (w0 * h0 > MAX_INPUT_PIXELS) throw tooLarge(w0, h0, label);
    let pipeline = sharp(buf, { failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS }).rotate();
    if (meta.hasAlpha) pipeline = pipeline.flatten({ background: { r: 255, g: 255, b: 255 } });
    const { data, info } = await pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return { ...toRgb(new Uint8Array(data.buffer, data.byteOffset, data.length), info.width, info.height, info.channels), label };
  } catch (err) {
    if (err instanceof InputImageError) throw err;
    throw new InputImageError(`Cannot decode the image (${label}): ${(err as Error).message}`, { cause: err });
  }
}

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

function decodeRawPhoto(raw: RawImage): DecodedPhoto {
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
  let bytes: Uint8Array;
  if (data instanceof Float32Array) {
    bytes = new Uint8Array(expected);
    for (let i = 0; i < expected; ++i) {
      const v = data[i]!;
      if (!Number.isFinite(v)) throw new InputImageError('Expected finite values in raw image data');
      bytes[i] = Math.min(255, Math.max(0, Math.round(v * 255)));
    }
  } else bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
  return { ...toRgb(bytes, width, height, channels), label: 'raw image' };
}

/** Decodes any ImageInput at its own resolution to 8-bit RGB. Throws InputImageError. */
export async function decodePhoto(input: ImageInput): Promise<DecodedPhoto> {
  if (typeof input === 'string') {
    let buf: Buffer;
    try {
      buf = await readFile(input);
    } catch (err) {
      throw new InputImageError(`Cannot read the image file ${input}: ${(err as Error).message}`, { cause: err });
    }
    return decodeEncodedPhoto(buf, input);
  }
  const isRaw = isPlainObject(input) && 'data' in input && 'width' in input && 'height' in input;
  if (input instanceof Uint8Array && !isRaw) return decodeEncodedPhoto(input, 'buffer');
  if (isRaw) return decodeRawPhoto(input as unknown as RawImage);
  throw new InputImageError(
    `Expected a file path, a Buffer holding an encoded image, or { data, width, height, channels } for image but received ${describe(input)}`,
  );
}

/**
 * The out_w x out_h image whose pixel (x, y) is the photo at M^-1 (x, y)
 * (pixel centres at integers, as cv2.warpAffine): bilinear, replicated border,
 * with the Gaussian pre-blur of alignment.warp_crop (sigma = 0.5 (1/scale - 1)
 * when shrinking by more than 1.5x). Only the part of the photo the output
 * covers is read and blurred.
 */
export async function warpAffine(photo: RgbImage, m: Readonly<Affine>, outW: number, outH: number): Promise<Uint8Array> {
  const inv = invertAffine(m);
  const scale = affineScale(m);
  const sigma = scale < 1 / 1.5 ? 0.5 * (1 / scale - 1) : 0;
  // Source region: the output corners mapped back, plus the blur's reach.
  const corners = [applyAffine(inv, [0, 0]), applyAffine(inv, [outW - 1, 0]), applyAffine(inv, [0, outH - 1]), applyAffine(inv, [outW - 1, outH - 1])];
  const pad = Math.ceil(3 * sigma) + 2;
  const clampX = (v: number): number => Math.min(photo.width - 1, Math.max(0, v));
  const clampY = (v: number): number => Math.min(photo.height - 1, Math.max(0, v));
  const x0 = clampX(Math.floor(Math.min(...corners.map((c) => c[0]))) - pad);
  const x1 = clampX(Math.ceil(Math.max(...corners.map((c) => c[0]))) + pad);
  const y0 = clampY(Math.floor(Math.min(...corners.map((c) => c[1]))) - pad);
  const y1 = clampY(Math.ceil(Math.max(...corners.map((c) => c[1]))) + pad);
  const rw = x1 - x0 + 1;
  const rh = y1 - y0 + 1;
  let region: Uint8Array;
  if (sigma >= 0.3 && rw >= 3 && rh >= 3) {
    let img = sharp(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } }).extract({ left: x0, top: y0, width: rw, height: rh });
    // Shrinking by more than 4x: first reduce the region by an integer-ish
    // factor (area-filtered, fast), then blur for the rest as warp_crop does.
    const n = 1 / scale >= 4 ? Math.floor(1 / scale / 2) : 1;
    let fx = 1, fy = 1, gw = rw, gh = rh;
    if (n > 1) {
      gw = Math.max(1, Math.round(rw / n));
      gh = Math.max(1, Math.round(rh / n));
      fx = rw / gw;
      fy = rh / gh;
      img = sharp(await img.resize(gw, gh, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer(), { raw: { width: gw, height: gh, channels: 3 } });
    }
    const rest = 0.5 * (1 / (scale * Math.max(fx, fy)) - 1);
    if (rest >= 0.3) img = img.blur({ sigma: rest, precision: 'float', minAmplitude: 0.01 });
    const buf = await img.raw().toBuffer();
    region = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    if (n > 1) {
      // reduced pixel j is centred on region pixel fx (j + 0.5) - 0.5: fold that into the inverse map
      const [a, b, c, d, e, f] = inv;
      const red: Affine = [a / fx, b / fx, (c - x0 + 0.5) / fx - 0.5, d / fy, e / fy, (f - y0 + 0.5) / fy - 0.5];
      return bilinear(region, gw, gh, red, 0, 0, outW, outH);
    }
  } else {
    region = new Uint8Array(rw * rh * 3);
    for (let y = 0; y < rh; ++y)
      region.set(photo.data.subarray(((y0 + y) * photo.width + x0) * 3, ((y0 + y) * photo.width + x1 + 1) * 3), y * rw * 3);
  }
  return bilinear(region, rw, rh, inv, x0, y0, outW, outH);
}

function bilinear(src: Uint8Array, w: number, h: number, inv: Affine, ox: number, oy: number, outW: number, outH: number): Uint8Array {
  const out = new Uint8Array(outW * outH * 3);
  const [a, b, c, d, e, f] = inv;
  for (let y = 0; y < outH; ++y) {
    let sx = b * y + c - ox;
    let sy = e * y + f - oy;
    for (let x = 0; x < outW; ++x, sx += a, sy += d) {
      const px = Math.min(w - 1, Math.max(0, sx));
      const py = Math.min(h - 1, Math.max(0, sy));
      const ix = Math.min(w - 2, Math.floor(px));
      const iy = Math.min(h - 2, Math.floor(py));
      const i0 = Math.max(0, ix);
      const j0 = Math.max(0, iy);
      const fx = w > 1 ? px - i0 : 0;
      const fy = h > 1 ? py - j0 : 0;
      const i1 = Math.min(w - 1, i0 + 1);
      const j1 = Math.min(h - 1, j0 + 1);
      const p00 = (j0 * w + i0) * 3, p01 = (j0 * w + i1) * 3, p10 = (j1 * w + i0) * 3, p11 = (j1 * w + i1) * 3;
      const o = (y * outW + x) * 3;
      for (let ch = 0; ch < 3; ++ch) {
        const top = src[p00 + ch]! + (src[p01 + ch]! - src[p00 + ch]!) * fx;
        const bot = src[p10 + ch]! + (src[p11 + ch]! - src[p10 + ch]!) * fx;
        out[o + ch] = Math.round(top + (bot - top) * fy);
      }
    }
  }
  return out;
}
