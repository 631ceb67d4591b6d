// The optional CUDA plugin on a machine without a usable GPU (CI): the addon
// never needs a CUDA library, 'auto' falls back to the CPU with exactly one
// warning, 'cuda' throws BackendUnavailableError with every reason. Builds
// nothing itself: when `npm run build:cuda` made build/Release/libs3d_cuda.so,
// it must load and explain (readably) why CUDA is unusable.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tinyModel = join(root, 'tests', 'fixtures', 'tiny', 'model.safetensors');
const addon = createRequire(import.meta.url)('node-gyp-build').resolve(root);
const plugin = join(dirname(addon), 'libs3d_cuda.so');
const hasPlugin = existsSync(plugin);

/** Runs an ES module snippet in a fresh node (own warning state, own plugin probe). */
function node(code, env = {}) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `child failed:\n${r.stdout}\n${r.stderr}`);
  return { out: JSON.parse(r.stdout.trim().split('\n').at(-1)), stderr: r.stderr };
}

test('the addon links no CUDA library', { skip: process.platform !== 'linux' }, (t) => {
  const r = spawnSync('ldd', [addon], { encoding: 'utf8' });
  if (r.status !== 0) return t.skip(`ldd failed or is missing (${r.error?.message ?? `exit ${r.status}`}): the links are not checked`);
  assert.doesNotMatch(r.stdout, /cuda|cublas|cudnn|nvidia/i, r.stdout);
});

test("backend 'auto' uses the CPU and emits exactly one S3D_CUDA_FALLBACK warning with the reasons", () => {
  const { out, stderr } = node(`
    import { createSession } from './lib/index.js';
    const warnings = [];
    process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
    const a = await createSession({ model: ${JSON.stringify(tinyModel)} });
    const b = await createSession({ model: ${JSON.stringify(tinyModel)}, backend: 'auto' });
    const backends = [a.backend, b.backend];
    await a.dispose(); await b.dispose();
    await new Promise((r) => setImmediate(r));
    console.log(JSON.stringify({ backends, warnings }));
  `);
  assert.deepEqual(out.backends, ['cpu', 'cpu']);
  const ours = out.warnings.filter((w) => w.code === 'S3D_CUDA_FALLBACK');
  assert.equal(ours.length, 1, `warnings: ${JSON.stringify(out.warnings)}\n${stderr}`);
  assert.match(ours[0].message, /CUDA is not usable, using the CPU: \S/);
  assert.ok(!ours[0].message.includes('\n'), 'one line');
  if (hasPlugin) assert.match(ours[0].message, /cudaGetDeviceCount|CUDA engine stages are not implemented/);
  else assert.match(ours[0].message, /CUDA plugin \(libs3d_cuda\.so\) is not part of this build/);
});

test("backend 'cpu' neither probes CUDA nor warns", () => {
  const { out } = node(`
    import { createSession } from './lib/index.js';
    const warnings = [];
    process.on('warning', (w) => warnings.push(w.code));
    const s = await createSession({ model: ${JSON.stringify(tinyModel)}, backend: 'cpu' });
    await s.dispose();
    await new Promise((r) => setImmediate(r));
    console.log(JSON.stringify({ warnings }));
  `);
  assert.deepEqual(out.warnings.filter((c) => c === 'S3D_CUDA_FALLBACK'), []);
});

test("backend 'cuda' throws BackendUnavailableError listing every reason", () => {
  const { out } = node(`
    import { createSession, BackendUnavailableError } from './lib/index.js';
    try {
      await createSession({ model: ${JSON.stringify(tinyModel)}, backend: 'cuda' });
      console.log(JSON.stringify({ threw: false }));
    } catch (err) {
      console.log(JSON.stringify({ threw: true, typed: err instanceof BackendUnavailableError, code: err.code, message: err.message, reasons: err.reasons }));
    }
  `);
  assert.equal(out.threw, true);
  assert.equal(out.typed, true);
  assert.equal(out.code, 'ERR_BACKEND_UNAVAILABLE');
  assert.ok(Array.isArray(out.reasons) && out.reasons.length > 0, JSON.stringify(out));
  for (const r of out.reasons) {
    assert.equal(typeof r, 'string');
    assert.ok(r.length > 10 && out.message.includes(r), `reason missing from the message: ${r}`);
  }
  // Never pretends: whatever this machine has, no engine stage runs on CUDA yet.
  if (hasPlugin) assert.ok(out.reasons.some((r) => /CUDA engine stages are not implemented in this build/.test(r)), out.reasons.join('\n'));
});

