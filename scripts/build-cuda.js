#!/usr/bin/env node
// `npm run build:cuda`: the optional CUDA plugin libs3d_cuda.so (cuda/README.md),
// compiled with nvcc — no GPU needed — and written next to the addon:
// build/Release/libs3d_cuda.so (used with a source/development build) and
// prebuilds/<platform>-<arch>/libs3d_cuda.so (shipped next to the prebuild).
// The addon dlopens it on demand (cpp/backend/cuda_plugin_loader.cc); it is never
// needed by the CPU path. `npm run build` (and so `npm test`'s pretest and
// `npm pack`'s prepack) runs this with --if-available: built when nvcc is found
// (incremental: skipped when the inputs' hash is unchanged), skipped otherwise, so
// the packed tarball ships prebuilds/<target>/libs3d_cuda.so whenever it can.
//
// Sources: cuda/plugin/*.{cc,cu} (ABI, loader of cuBLAS/cuDNN, probe, error path,
// tracked memory, stage registry) + cuda/*.cu (the engine kernels, which register
// their stages). Include paths cuda/, cuda/plugin/ and cpp/ (the math headers the
// kernels share with the CPU engine).
// Machine code for sm_75, sm_80, sm_86, sm_89, sm_90 plus compute_90 PTX (newer
// GPUs JIT it). cudart is linked statically, libstdc++/libgcc too, and cuBLAS/cuDNN
// are loaded at run time, so the result needs only glibc and the NVIDIA driver.
//
// Options: --force (rebuild even when the inputs' hash is unchanged),
// --archs 80,90 (a quicker build for one machine), --if-available (exit 0 without nvcc). Env: CUDA_PATH or
// /usr/local/cuda for nvcc (or nvcc on PATH), S3D_BUILD_JOBS (default 2).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const force = argv.includes('--force');
const ifAvailable = argv.includes('--if-available'); // skip (exit 0) when no nvcc is found
const archArg = argv.includes('--archs') ? argv[argv.indexOf('--archs') + 1] : undefined;
const ARCHS = (archArg ?? '75,80,86,89,90').split(',').map((s) => s.trim()).filter(Boolean);
const PTX = ARCHS.at(-1);
const jobs = Math.max(1, Number(process.env.S3D_BUILD_JOBS || 2));
const objDir = join(root, 'build', 'cuda-obj');
const outputs = [join(root, 'build', 'Release', 'libs3d_cuda.so'), join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'libs3d_cuda.so')];
const stampFile = join(objDir, 'stamp.json');

function log(msg) {
  process.stderr.write(`build:cuda: ${msg}\n`);
}

function findCudaHome() {
  const cands = [process.env.CUDA_PATH, process.env.CUDA_HOME, '/usr/local/cuda'].filter(Boolean);
  for (const c of cands) if (existsSync(join(c, 'bin', 'nvcc'))) return c;
  const which = spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return dirname(dirname(which.stdout.trim()));
  return undefined;
}

function sources() {
  const pick = (dir, exts) =>
    existsSync(dir) ? readdirSync(dir).filter((f) => exts.some((e) => f.endsWith(e)) && f !== 'check_decls.cc').sort().map((f) => join(dir, f)) : [];
  return [...pick(join(root, 'cuda', 'plugin'), ['.cc', '.cu']), ...pick(join(root, 'cuda'), ['.cu'])];
}

// Include directories of every source: the kernels share headers with the CPU
// engine (cpp/core/host_device.h, cpp/model/*_math.h, ...).
const includeDirs = [join(root, 'cuda'), join(root, 'cuda', 'plugin'), join(root, 'cpp')];

