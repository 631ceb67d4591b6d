// Inner-face masks (DESIGN §2: brows to chin, inside the jaw line), size*size
// floats in [0, 1], from (in order of preference) a caller's mask, 68-point
// landmarks, or a fixed ellipse on the aligned template.
import { InvalidArgumentError } from './errors.js';
import { describe, isPlainObject } from './validate.js';

/** A mask as size*size values (bytes 0..255 or floats in [0,1]), or with its own dimensions. */
export type MaskInput =
  | Float32Array
  | Uint8Array
  | { data: Float32Array | Uint8Array | Uint8ClampedArray; width: number; height: number };

/** 68 (x, y) points in the input image's pixel coordinates (iBUG 300-W order), flat or as pairs. */
export type Landmarks = ArrayLike<number> | readonly (readonly [number, number])[];

/**
 * The default mask: an ellipse over the inner face of the aligned template,
 * in fractions of the image side: centre (0.5, 0.6), semi-axes 0.25
 * (horizontal) x 0.24 (vertical), i.e. x in [0.25, 0.75] (cheek to cheek)
 * and y in [0.36, 0.84] (brows to chin) for the EG3D/FFHQ-style 256x256
 * crop. Re-measure against the training alignment if the template changes.
 */
export const TEMPLATE_ELLIPSE = Object.freeze({ cx: 0.5, cy: 0.6, rx: 0.25, ry: 0.24 });

export function templateMask(size: number): Float32Array {
  const { cx, cy, rx, ry } = TEMPLATE_ELLIPSE;
  const m = new Float32Array(size * size);
  for (let y = 0; y < size; ++y)
    for (let x = 0; x < size; ++x) {
      const u = ((x + 0.5) / size - cx) / rx;
      const v = ((y + 0.5) / size - cy) / ry;
      m[y * size + x] = u * u + v * v <= 1 ? 1 : 0;
    }
  return m;
}

/** Points 0..16 (jaw) then 26..17 (brows, right to left) as a closed polygon. */
export function landmarkPolygon(landmarks: Landmarks, scaleX = 1, scaleY = 1): Array<[number, number]> {
  let pts: Array<[number, number]>;
  const arr = landmarks as ArrayLike<unknown>;
  if (arr.length === 68 && Array.isArray(arr[0])) {
    pts = Array.from(landmarks as readonly (readonly [number, number])[], (p) => [Number(p[0]), Number(p[1])]);
  } else if (arr.length === 136) {
    const flat = Array.from(landmarks as ArrayLike<number>);
    pts = Array.from({ length: 68 }, (_, i) => [flat[2 * i]!, flat[2 * i + 1]!]);
  } else {
    throw new InvalidArgumentError(`Expected 68 landmark points ([x, y] pairs or 136 numbers) for landmarks but received ${describe(landmarks)}`);
  }
  if (!pts.every(([x, y]) => Number.isFinite(x) && Number.isFinite(y)))
    throw new InvalidArgumentError('Expected finite coordinates for landmarks');
  const order = [...Array.from({ length: 17 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => 26 - i)];
  return order.map((i) => [pts[i]![0] * scaleX, pts[i]![1] * scaleY]);
}

/** Fills a polygon (even-odd rule, pixel centres) into a size*size mask. */
export function fillPolygon(poly: ReadonlyArray<readonly [number, number]>, size: number): Float32Array {
  const m = new Float32Array(size * size);
  const xs: number[] = [];
  for (let y = 0; y < size; ++y) {
    const py = y + 0.5;
    xs.length = 0;
    for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
      const [xi, yi] = poly[i]!;
      const [xj, yj] = poly[j]!;
      if (yi > py !== yj > py) xs.push(xi + ((py - yi) / (yj - yi)) * (xj - xi));
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const x0 = Math.max(0, Math.ceil(xs[k]! - 0.5));
      const x1 = Math.min(size - 1, Math.floor(xs[k + 1]! - 0.5));
      for (let x = x0; x <= x1; ++x) m[y * size + x] = 1;
    }
  }
  return m;
}

/** The caller's mask, checked and converted to size*size floats in [0,1]. */
export function maskFromInput(mask: MaskInput, size: number): Float32Array {
  let data: ArrayLike<number>;
  let w = size;
  let h = size;
  if (mask instanceof Float32Array || mask instanceof Uint8Array) data = mask;
  else if (isPlainObject(mask) && ArrayBuffer.isView((mask as { data?: unknown }).data)) {
    ({ data, width: w, height: h } = mask as { data: Float32Array; width: number; height: number });
  } else throw new InvalidArgumentError(`Expected a Float32Array, a Uint8Array or { data, width, height } for mask but received ${describe(mask)}`);
  if (w !== size || h !== size || data.length !== size * size)
    throw new InvalidArgumentError(
      `Expected a ${size}x${size} mask (${size * size} values) for mask but received ${w}x${h} with ${data.length} values`,
    );
  const scale = data instanceof Float32Array ? 1 : 1 / 255;
  const out = new Float32Array(size * size);
  for (let i = 0; i < out.length; ++i) {
    const v = data[i]! * scale;
    if (!(v >= 0 && v <= 1)) throw new InvalidArgumentError(`Expected mask values in [0, 1] but received ${data[i]} at index ${i}`);
    out[i] = v;
  }
  return out;
}