test('cudaDiagnostics() reports the plugin, versions and reasons', (t) => {
  const { out } = node(`
    import { cudaDiagnostics } from './lib/index.js';
    console.log(JSON.stringify(await cudaDiagnostics()));
  `);
  assert.equal(out.usable, false);
  assert.ok(out.reasons.length > 0);
  assert.equal(out.pluginLoaded, hasPlugin, JSON.stringify(out));
  if (!hasPlugin) return t.skip('no libs3d_cuda.so built (no nvcc): only the plugin-missing diagnostics are checked');
  assert.equal(out.pluginPath, plugin);
  assert.match(out.buildInfo, /s3d_cuda .*CUDA \d+\.\d+.*sm_75 sm_80 sm_86 sm_89 sm_90 \+ compute_90 PTX/);
  assert.ok(out.runtimeVersion >= 12000, `runtime ${out.runtimeVersion}`);
  assert.equal(out.stagesTotal, 10);
  if (out.device === null) {
    // No usable GPU here (CI): the first reason is the runtime's own words.
    assert.match(out.reasons[0], /^cudaGetDeviceCount failed: .+\(cudaError\w+\)|no CUDA-capable device/);
  }
  for (const lib of ['cublas', 'cudnn'])
    if (!out[lib].found) assert.ok(out.reasons.some((r) => new RegExp(`${lib === 'cublas' ? 'cuBLAS' : 'cuDNN'} not found: .*dynamic loader says: `).test(r)), lib);
  assert.match(out.reasons.at(-1), /the CUDA engine stages are not implemented in this build \(0 of 10 ported; missing: encoder, /);
});

test('a missing plugin (S3D_CUDA_PLUGIN) is a reason, not a crash', () => {
  const missing = join(root, 'build', 'no-such-dir', 'libs3d_cuda.so');
  const { out } = node(`
    import { cudaDiagnostics } from './lib/index.js';
    console.log(JSON.stringify(await cudaDiagnostics()));
  `, { S3D_CUDA_PLUGIN: missing });
  assert.equal(out.pluginLoaded, false);
  assert.deepEqual(out.reasons, [`the CUDA plugin named by S3D_CUDA_PLUGIN does not exist: ${missing}`]);
});

test('plugin errors carry call, file and line', { skip: !hasPlugin && 'no libs3d_cuda.so (npm run build:cuda)' }, (t) => {
  const { out } = node(`
    import { binding } from './lib/internal.js';
    import { fromNative } from './lib/errors.js';
    const probe = await binding().cudaProbe();
    if (probe.device) { console.log(JSON.stringify({ gpu: true })); process.exit(0); }
    try { await binding().cudaContextCheck(); console.log(JSON.stringify({ threw: false })); }
    catch (e) { const t = fromNative(e); console.log(JSON.stringify({ threw: true, code: t.code, name: t.name, message: t.message, location: t.location })); }
  `);
  if (out.gpu) return t.skip('a GPU is present: a context can be made, so the error path is not reachable here');
  assert.equal(out.threw, true);
  assert.equal(out.code, 'ERR_BACKEND_UNAVAILABLE');
  assert.equal(out.name, 'BackendUnavailableError');
  assert.match(out.location.file, /^cuda\/plugin\/\w+\.cu$/);
  assert.ok(out.location.line > 0);
  assert.match(out.location.call, /^cuda\w+$/);
  assert.match(out.message, /\[cuda\w+ at cuda\/plugin\/\w+\.cu:\d+\]/);
});
