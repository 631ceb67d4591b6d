// Engine parity against the PyTorch golden fixtures (docs/FIXTURES.md): every
// stage of tests/fixtures/tiny/stages.safetensors must reproduce every output
// with ||out - ref|| / ||ref|| <= 1e-4. A perturbed copy of the model must
// fail the stages that use the perturbed tensor (so this test can fail).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createSession } from '../lib/index.js';
import { runStage } from '../lib/internal.js';
import { readSafetensors, writeSafetensors } from './helpers/safetensors.mjs';
import { requireFixture, tinyModel, tinyStages } from './helpers/fixtures.mjs';

const TOLERANCE = 1e-4;
const PERTURBED_TENSOR = 'decoder.fc1.weight';
// Stages whose outputs depend on the decoder weights.
const USES_DECODER = ['triplane_decode', 'nerf', 'frame'];

function relativeError(out, ref) {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = out[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

const fixtures = readSafetensors(requireFixture(tinyStages));
const stages = JSON.parse(fixtures.metadata.stages);

function stageInputs(stage) {
  const inputs = {};
  for (const name of stage.inputs) {
    const t = fixtures.tensors.get(`${stage.name}/in/${name}`);
    assert.ok(t, `fixture lacks ${stage.name}/in/${name}`);
    inputs[name] = { shape: t.shape, data: t.data };
  }
  return inputs;
}

/** Runs a stage; returns { output: relative error }. */
async function stageErrors(session, stage) {
  const out = await runStage(session, stage.name, stageInputs(stage));
  const errors = {};
  for (const name of stage.outputs) {
    const ref = fixtures.tensors.get(`${stage.name}/out/${name}`);
    assert.ok(ref, `fixture lacks ${stage.name}/out/${name}`);
    const got = out[name];
    assert.ok(got, `stage ${stage.name} returned no output ${name}`);
    assert.deepEqual(got.shape, ref.shape, `${stage.name}/${name} shape`);
    errors[name] = relativeError(got.data, ref.data);
  }
  return errors;
}

test('the stage fixture lists stages', () => {
  assert.ok(stages.length > 0);
  for (const s of stages) assert.ok(s.name && s.inputs.length && s.outputs.length);
});

describe('parity with the PyTorch reference (tiny model)', () => {
  let session;
  before(async () => {
    session = await createSession({ model: requireFixture(tinyModel), threads: 2 });
  });
  after(() => session?.dispose());

  for (const stage of stages) {
    test(`stage ${stage.name}`, async () => {
      const errors = await stageErrors(session, stage);
      for (const [name, err] of Object.entries(errors)) {
        console.log(`# ${stage.name}/${name}: relative error ${err.toExponential(3)}`);
        assert.ok(err <= TOLERANCE, `${stage.name}/${name}: relative error ${err} > ${TOLERANCE}`);
      }
    });
  }
});

describe('the parity test can fail', () => {
  let session;
  before(async () => {
    const model = readSafetensors(requireFixture(tinyModel));
    const t = model.tensors.get(PERTURBED_TENSOR);
    assert.ok(t, `model lacks ${PERTURBED_TENSOR}`);
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    const data = Float32Array.from(t.data, (v) => v + 1e-2 * rand());
    model.tensors.set(PERTURBED_TENSOR, { ...t, dtype: 'F32', data });
    for (const [k, v] of model.tensors) model.tensors.set(k, { ...v, dtype: 'F32' });
    const path = join(mkdtempSync(join(tmpdir(), 's3d-parity-')), 'perturbed.safetensors');
    writeSafetensors(path, model.tensors, model.metadata);
    session = await createSession({ model: path, threads: 2 });
  });
  after(() => session?.dispose());

  for (const name of USES_DECODER) {
    test(`perturbed ${PERTURBED_TENSOR} breaks stage ${name}`, async () => {
      const stage = stages.find((s) => s.name === name);
      assert.ok(stage, `fixture lacks stage ${name}`);
      const errors = await stageErrors(session, stage);
      const worst = Math.max(...Object.values(errors));
      console.log(`# perturbed ${name}: worst relative error ${worst.toExponential(3)}`);
      assert.ok(worst > TOLERANCE, `stage ${name} still passes with a perturbed ${PERTURBED_TENSOR}`);
    });
  }

  test('stages that do not use the decoder still pass', async () => {
    const stage = stages.find((s) => s.name === 'encoder');
    const errors = await stageErrors(session, stage);
    for (const err of Object.values(errors)) assert.ok(err <= TOLERANCE);
  });
});
