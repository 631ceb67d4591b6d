// Child process for tests/isa.test.mjs: prints, as one JSON line, the CPU
// features the addon reports (after any S3D_CPU_FEATURES cap) and the raw
// output bits of the tiny model's encoder and nerf_renderer stages, so the parent can
// tell that a capped run really used other kernels.
import { createHash } from 'node:crypto';
import { createSession, cpuFeatures } from '../../lib/index.js';
import { runStage } from '../../lib/internal.js';
import { readSafetensors } from './safetensors.mjs';
import { tinyModel, tinyStages } from './fixtures.mjs';

const fixtures = readSafetensors(tinyStages);
const stages = JSON.parse(fixtures.metadata.stages);
const session = await createSession({ model: tinyModel, threads: 2 });
const digests = {};
for (const name of ['encoder', 'nerf_renderer']) {
  const stage = stages.find((s) => s.name === name);
  const inputs = {};
  for (const i of stage.inputs) {
    const t = fixtures.tensors.get(`${name}/in/${i}`);
    inputs[i] = { shape: t.shape, data: t.data };
  }
  const out = await runStage(session, name, inputs);
  const h = createHash('sha256');
  for (const o of stage.outputs) h.update(new Uint8Array(out[o].data.buffer, out[o].data.byteOffset, out[o].data.byteLength));
  digests[name] = h.digest('hex');
}
await session.dispose();
process.stdout.write(JSON.stringify({ features: cpuFeatures(), digests }) + '\n');
