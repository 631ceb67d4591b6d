#!/usr/bin/env node
// Prints every cpp/**/*.cc, one per line, relative to the package root, sorted.
// binding.gyp expands it with <!@(node scripts/list-sources.js) so new engine
// files need no build-file edit (CMakeLists.txt globs the same set).
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function walk(dir, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) walk(p, out);
    else if (entry.isFile() && entry.name.endsWith('.cc')) out.push(relative(root, p).split('\\').join('/'));
  }
  return out;
}

export function listSources() {
  return walk(join(root, 'cpp'), []).sort();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stdout.write(listSources().join('\n') + '\n');
}