/** The headers of cuda/ and cuda/plugin/, plus every project header they or the sources include (for the hash). */
function headers(srcs) {
  const out = new Set();
  for (const dir of includeDirs.slice(0, 2))
    if (existsSync(dir)) for (const f of readdirSync(dir)) if (/\.(h|cuh|hpp)$/.test(f)) out.add(join(dir, f));
  const queue = [...srcs, ...out];
  while (queue.length) {
    const file = queue.pop();
    for (const m of readFileSync(file, 'utf8').matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
      const hit = [dirname(file), ...includeDirs].map((d) => join(d, m[1])).find((f) => existsSync(f));
      if (hit && !out.has(hit)) {
        out.add(hit);
        queue.push(hit);
      }
    }
  }
  return [...out].sort();
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('error', reject);
    p.on('exit', (code, sig) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed (${code ?? sig})`))));
  });
}

async function pool(tasks, n) {
  const queue = [...tasks];
  await Promise.all(Array.from({ length: Math.min(n, queue.length) }, async () => {
    while (queue.length) await queue.shift()();
  }));
}

async function main() {
  if (process.platform !== 'linux') throw new Error(`the CUDA plugin is built on Linux only (this is ${process.platform})`);
  const cuda = findCudaHome();
  if (!cuda && ifAvailable) {
    // `npm run build` on a machine without the toolkit: the CPU package is complete without it.
    log('nvcc not found: skipping the optional CUDA plugin (set CUDA_PATH to build it)');
    return;
  }
  if (!cuda) throw new Error('nvcc not found (set CUDA_PATH, or install the CUDA toolkit in /usr/local/cuda)');
  const nvcc = join(cuda, 'bin', 'nvcc');
  const version = spawnSync(nvcc, ['--version'], { encoding: 'utf8' }).stdout.match(/release ([\d.]+)/)?.[1] ?? '?';
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const srcs = sources();
  const archText = `${ARCHS.map((a) => `sm_${a}`).join(' ')} + compute_${PTX} PTX`;

  const h = createHash('sha256');
  for (const f of [...srcs, ...headers(srcs), join(root, 'cuda', 'plugin', 'exports.ld'), fileURLToPath(import.meta.url)]) h.update(relative(root, f)).update('\0').update(readFileSync(f)).update('\0');
  h.update(`${nvcc} ${version} ${ARCHS.join(',')} ${pkg.version}`);
  const hash = h.digest('hex');
  const stamp = existsSync(stampFile) ? JSON.parse(readFileSync(stampFile, 'utf8')) : undefined;
  if (!force && stamp?.hash === hash && outputs.every((o) => existsSync(o))) {
    log(`${outputs.map((o) => relative(root, o)).join(', ')} up to date`);
    return;
  }

  mkdirSync(objDir, { recursive: true });
  const t0 = Date.now();
  const defs = [`-DS3D_CUDA_VERSION_STRING="${pkg.version}"`, `-DS3D_CUDA_ARCHS="${archText}"`];
  const inc = [...includeDirs.map((d) => `-I${d}`), `-I${join(cuda, 'include')}`];
  const gencode = [...ARCHS.map((a) => `-gencode=arch=compute_${a},code=sm_${a}`), `-gencode=arch=compute_${PTX},code=compute_${PTX}`];
  const objs = [];
  const tasks = srcs.map((src) => {
    const obj = join(objDir, relative(root, src).replace(/[\\/]/g, '_') + '.o');
    objs.push(obj);
    if (src.endsWith('.cu'))
      return () => run(nvcc, ['-c', src, '-o', obj, '-std=c++17', '-O3', '--threads', '1', '-Xcompiler', '-fPIC,-fvisibility=hidden', '-Xfatbin', '-compress-all', ...gencode, ...defs, ...inc]);
    return () => run('g++', ['-c', src, '-o', obj, '-std=c++17', '-O2', '-fPIC', '-fvisibility=hidden', '-Wall', ...defs, ...inc]);
  });
  log(`nvcc ${version} (${nvcc}): ${srcs.length} sources, ${archText}, ${jobs} jobs`);
  await pool(tasks, jobs);

  const tmp = join(objDir, 'libs3d_cuda.so');
  await run('g++', [
    '-shared', '-o', tmp, ...objs,
    `-L${join(cuda, 'lib64')}`, '-l:libcudart_static.a', '-ldl', '-lpthread', '-lrt',
    '-static-libstdc++', '-static-libgcc', '-Wl,--exclude-libs,ALL', '-Wl,--no-undefined', '-Wl,-soname,libs3d_cuda.so', `-Wl,--version-script=${join(root, 'cuda', 'plugin', 'exports.ld')}`, '-s',
  ]);

  // Checks: only glibc + libdl/libpthread/librt at load time; exactly one exported entry point.
  const ldd = spawnSync('ldd', [tmp], { encoding: 'utf8' });
  if (ldd.status === 0) {
    const bad = ldd.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter((n) => n && !n.startsWith('/') && !/^(linux-vdso|libc|libm|libdl|libpthread|librt|ld-linux[-\w]*)\.so/.test(n));
    if (bad.length) throw new Error(`libs3d_cuda.so needs ${bad.join(', ')} (expected static cudart/libstdc++; cuBLAS/cuDNN are dlopened)`);
  }
  const nm = spawnSync('nm', ['-D', '--defined-only', tmp], { encoding: 'utf8' });
  if (nm.status === 0 && !/\bs3d_cuda_get_api\b/.test(nm.stdout)) throw new Error('libs3d_cuda.so does not export s3d_cuda_get_api');

  for (const out of outputs) {
    mkdirSync(dirname(out), { recursive: true });
    copyFileSync(tmp, `${out}.tmp`);
    renameSync(`${out}.tmp`, out);
  }
  writeFileSync(stampFile, JSON.stringify({ hash, archs: ARCHS }, null, 2));
  const mb = (statSync(tmp).size / 1048576).toFixed(2);
  log(`built ${outputs.map((o) => relative(root, o)).join(' and ')} (${mb} MiB) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((err) => {
  log(`error: ${err.message}`);
  process.exit(1);
});
