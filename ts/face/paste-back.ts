// Paste-back: the rendered size x size face warped back into the source photo
// with the inverse of the crop similarity and blended with the identity's
// feathered mask. Only the photo pixels under the mask's bounding box are touched.
import { InvalidArgumentError } from '../errors.js';
import type { Identity } from '../identity.js';
import { describe } from '../validate.js';
import { affineScale, applyAffine, invertAffine } from './geometry.js';

/** A frame at the photo's own resolution. */
export interface PastedFrame {
  width: number;
  height: number;
  channels: 3;
  data: Uint8Array;
}

/** A rendered frame: size x size x 3, bytes 0..255 or floats in [0, 1]. */
export interface FaceFrame {
  width: number;
  height: number;
  channels?: number;
  data: Uint8Array | Uint8ClampedArray | Float32Array;
}

// Separable Gaussian blur of a size x size x 3 image, computed for the pixels of
// rows [y0, y1] x columns [x0, x1] only (others are left 0); edges clamp.
function blurRgb(src: Float32Array, size: number, sigma: number, box: Box): Float32Array {
  const r = blurRadius(sigma);
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; ++i) sum += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; ++i) k[i]! /= sum;
  // The horizontal pass also covers the r rows above and below that the vertical one reads.
  const pass = (a: Float32Array, dx: number, dy: number, b: Box): Float32Array => {
    const out = new Float32Array(a.length);
    for (let y = b.y0; y <= b.y1; ++y)
      for (let x = b.x0; x <= b.x1; ++x)
        for (let c = 0; c < 3; ++c) {
          let v = 0;
          for (let i = -r; i <= r; ++i) {
            const xx = Math.min(size - 1, Math.max(0, x + i * dx));
            const yy = Math.min(size - 1, Math.max(0, y + i * dy));
            v += k[i + r]! * a[(yy * size + xx) * 3 + c]!;
          }
          out[(y * size + x) * 3 + c] = v;
        }
    return out;
  };
  const rows = { x0: box.x0, x1: box.x1, y0: Math.max(0, box.y0 - r), y1: Math.min(size - 1, box.y1 + r) };
  return pass(pass(src, 1, 0, rows), 0, 1, box);
}

const blurRadius = (sigma: number): number => Math.ceil(3 * sigma);

