#!/usr/bin/env node
// `npm run prebuild` (npm also runs it before `npm run build`, as that script's
// pre-hook; S3D_SKIP_PREBUILD=1 skips it in a quick edit-compile loop): the prebuilt addon shipped in the npm package,
// prebuilds/<platform>-<arch>/s3d-nerf[.glibc].node, made by prebuildify
// (node-gyp, the CPU-only binding.gyp, N-API so one binary serves every Node
// >= 20, stripped, tagged with the C library) and loaded by node-gyp-build
// at run time when the package has no build/Release.
//
// The build runs in a staging folder (build/prebuild/: binding.gyp, package.json,
// scripts/list-sources.js and a link to cpp/), so the incremental development
// build in build/ is left alone. prebuildify always rebuilds from scratch, so
// the result is stamped with a hash of everything that goes into it and skipped
// when nothing changed (`--force` rebuilds anyway).
//
// On Linux, S3D_STATIC_RUNTIME=1 makes binding.gyp link libstdc++ and libgcc
// statically; the binary is then checked with ldd to need nothing but glibc.
//
// CUDA plugin (cuda/README.md): libs3d_cuda.so is built next to the addon, in
// the same prebuilds/<platform>-<arch>/ folder, by a separate step
// (`npm run build:cuda`, scripts/build-cuda.js, nvcc), never by node-gyp, so this
// CPU prebuild never needs the CUDA toolkit; rebuilding the addon keeps it.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const force = process.argv.includes('--force');
const stage = join(root, 'build', 'prebuild');
const platformDir = `${process.platform}-${process.arch}`;
const outDir = join(root, 'prebuilds', platformDir);
const stampFile = join(stage, 'stamp.json');

function log(msg) {
  process.stderr.write(`prebuild: ${msg}\n`);
}

function files(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) files(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function inputsHash() {
  const h = createHash('sha256');
  const inputs = [
    ...files(join(root, 'cpp')).sort(),
    join(root, 'cuda', 'plugin', 's3d_cuda_api.h'), // the plugin's C ABI, the only CUDA file the addon includes
    join(root, 'binding.gyp'),
    join(root, 'scripts', 'list-sources.js'),
    require.resolve('node-addon-api/package.json'),
  ];
  for (const f of inputs) {
    h.update(relative(root, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  h.update(`${process.platform} ${process.arch} napi ${process.versions.napi}`);
  return h.digest('hex');
}

function readdirOr(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function builtNode() {
  if (!existsSync(outDir)) return undefined;
  const f = readdirSync(outDir).find((n) => n.endsWith('.node'));
  return f ? join(outDir, f) : undefined;
}

/** Linux: the shared libraries the binary needs; fails unless all belong to glibc. */
function checkLinuxDeps(file) {
  const r = spawnSync('ldd', [file], { encoding: 'utf8' });
  if (r.status !== 0) {
    log(`ldd unavailable (${(r.stderr || r.error?.message || '').trim()}); dependency check skipped`);
    return;
  }
  process.stderr.write(r.stdout.replace(/^/gm, '  ldd: '));
  const glibc = /^(linux-vdso|linux-gate|libc|libm|libdl|libpthread|librt|ld-linux[-\w]*)\.so/;
  const extra = r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((name) => name && !name.startsWith('/') && !glibc.test(name));
  if (extra.length) throw new Error(`${file} needs ${extra.join(', ')} beyond glibc (expected a static libstdc++/libgcc)`);
  const sym = spawnSync('objdump', ['-T', file], { encoding: 'utf8' });
  if (sym.status === 0) {
    const versions = [...sym.stdout.matchAll(/GLIBC_(\d+)\.(\d+)(?:\.(\d+))?/g)].map((m) => [+m[1], +m[2], +(m[3] ?? 0)]);
    versions.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
    const max = versions.at(-1);
    if (max) log(`needs glibc >= ${max.join('.').replace(/\.0$/, '')} (highest GLIBC_ symbol version)`);
  }
}

function main() {
  if (process.env.S3D_SKIP_PREBUILD === '1') {
    log('skipped (S3D_SKIP_PREBUILD=1)');
    return;
  }
  const hash = inputsHash();
  const existing = builtNode();
  const stamp = existsSync(stampFile) ? JSON.parse(readFileSync(stampFile, 'utf8')) : undefined;
  if (!force && existing && stamp?.hash === hash && stamp.file === relative(root, existing)) {
    log(`${relative(root, existing)} is up to date`);
    return;
  }

  // Staging folder: the files binding.gyp needs, cpp/ linked (not copied).
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(stage, 'scripts'), { recursive: true });
  copyFileSync(join(root, 'binding.gyp'), join(stage, 'binding.gyp'));
  copyFileSync(join(root, 'scripts', 'list-sources.js'), join(stage, 'scripts', 'list-sources.js'));
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  writeFileSync(join(stage, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, type: pkg.type, private: true }, null, 2));
  symlinkSync(join(root, 'cpp'), join(stage, 'cpp'), process.platform === 'win32' ? 'junction' : 'dir');
  symlinkSync(join(root, 'cuda'), join(stage, 'cuda'), process.platform === 'win32' ? 'junction' : 'dir');

  // Node headers next to the node binary (<prefix>/include/node): no download.
  const prefix = dirname(dirname(process.execPath));
  const env = { ...process.env, S3D_STATIC_RUNTIME: process.platform === 'linux' ? '1' : '0' };
  if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) env.npm_config_nodedir = prefix;
  if (!env.JOBS && !env.npm_config_jobs) env.JOBS = process.env.S3D_BUILD_JOBS || '2';

  // Remove the previous addon only: libs3d_cuda.so (`npm run build:cuda`) stays.
  for (const f of readdirOr(outDir)) if (f.endsWith('.node')) rmSync(join(outDir, f), { force: true });
  const prebuildify = require.resolve('prebuildify/bin.js');
  const args = [
    prebuildify,
    '--napi',
    '--strip',
    '--tag-libc',
    `--target=node@${process.versions.node}`, // the installed headers; N-API makes it valid for every Node >= 20
    `--node-gyp=${require.resolve('node-gyp/bin/node-gyp.js')}`,
    `--out=${root}`,
    stage,
  ];
  log(`prebuildify ${args.slice(1).join(' ')}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, { cwd: stage, env, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`prebuildify failed (exit ${r.status ?? r.signal})`);
  const file = builtNode();
  if (!file) throw new Error(`prebuildify produced no .node in ${relative(root, outDir)}`);
  log(`built ${relative(root, file)} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (process.platform === 'linux') checkLinuxDeps(file);
  writeFileSync(stampFile, JSON.stringify({ hash, file: relative(root, file) }, null, 2));
}

try {
  main();
} catch (err) {
  log(`error: ${err.message}`);
  process.exit(1);
}
