// The bilinear crop warp of train/s3d_nerf/alignment.warp_crop: the aligned
// crop (and the detector's patches) cut out of a decoded photo (ts/image.ts).
import sharp from 'sharp';
import type { RgbImage } from '../image.js';
import { affineScale, applyAffine, invertAffine, type Affine } from './geometry.js';

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
