// One parity harness for the golden fixture sets (docs/FIXTURES.md): a stage's
// inputs as the fixture holds them, and the relative error of each of its outputs.
import assert from 'node:assert/strict';

import { runStage } from '../../lib/internal.js';
import { relativeError } from './metrics.mjs';
import { readSafetensors } from './safetensors.mjs';
import { requireFixture } from './fixtures.mjs';

/** Reads a stages.safetensors: { tensors, metadata, stages: [{name, inputs, outputs}] }. */
export function loadStages(path) {
  const fixtures = readSafetensors(requireFixture(path));
  return { ...fixtures, stages: JSON.parse(fixtures.metadata.stages) };
}

/** { name: {shape, data} } for every input of `stage`. */
export function stageInputs(fixtures, stage) {
  const inputs = {};
  for (const name of stage.inputs) {
    const t = fixtures.tensors.get(`${stage.name}/in/${name}`);
    assert.ok(t, `fixture lacks ${stage.name}/in/${name}`);
    inputs[name] = { shape: t.shape, data: t.data };
  }
  return inputs;
}

/** Runs a stage on its fixture inputs; returns { output: relative error }. */
export async function stageErrors(session, fixtures, stage) {
  const out = await runStage(session, stage.name, stageInputs(fixtures, stage));
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
