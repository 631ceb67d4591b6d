#!/usr/bin/env node
// npm run test:native: builds every tests/native/*.cc standalone C++ test with
// g++ into build/native-tests/ and runs them from the repository root, stopping
// at the first failure (non-zero exit).
//
// The build line of each test is the `g++ ...` command in its header comment
// (the single source of truth): its flags and sources are used as written, with
// globs such as cpp/core/*.cc expanded and the output redirected to
// build/native-tests/<name>. A binary newer than its test file and every file
// under cpp/ is not rebuilt.
//
//   node scripts/test-native.mjs [name ...]     e.g. test_audio test_nerf
//   CXX=clang++ node scripts/test-native.mjs    another compiler
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const testDir = join(root, 'tests', 'native');
const outDir = join(root, 'build', 'native-tests');
const cxx = process.env.CXX || 'g++';
const jobs = Math.max(1, Number(process.env.S3D_BUILD_JOBS) || 2);

/** Expands `dir/*.cc` (a glob in the last path component only, as the headers use). */
function expand(arg) {
  if (!arg.includes('*')) return [arg];
  const dir = dirname(arg);
  const re = new RegExp('^' + basename(arg).split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  const hits = readdirSync(join(root, dir)).filter((f) => re.test(f)).sort().map((f) => `${dir}/${f}`);
  if (hits.length === 0) throw new Error(`${arg} matches no file`);
  return hits;
}

/** The compile arguments from a test's header comment (without -o and what follows it). */
function buildArgs(file) {
  const header = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('//')) break;
    header.push(line.replace(/^\/\/\s?/, ''));
  }
  const start = header.findIndex((l) => /(^|\s)g\+\+\s/.test(l));
  if (start < 0) throw new Error(`${relative(root, file)}: no "g++ ..." build line in the header comment`);
  // The command may continue over several comment lines, up to the one with "-o <output>".
  let cmd = '';
  for (let i = start; i < header.length; i++) {
    cmd += ' ' + header[i].trim();
    if (/\s-o\s/.test(cmd)) break;
  }
  cmd = cmd.slice(cmd.indexOf('g++') + 3).split('&&')[0];
  const tokens = cmd.trim().split(/\s+/);
  const args = [];
  const libs = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t === '-o') { i++; continue; }  // our own output path instead
    if (t.startsWith('-l')) libs.push(t);
    else args.push(...expand(t));
  }
  if (!args.some((a) => a.endsWith('.cc'))) throw new Error(`${relative(root, file)}: no sources on the build line`);
  return { args, libs };
}

function newestMtime(dir) {
  let m = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    m = Math.max(m, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return m;
}

function compile(name, file) {
  const bin = join(outDir, name);
  const { args, libs } = buildArgs(file);
  const inputs = Math.max(statSync(file).mtimeMs, newestMtime(join(root, 'cpp')));
  if (existsSync(bin) && statSync(bin).mtimeMs > inputs) {
    console.log(`[build] ${name}: up to date`);
    return Promise.resolve(bin);
  }
  const argv = [...args, '-o', relative(root, bin), ...libs];
  console.log(`[build] ${name}: ${cxx} ${argv.join(' ')}`);
  return new Promise((resolve, reject) => {
    const p = spawn(cxx, argv, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(bin) : reject(new Error(`building ${name} failed (${cxx} exit ${code})`))));
  });
}

const wanted = process.argv.slice(2).map((a) => basename(a, '.cc'));
const tests = readdirSync(testDir).filter((f) => f.endsWith('.cc')).sort()
  .map((f) => ({ name: basename(f, '.cc'), file: join(testDir, f) }))
  .filter((t) => wanted.length === 0 || wanted.includes(t.name));
for (const w of wanted)
  if (!tests.some((t) => t.name === w)) {
    console.error(`no tests/native/${w}.cc`);
    process.exit(2);
  }
mkdirSync(outDir, { recursive: true });

const t0 = performance.now();
// Build with `jobs` compilers at a time; stop at the first failure.
const queue = [...tests];
try {
  await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    while (queue.length) {
      const t = queue.shift();
      await compile(t.name, t.file);
    }
  }));
} catch (err) {
  queue.length = 0;
  console.error(`FAIL ${err.message}`);
  process.exit(1);
}

for (const t of tests) {
  const start = performance.now();
  console.log(`\n[run] ${t.name}`);
  const r = spawnSync(join(outDir, t.name), [], { cwd: root, stdio: 'inherit' });
  const secs = ((performance.now() - start) / 1000).toFixed(1);
  if (r.status !== 0) {
    console.error(`\nFAIL ${t.name} (exit ${r.status ?? r.signal}, ${secs} s)`);
    process.exit(1);
  }
  console.log(`[run] ${t.name}: ok (${secs} s)`);
}
console.log(`\nall ${tests.length} native tests passed (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
