// examples/render-video.mjs end to end, as a child process: a 2-frame Y4M of
// the bundled example media with the bundled model. Run: npm test
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test, after } from 'node:test';
import { fileURLToPath } from 'node:url';

import { findFfmpeg } from '../lib/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const script = join(root, 'examples', 'render-video.mjs');
const tmp = mkdtempSync(join(tmpdir(), 's3d-example-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function run(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { cwd: root, timeout: 300_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('render-video writes a 2-frame 256x256 Y4M at 25 fps (and an mp4 when ffmpeg is found)', async (t) => {
  const dir = join(tmp, 'ok');
  const r = await run(['--frames', '2', '--out', join(dir, 'x')]);
  assert.equal(r.code, 0, `exit code ${r.code}; stderr: ${r.stderr}`);

  const y4m = readFileSync(join(dir, 'x.y4m'));
  const nl = y4m.indexOf(0x0a);
  assert.ok(nl > 0, 'no header line');
  const header = y4m.subarray(0, nl).toString('latin1').split(' ');
  assert.equal(header[0], 'YUV4MPEG2');
  for (const tag of ['W256', 'H256', 'F25:1']) assert.ok(header.includes(tag), `header lacks ${tag}: ${header.join(' ')}`);
  const chroma = header.find((t) => t.startsWith('C')) ?? 'C420jpeg';
  const planes = chroma.startsWith('C444') ? 256 * 256 * 3 : 256 * 256 + 2 * 128 * 128;

  // Exactly two FRAME records of the right size, nothing after them.
  const tag = Buffer.from('FRAME\n');
  let pos = nl + 1;
  for (let i = 0; i < 2; ++i) {
    assert.ok(y4m.subarray(pos, pos + tag.length).equals(tag), `frame ${i}: no FRAME tag at byte ${pos}`);
    pos += tag.length + planes;
  }
  assert.equal(y4m.length, pos, 'file size is not header + 2 frames');

  // Only the finished outputs remain: no temporary files.
  const files = readdirSync(dir).sort();
  assert.ok(files.includes('x.y4m'));
  for (const f of files) assert.ok(['x.y4m', 'x.mp4'].includes(f), `unexpected file left behind: ${f}`);
  // The example writes the mp4 whenever it finds ffmpeg (as findFfmpeg does).
  if (!findFfmpeg()) return t.skip('no ffmpeg: the example\'s .mp4 is not checked');
  assert.ok(files.includes('x.mp4'), `ffmpeg was found but no x.mp4 was written: ${files}`);
  assert.ok(statSync(join(dir, 'x.mp4')).size > 0, 'empty x.mp4');
});

test('render-video fails with a one-line message on a missing image', async () => {
  const dir = join(tmp, 'missing');
  const r = await run(['--image', join(tmp, 'no-such-face.png'), '--frames', '1', '--out', join(dir, 'x')]);
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${r.stderr}`);
  assert.match(lines[0], /^render-video: error: .*no-such-face\.png/);
  assert.throws(() => readdirSync(dir), { code: 'ENOENT' });
});
