// Shared paths and synthetic inputs for the tests.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const tinyModel = join(root, 'tests', 'fixtures', 'tiny', 'model.safetensors');
export const tinyStages = join(root, 'tests', 'fixtures', 'tiny', 'stages.safetensors');
export const realisticModel = join(root, 'tests', 'fixtures', 'realistic', 'model.safetensors');
export const realisticStages = join(root, 'tests', 'fixtures', 'realistic', 'stages.safetensors');

/** Fails loudly (instead of skipping) when a fixture is missing. */
export function requireFixture(path) {
  if (!existsSync(path)) throw new Error(`missing fixture ${path}: run train/make_fixtures.py (see docs/FIXTURES.md)`);
  return path;
}

/** A smooth synthetic size x size RGB face stand-in as raw uint8 pixels. */
export function syntheticImage(size) {
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      data[i] = Math.round((255 * x) / (size - 1));
      data[i + 1] = Math.round((255 * y) / (size - 1));
      data[i + 2] = 128;
    }
  return { data, width: size, height: size, channels: 3 };
}

/** seconds of a 220 Hz tone at `rate` Hz, mono float32. */
export function tone(seconds, rate = 16000) {
  const n = Math.round(seconds * rate);
  const s = new Float32Array(n);
  for (let i = 0; i < n; i++) s[i] = 0.3 * Math.sin((2 * Math.PI * 220 * i) / rate);
  return { samples: s, sampleRate: rate };
}

/** Speech-like test signal of n samples: drifting harmonics, noise, pauses (seeded). */
export function speechLike(n, rate, seed = 1) {
  let s = seed >>> 0;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const on = t % 0.7 < 0.5 ? 1 : 0;
    const f0 = 120 + 40 * Math.sin(2 * Math.PI * 1.3 * t);
    let v = 0;
    for (let h = 1; h <= 6; h++) v += Math.sin(2 * Math.PI * f0 * h * t + h) / h;
    x[i] = 0.3 * on * v + 0.02 * rand();
  }
  return x;
}
