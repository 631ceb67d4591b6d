// "Install like sharp": `npm pack`, then `npm install <tarball>` into a fresh
// project with every compiler shadowed (g++, gcc, cc, c++, clang, clang++,
// make, cmake, nvcc print their name to a log and exit 127), then, in that
// project: one frame through the public API (ESM import and CJS require),
// `npx s3d-nerf --help`, `npx s3d-nerf doctor` (+ --json, --backend cuda), and
// no compiler was ever invoked: the prebuilt binary in prebuilds/ was used.
//
// Needs the npm registry (the package's dependencies are installed from it;
// npm's cache makes it quicker) and takes about a minute. Builds the prebuild
// first when it is missing or stale (scripts/prebuild.js; `npm test` has already
// done that through `npm run build`). Linux/macOS only; S3D_SKIP_INSTALL_TEST=1 skips it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from './helpers/safetensors.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const skip =
  process.platform === 'win32'
    ? 'POSIX shell shims only'
    : process.env.S3D_SKIP_INSTALL_TEST === '1'
      ? 'S3D_SKIP_INSTALL_TEST=1'
      : false;

const SHADOWED = ['g++', 'gcc', 'cc', 'c++', 'clang', 'clang++', 'make', 'gmake', 'cmake', 'nvcc'];

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw r.error;
  return r;
}

