#!/usr/bin/env node
// Writes the libFuzzer seed corpora for tests/fuzz/*.cc into <out>/<target>/,
// derived from the test fixtures and the bundled model (headers only for the
// big files), plus the committed regression inputs of tests/fuzz/regressions/.
//   node scripts/fuzz-seeds.mjs build/fuzz/seeds
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  joinSafetensors, parseSafetensors, readSafetensorsHeader, serializeSafetensors, splitSafetensors,
} from '../tests/helpers/safetensors.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = process.argv[2] ?? join(root, 'build', 'fuzz', 'seeds');
const tiny = readFileSync(join(root, 'tests/fixtures/tiny/model.safetensors'));

function put(target, name, data) {
  const dir = join(out, target);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), data);
}

// --- safetensors: the tiny model (F32, F16, BF16), small hand-made files.
const parsed = parseSafetensors(tiny);
put('fuzz_safetensors', 'tiny-f32.safetensors', tiny);
for (const dtype of ['F16', 'BF16']) {
  const t = new Map([...parsed.tensors].map(([k, v]) => [k, { ...v, dtype }]));
  put('fuzz_safetensors', `tiny-${dtype.toLowerCase()}.safetensors`, serializeSafetensors(t, parsed.metadata));
}
const meta = parsed.metadata;
put('fuzz_safetensors', 'meta-only.safetensors', serializeSafetensors({}, meta));
put('fuzz_safetensors', 'one-tensor.safetensors',
  serializeSafetensors({ 'encoder.conv0.weight': { shape: [2, 3], data: [1, 2, 3, 4, 5, 6], dtype: 'F16' } }, meta));
put('fuzz_safetensors', 'empty-header.safetensors', joinSafetensors('{}'));
put('fuzz_safetensors', 'zero-dim.safetensors', joinSafetensors('{"a":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]}}'));

// --- json: headers of every fixture, the metadata values, small documents.
const bundled = join(root, 'weights/s3d-64.safetensors');
const headers = [['tiny-model', tiny]];
for (const f of ['tests/fixtures/tiny/stages.safetensors', 'tests/fixtures/audio.safetensors'])
  if (existsSync(join(root, f))) headers.push([f.split('/').slice(-2).join('-'), readFileSync(join(root, f))]);
for (const [name, buf] of headers) put('fuzz_json', `${name}.header.json`, splitSafetensors(buf).headerText);
let bundledConfig;
if (existsSync(bundled)) {
  const { header: h } = await readSafetensorsHeader(bundled);  // only the header: the file is large
  put('fuzz_json', 's3d-64.header.json', JSON.stringify(h));
  bundledConfig = h.__metadata__?.config;
}
put('fuzz_json', 'config.json', meta.config);
put('fuzz_json', 'provenance.json', meta.provenance);
const small = ['{"a":[1,-2.5e-3,true,false,null,"\\u00e9\\ud83d\\ude00"]}', '[[[[]]]]', '"x"', '0', '-0.0e+1', '{}'];
small.forEach((s, i) => put('fuzz_json', `small-${i}.json`, s));

// --- model config: the tiny and bundled configs, and the tiny one pretty-printed.
put('fuzz_model_config', 'tiny.json', meta.config);
put('fuzz_model_config', 'tiny-pretty.json', JSON.stringify(JSON.parse(meta.config), null, 1));
if (bundledConfig) put('fuzz_model_config', 's3d-64.json', bundledConfig);

// --- committed regression inputs (crashers found earlier, now fixed).
for (const target of ['fuzz_safetensors', 'fuzz_json', 'fuzz_model_config']) {
  const dir = join(root, 'tests/fuzz/regressions', target);
  if (!existsSync(dir)) continue;
  for (const f of readdirSync(dir)) if (!f.startsWith('.') && f !== 'README.md') {
    mkdirSync(join(out, target), { recursive: true });
    copyFileSync(join(dir, f), join(out, target, `regression-${f}`));
  }
}
console.log(`seeds written to ${out}`);
