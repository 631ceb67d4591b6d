// ISA matrix: re-runs the parity suites (tests/parity*.test.mjs) in child
// processes with S3D_CPU_FEATURES=avx2 and =scalar, so machines with only
// AVX2, or no usable SIMD, get the same numbers as the best path. The cap is
// read once when the addon loads, hence the child processes. A probe child
// (helpers/isa-probe.mjs) checks that the cap is reported (cpuFeatures()) and
// that the kernels really changed (output bits differ from the uncapped run
// whenever the uncapped run used a wider ISA).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

import { root } from './helpers/fixtures.mjs';

const RANK = { scalar: 0, avx2: 1, avx512: 2 };

function runNode(script, cap) {
  const env = { ...process.env };
  // A child of `node --test` inherits NODE_TEST_CONTEXT, which would make its
  // own test runner report to us in the runner's internal protocol.
  delete env.NODE_TEST_CONTEXT;
  delete env.S3D_CPU_FEATURES;
  if (cap) env.S3D_CPU_FEATURES = cap;
  const r = spawnSync(process.execPath, [join(root, script)], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

function probe(cap) {
  const r = runNode('tests/helpers/isa-probe.mjs', cap);
  assert.equal(r.status, 0, `isa probe (S3D_CPU_FEATURES=${cap ?? ''}) failed:\n${r.out}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const uncapped = probe(undefined);

for (const cap of ['avx2', 'scalar']) {
  test(`S3D_CPU_FEATURES=${cap}: the cap is applied and the parity suite passes`, () => {
    const p = probe(cap);
    const f = p.features;
    assert.equal(f.cap, cap, 'cpuFeatures().cap');
    assert.match(f.summary, new RegExp(`capped by S3D_CPU_FEATURES=${cap}`));
    assert.equal(f.avx512f, false, 'avx512f is hidden under the cap');
    if (cap === 'scalar') assert.equal(f.avx2, false, 'avx2 is hidden under the scalar cap');
    // The kernels run the best ISA the cap allows (never more).
    const want = RANK[cap] <= RANK[uncapped.features.kernelIsa] ? cap : uncapped.features.kernelIsa;
    assert.equal(f.kernelIsa, want, 'cpuFeatures().kernelIsa');
    if (want !== uncapped.features.kernelIsa)
      assert.notDeepEqual(p.digests, uncapped.digests, `S3D_CPU_FEATURES=${cap} produced bit-identical outputs to ` +
        `${uncapped.features.kernelIsa}: the capped kernels did not run`);
    console.log(`# ${cap}: kernels ${f.kernelIsa} (uncapped: ${uncapped.features.kernelIsa})`);

    for (const suite of ['tests/parity.test.mjs', 'tests/parity-realistic.test.mjs', 'tests/api-parity.test.mjs']) {
      const r = runNode(suite, cap);
      const summary = r.out.split('\n').filter((l) => /^# (tests|pass|fail)/.test(l)).join(', ');
      console.log(`# ${suite} under S3D_CPU_FEATURES=${cap}: ${summary}`);
      assert.equal(r.status, 0, `${suite} failed under S3D_CPU_FEATURES=${cap}:\n${r.out}`);
      assert.match(r.out, /^# fail 0$/m);
      assert.doesNotMatch(r.out, /^# pass 0$/m);
    }
  });
}