function ok(r, what) {
  assert.equal(r.status, 0, `${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

test('npm pack -> npm install without a compiler -> render, --help, doctor', { skip, timeout: 600_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 's3d-install-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));

  // 0. The prebuild for this platform (no-op when up to date).
  ok(run(process.execPath, [join(root, 'scripts', 'prebuild.js')], { cwd: root }), 'scripts/prebuild.js');
  const target = `${process.platform}-${process.arch}`;

  // 1. npm pack (prepack: clean lib/ + tsc + prebuild check).
  const pack = ok(run('npm', ['pack', '--json', '--pack-destination', work], { cwd: root }), 'npm pack');
  const info = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')))[0];
  const tarball = join(work, info.filename);
  const files = info.files.map((f) => f.path);
  t.diagnostic(`tarball ${info.filename}: ${(statSync(tarball).size / 1048576).toFixed(2)} MiB packed, ` +
    `${(info.unpackedSize / 1048576).toFixed(2)} MiB unpacked, ${files.length} files`);
  for (const f of [
    'package.json', 'README.md', 'LICENSE', 'binding.gyp', 'scripts/list-sources.js', 'bin/s3d-nerf.js',
    'lib/index.js', 'lib/index.d.ts', 'lib/index.cjs', 'lib/index.d.cts', 'lib/cli/main.js', 'lib/cli/doctor.js',
    'weights/s3d-64.safetensors', 'weights/face-template.json', 'weights/MODEL_CARD.md', 'cuda/README.md', 'cuda/plugin/s3d_cuda_api.h',
    'cpp/napi/addon.cc', 'cpp/model/engine.cc', 'lib/cli/serve.js', 'lib/serve/server.js', 'web/index.html', 'web/app.js', 'web/style.css',
  ]) assert.ok(files.includes(f), `${f} missing from the tarball`);
  assert.ok(files.some((f) => f.startsWith(`prebuilds/${target}/`) && f.endsWith('.node')), `no prebuilds/${target}/*.node in the tarball`);
  for (const f of files)
    assert.ok(!/^(tests|train|examples|ts|build|bench|tools|docs|node_modules)\//.test(f) && !f.endsWith('.map'), `${f} should not be in the tarball`);

  // 2. A PATH where every compiler is a shim that logs its name and fails.
  const shims = join(work, 'no-compilers');
  const shimLog = join(work, 'compiler-calls.log');
  mkdirSync(shims);
  for (const name of SHADOWED) {
    const p = join(shims, name);
    writeFileSync(p, `#!/bin/sh\necho "${name} $*" >> '${shimLog}'\necho "${name}: shadowed by tests/install.test.mjs" >&2\nexit 127\n`);
    chmodSync(p, 0o755);
  }
  const env = { ...process.env, PATH: `${shims}${delimiter}${process.env.PATH}` };
  for (const k of Object.keys(env)) if (/^(CC|CXX|LINK|npm_config_build_from_source|npm_config_nodedir|npm_lifecycle_|npm_package_|S3D_NERF_PREBUILD|PREBUILDS_ONLY)/i.test(k)) delete env[k];
  assert.notEqual(run('g++', ['--version'], { env }).status, 0, 'the g++ shim is not first on PATH');
  rmSync(shimLog, { force: true });

  // 3. A fresh project; npm install <tarball> (dependencies from the registry / npm's cache).
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
  const install = ok(
    run('npm', ['install', tarball, '--foreground-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: app, env }),
    'npm install <tarball>',
  );
  const pkgDir = join(app, 'node_modules', 's3d-nerf');
  assert.ok(!existsSync(join(pkgDir, 'build')), `the install compiled the addon (node_modules/s3d-nerf/build exists):\n${install.stdout}\n${install.stderr}`);

  // 4. One frame through the public API: ESM import and CJS require (Node's require(esm)).
  const image = join(root, 'examples', 'astronaut.png'); // an aligned 256x256 face crop
  writeFileSync(join(app, 'render.mjs'), `
import { createSession } from 's3d-nerf';
const session = await createSession({ threads: 2 });
try {
  const identity = await session.encodeIdentity(${JSON.stringify(image)}, { aligned: true });
  const audio = await session.prepareAudio({ samples: new Float32Array(16000).map((_, i) => 0.3 * Math.sin(i / 10)), sampleRate: 16000 });
  const frame = await session.renderFrame(identity, { audio, frame: 0 });
  console.log(JSON.stringify({ width: frame.width, height: frame.height, channels: frame.channels, bytes: frame.data.length, backend: session.backend }));
} finally {
  await session.dispose();
}
`);
  writeFileSync(join(app, 'require.cjs'), `
const s3d = require('s3d-nerf');
console.log(JSON.stringify({ createSession: typeof s3d.createSession, isa: s3d.cpuFeatures().kernelIsa }));
`);
  const rendered = JSON.parse(ok(run(process.execPath, ['render.mjs'], { cwd: app, env }), 'render.mjs').stdout);
  assert.deepEqual(rendered, { width: 256, height: 256, channels: 3, bytes: 256 * 256 * 3, backend: 'cpu' });
  const required = ok(run(process.execPath, ['require.cjs'], { cwd: app, env }), 'require.cjs');
  assert.equal(JSON.parse(required.stdout).createSession, 'function');
  assert.doesNotMatch(required.stderr, /ExperimentalWarning/);

  // 5. The CLI through npx.
  const help = ok(run('npx', ['--no-install', 's3d-nerf', '--help'], { cwd: app, env }), 'npx s3d-nerf --help');
  assert.match(help.stdout, /render/);
  assert.match(help.stdout, /doctor/);
  const doctor = ok(run('npx', ['--no-install', 's3d-nerf', 'doctor'], { cwd: app, env }), 'npx s3d-nerf doctor');
  for (const line of `s3d-nerf doctor:\n${doctor.stdout}`.trimEnd().split('\n')) t.diagnostic(line);
  assert.match(doctor.stdout, /prebuilt binary/);
  assert.match(doctor.stdout, /result +ok: --backend auto -> cpu/);
  const report = JSON.parse(ok(run('npx', ['--no-install', 's3d-nerf', 'doctor', '--json', '--backend', 'cpu'], { cwd: app, env }), 'doctor --json').stdout);
  assert.equal(report.native.kind, 'prebuild');
  assert.ok(report.native.path.startsWith(join(pkgDir, 'prebuilds', target)), report.native.path);
  assert.equal(report.backends.cpu.usable, true);
  assert.equal(report.backends.cuda.usable, false);
  // The tarball ships prebuilds/<target>/libs3d_cuda.so only when `npm run build:cuda` ran before packing.
  if (files.includes(`prebuilds/${target}/libs3d_cuda.so`)) {
    assert.equal(report.backends.cuda.diagnostics.pluginLoaded, true, JSON.stringify(report.backends.cuda));
    assert.match(report.backends.cuda.reasons.join('\n'), /CUDA engine stages are not implemented in this build/);
  } else assert.match(report.backends.cuda.reasons[0], /CUDA plugin .* not part of this build/);
  // doctor reports what the bundled model's provenance says (trained since issue 10).
  const shipped = readSafetensors(join(root, 'weights', 's3d-64.safetensors'));
  assert.equal(report.model.trained, JSON.parse(shipped.metadata.provenance).trained === true);
  assert.ok(report.timings.cpu.renderFrameMs > 0);
  const cuda = run('npx', ['--no-install', 's3d-nerf', 'doctor', '--backend', 'cuda'], { cwd: app, env });
  assert.equal(cuda.status, 1, `doctor --backend cuda should exit 1:\n${cuda.stdout}${cuda.stderr}`);

  // 6. No compiler was run at any point.
  const calls = existsSync(shimLog) ? readFileSync(shimLog, 'utf8') : '';
  assert.equal(calls, '', `shadowed compilers were invoked:\n${calls}`);
});
