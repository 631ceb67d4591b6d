// PSNR of two RGB frames in [0, 1] (float32, rows of width * 3): 10 log10(1 / MSE),
// Infinity when equal. box = { x0, y0, x1, y1 } (pixels, end exclusive) limits it
// to a rectangle, e.g. the mouth box, the only pixels a paste model generates.
export function framePsnr(ref, test, width, box) {
  if (ref.length !== test.length) throw new Error(`Expected frames of equal size but received ${ref.length} and ${test.length} values`);
  const height = ref.length / (3 * width);
  const b = box ?? { x0: 0, y0: 0, x1: width, y1: height };
  let se = 0;
  let maxAbs = 0;
  for (let y = b.y0; y < b.y1; y++)
    for (let i = (y * width + b.x0) * 3; i < (y * width + b.x1) * 3; i++) {
      const d = ref[i] - test[i];
      se += d * d;
      maxAbs = Math.max(maxAbs, Math.abs(d));
    }
  const mse = se / ((b.y1 - b.y0) * (b.x1 - b.x0) * 3);
  return { psnr: mse === 0 ? Infinity : 10 * Math.log10(1 / mse), maxAbs };
}

// The pixels a paste model (config.sr_paste_source) can change: the sr_hole box
// [x0, y0, x1, y1] (fractions) widened by its feather; the whole frame otherwise.
export function mouthBox(config) {
  const s = config.image_size;
  if (!config.sr_paste_source || !config.sr_hole) return { x0: 0, y0: 0, x1: s, y1: s };
  const [x0, y0, x1, y1] = config.sr_hole;
  const f = config.sr_hole_feather ?? 0;
  const lo = (v) => Math.max(0, Math.floor((v - f) * s));
  const hi = (v) => Math.min(s, Math.ceil((v + f) * s));
  return { x0: lo(x0), y0: lo(y0), x1: hi(x1), y1: hi(y1) };
}
