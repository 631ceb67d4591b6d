#!/usr/bin/env node
// Incremental addon build: `node-gyp configure` only when the source list or
// binding.gyp changed since the last configure (new cpp/**/*.cc files need a
// new Makefile), then `node-gyp build -j 2`, which recompiles only what changed.
// `npm run build:native:force` does a clean rebuild.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listSources } from './list-sources.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
const stampFile = join(root, 'build', 's3d-configure.stamp');
const jobs = process.env.S3D_BUILD_JOBS || '2';

const stamp = JSON.stringify({
  sources: listSources(),
  gyp: statSync(join(root, 'binding.gyp')).mtimeMs,
  node: process.version,
});

// Use the headers that ship with this node binary (<prefix>/include/node) when
// present, so configure works offline instead of downloading them.
const prefix = dirname(dirname(process.execPath));
const nodedir = process.env.npm_config_nodedir ||
  (existsSync(join(prefix, 'include', 'node', 'common.gypi')) ? prefix : '');
const nodedirArgs = nodedir ? [`--nodedir=${nodedir}`] : [];

function nodeGypRun(args) {
  const r = spawnSync(process.execPath, [nodeGyp, ...args], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const configured = existsSync(join(root, 'build', 'Makefile')) || existsSync(join(root, 'build', 'binding.sln'));
const current = existsSync(stampFile) ? readFileSync(stampFile, 'utf8') : '';
if (!configured || current !== stamp) {
  nodeGypRun(['configure', '--release', ...nodedirArgs]);
  mkdirSync(dirname(stampFile), { recursive: true });
  writeFileSync(stampFile, stamp);
}
nodeGypRun(['build', '--release', '-j', jobs, ...nodedirArgs]);
