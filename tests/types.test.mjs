// The published API's types, as a consumer sees them: tests/types/*.ts and *.cts
// import 's3d-nerf' (resolved through package.json "exports" to lib/*.d.ts and
// lib/index.d.cts) and are compiled with `tsc --noEmit`; each `@ts-expect-error`
// line must really be an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

test('public API types compile for ESM and CJS consumers (tsc --noEmit tests/types)', () => {
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tests', 'types'), '--noEmit'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});