/** An inclusive pixel rectangle. */
interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * The last frame pasted for an identity and its result. Paste-back is a pure
 * function of the frame's pixels, so a photo pixel none of whose inputs changed
 * (its bilinear taps, widened by the blur's radius) keeps the previous result:
 * with a paste model (sr_paste_source) only the mouth box changes from frame to
 * frame, and only the photo pixels over it are computed again.
 */
interface PasteCache {
  frame: Uint8Array | Uint8ClampedArray | Float32Array;
  out: Uint8Array;
}
const caches = new WeakMap<Identity, PasteCache>();

/** Bounding box of the pixels where a and b differ (null when equal). */
function changedBox(a: ArrayLike<number>, b: ArrayLike<number>, size: number): Box | null {
  let x0 = size, y0 = size, x1 = -1, y1 = -1;
  for (let y = 0; y < size; ++y) {
    const row = y * size * 3;
    let first = -1, last = -1;
    for (let i = 0; i < size * 3; ++i)
      if (a[row + i] !== b[row + i]) {
        if (first < 0) first = i;
        last = i;
      }
    if (first < 0) continue;
    if (y < y0) y0 = y;
    y1 = y;
    x0 = Math.min(x0, Math.floor(first / 3));
    x1 = Math.max(x1, Math.floor(last / 3));
  }
  return x1 < 0 ? null : { x0, y0, x1, y1 };
}

/**
 * Puts a rendered frame of `identity` (encoded from a photo without
 * `aligned: true`) back into that photo: returns the whole photo at its own
 * resolution with the face region replaced (feathered blend). Meant for
 * frames rendered from the source pose (the default); other poses paste a
 * turned head onto the unturned photo. Consecutive frames that differ only in
 * part (the mouth box) recompute only the photo pixels over that part; the
 * result is byte-identical to a paste from scratch.
 */
export function pasteBack(identity: Identity, frame: FaceFrame): PastedFrame {
  const face = identity.face;
  if (!face)
    throw new InvalidArgumentError('pasteBack needs an identity encoded from a photo (without { aligned: true }): this one has no source photo to paste into');
  const size = identity.size;
  if (!frame || typeof frame !== 'object' || !ArrayBuffer.isView(frame.data))
    throw new InvalidArgumentError(`Expected a frame { width, height, data } for frame but received ${describe(frame)}`);
  if (frame.width !== size || frame.height !== size || (frame.channels ?? 3) !== 3 || frame.data.length !== size * size * 3)
    throw new InvalidArgumentError(
      `Expected a ${size}x${size}x3 frame (as renderFrame returns) but received ${describe(frame.width)}x${describe(frame.height)}x${describe(frame.channels ?? 3)} with ${frame.data.length} values`,
    );
  const { photo, matrix } = face;
  const W = photo.width;
  const H = photo.height;
  const scale = affineScale(matrix); // crop px per photo px
  const sigma = scale > 1.5 ? 0.5 * (scale - 1) : 0; // anti-aliasing blur when the photo face is smaller than the crop

  // Crop pixels whose value can differ from the cached paste: the changed box
  // widened by the blur radius and by the bilinear footprint (1 px).
  let cache = caches.get(identity);
  let dirty: Box = { x0: 0, y0: 0, x1: size - 1, y1: size - 1 };
  if (cache && cache.frame.constructor === frame.data.constructor) {
    const changed = changedBox(frame.data, cache.frame, size);
    if (!changed) return { width: W, height: H, channels: 3, data: new Uint8Array(cache.out) };
    const m = (sigma > 0 ? blurRadius(sigma) : 0) + 1;
    dirty = {
      x0: Math.max(0, changed.x0 - m),
      y0: Math.max(0, changed.y0 - m),
      x1: Math.min(size - 1, changed.x1 + m),
      y1: Math.min(size - 1, changed.y1 + m),
    };
  }
  if (!cache) {
    cache = { frame: frame.data, out: new Uint8Array(photo.data) };
    caches.set(identity, cache);
  }
  // The cache's copy of the result is updated in place; the caller gets its own.
  pasteInto(face, size, frame, sigma, dirty, cache.out);
  cache.frame = frame.data.slice();
  return { width: W, height: H, channels: 3, data: new Uint8Array(cache.out) };
}

// Blends the frame into out (a copy of the photo, or of an earlier paste that
// is current outside `dirty`) for the photo pixels whose crop position lies in
// the dirty box; each is computed from the photo's own pixel.
function pasteInto(face: NonNullable<Identity['face']>, size: number, frame: FaceFrame, sigma: number, dirty: Box, out: Uint8Array): void {
  const { photo, matrix, blendMask: mask } = face;
  const W = photo.width;
  const H = photo.height;
  const base = photo.data;

  // The taps of a recomputed pixel reach 1 px past the dirty box.
  const taps = { x0: Math.max(0, dirty.x0 - 1), y0: Math.max(0, dirty.y0 - 1), x1: Math.min(size - 1, dirty.x1 + 1), y1: Math.min(size - 1, dirty.y1 + 1) };
  // Frame as 0..255 floats, only the rows the taps (and the blur around them) read;
  // blurred where needed when the photo face is small.
  let src: Float32Array = new Float32Array(size * size * 3);
  const k = frame.data instanceof Float32Array ? 255 : 1;
  const r = sigma > 0 ? blurRadius(sigma) : 0;
  const end = (Math.min(size - 1, taps.y1 + r) + 1) * size * 3;
  for (let i = Math.max(0, taps.y0 - r) * size * 3; i < end; ++i) src[i] = frame.data[i]! * k;
  if (sigma > 0) src = blurRgb(src, size, sigma, taps);

  // Bounding box of the mask's support (within the dirty box), in crop then photo pixels.
  let u0 = size, v0 = size, u1 = -1, v1 = -1;
  for (let v = 0; v < size; ++v)
    for (let u = 0; u < size; ++u)
      if (mask[v * size + u]! > 0) {
        if (u < u0) u0 = u;
        if (u > u1) u1 = u;
        if (v < v0) v0 = v;
        if (v > v1) v1 = v;
      }
  u0 = Math.max(u0, dirty.x0 - 1);
  v0 = Math.max(v0, dirty.y0 - 1);
  u1 = Math.min(u1, dirty.x1 + 1);
  v1 = Math.min(v1, dirty.y1 + 1);
  if (u1 < u0 || v1 < v0) return;
  const inv = invertAffine(matrix);
  const cs = [applyAffine(inv, [u0 - 1, v0 - 1]), applyAffine(inv, [u1 + 1, v0 - 1]), applyAffine(inv, [u0 - 1, v1 + 1]), applyAffine(inv, [u1 + 1, v1 + 1])];
  const x0 = Math.max(0, Math.floor(Math.min(...cs.map((c) => c[0]))));
  const x1 = Math.min(W - 1, Math.ceil(Math.max(...cs.map((c) => c[0]))));
  const y0 = Math.max(0, Math.floor(Math.min(...cs.map((c) => c[1]))));
  const y1 = Math.min(H - 1, Math.ceil(Math.max(...cs.map((c) => c[1]))));

  const [a, b, c, d, e, f] = matrix;
  for (let y = y0; y <= y1; ++y) {
    for (let x = x0; x <= x1; ++x) {
      const u = a * x + b * y + c;
      const v = d * x + e * y + f;
      if (u <= -1 || v <= -1 || u >= size || v >= size) continue;
      // bilinear weights; the mask is zero outside the crop, the frame is clamped
      const iu = Math.floor(u), iv = Math.floor(v);
      // Only pixels whose taps (iu, iu + 1) x (iv, iv + 1) touch the dirty box.
      if (iu + 1 < dirty.x0 || iu > dirty.x1 || iv + 1 < dirty.y0 || iv > dirty.y1) continue;
      const fu = u - iu, fv = v - iv;
      const w00 = (1 - fu) * (1 - fv), w01 = fu * (1 - fv), w10 = (1 - fu) * fv, w11 = fu * fv;
      const inU0 = iu >= 0, inU1 = iu + 1 < size, inV0 = iv >= 0, inV1 = iv + 1 < size;
      let alpha = 0;
      if (inV0 && inU0) alpha += w00 * mask[iv * size + iu]!;
      if (inV0 && inU1) alpha += w01 * mask[iv * size + iu + 1]!;
      if (inV1 && inU0) alpha += w10 * mask[(iv + 1) * size + iu]!;
      if (inV1 && inU1) alpha += w11 * mask[(iv + 1) * size + iu + 1]!;
      const o = (y * W + x) * 3;
      if (alpha <= 1e-4) {
        out[o] = base[o]!;
        out[o + 1] = base[o + 1]!;
        out[o + 2] = base[o + 2]!;
        continue;
      }
      const cu0 = inU0 ? iu : 0, cu1 = inU1 ? iu + 1 : size - 1, cv0 = inV0 ? iv : 0, cv1 = inV1 ? iv + 1 : size - 1;
      const p00 = (cv0 * size + cu0) * 3, p01 = (cv0 * size + cu1) * 3, p10 = (cv1 * size + cu0) * 3, p11 = (cv1 * size + cu1) * 3;
      for (let ch = 0; ch < 3; ++ch) {
        const s = w00 * src[p00 + ch]! + w01 * src[p01 + ch]! + w10 * src[p10 + ch]! + w11 * src[p11 + ch]!;
        const val = base[o + ch]! + (s - base[o + ch]!) * alpha;
        out[o + ch] = val <= 0 ? 0 : val >= 255 ? 255 : Math.round(val);
      }
    }
  }
}
