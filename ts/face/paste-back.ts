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

function blurRgb(src: Float32Array, size: number, sigma: number): Float32Array {
  const r = Math.ceil(3 * sigma);
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; ++i) sum += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; ++i) k[i]! /= sum;
  const pass = (a: Float32Array, dx: number, dy: number): Float32Array => {
    const out = new Float32Array(a.length);
    for (let y = 0; y < size; ++y)
      for (let x = 0; x < size; ++x)
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
  return pass(pass(src, 1, 0), 0, 1);
}

/**
 * Puts a rendered frame of `identity` (encoded from a photo without
 * `aligned: true`) back into that photo: returns the whole photo at its own
 * resolution with the face region replaced (feathered blend). Meant for
 * frames rendered from the source pose (the default); other poses paste a
 * turned head onto the unturned photo.
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
  const { photo, matrix, blendMask: mask } = face;
  const W = photo.width;
  const H = photo.height;
  const out = new Uint8Array(photo.data);

  // Frame as 0..255 floats; pre-blurred when the photo face is smaller than the crop (anti-aliasing).
  let src: Float32Array = new Float32Array(size * size * 3);
  const k = frame.data instanceof Float32Array ? 255 : 1;
  for (let i = 0; i < src.length; ++i) src[i] = frame.data[i]! * k;
  const scale = affineScale(matrix); // crop px per photo px
  if (scale > 1.5) src = blurRgb(src, size, 0.5 * (scale - 1));

  // Bounding box of the mask's support, in crop then photo pixels.
  let u0 = size, v0 = size, u1 = -1, v1 = -1;
  for (let v = 0; v < size; ++v)
    for (let u = 0; u < size; ++u)
      if (mask[v * size + u]! > 0) {
        if (u < u0) u0 = u;
        if (u > u1) u1 = u;
        if (v < v0) v0 = v;
        if (v > v1) v1 = v;
      }
  if (u1 < 0) return { width: W, height: H, channels: 3, data: out };
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
      const fu = u - iu, fv = v - iv;
      const w00 = (1 - fu) * (1 - fv), w01 = fu * (1 - fv), w10 = (1 - fu) * fv, w11 = fu * fv;
      const inU0 = iu >= 0, inU1 = iu + 1 < size, inV0 = iv >= 0, inV1 = iv + 1 < size;
      let alpha = 0;
      if (inV0 && inU0) alpha += w00 * mask[iv * size + iu]!;
      if (inV0 && inU1) alpha += w01 * mask[iv * size + iu + 1]!;
      if (inV1 && inU0) alpha += w10 * mask[(iv + 1) * size + iu]!;
      if (inV1 && inU1) alpha += w11 * mask[(iv + 1) * size + iu + 1]!;
      if (alpha <= 1e-4) continue;
      const cu0 = inU0 ? iu : 0, cu1 = inU1 ? iu + 1 : size - 1, cv0 = inV0 ? iv : 0, cv1 = inV1 ? iv + 1 : size - 1;
      const p00 = (cv0 * size + cu0) * 3, p01 = (cv0 * size + cu1) * 3, p10 = (cv1 * size + cu0) * 3, p11 = (cv1 * size + cu1) * 3;
      const o = (y * W + x) * 3;
      for (let ch = 0; ch < 3; ++ch) {
        const s = w00 * src[p00 + ch]! + w01 * src[p01 + ch]! + w10 * src[p10 + ch]! + w11 * src[p11 + ch]!;
        const val = out[o + ch]! + (s - out[o + ch]!) * alpha;
        out[o + ch] = val <= 0 ? 0 : val >= 255 ? 255 : Math.round(val);
      }
    }
  }
  return { width: W, height: H, channels: 3, data: out };
}
