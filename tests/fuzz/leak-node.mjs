// Driven by scripts/leak-check.sh --node under valgrind: every public handle
// kind is created, used and disposed, plus one session dropped without
// dispose() (collected by the GC). Prints "leak-node: ok" at the end.
import { createSession } from '../../lib/index.js';
import { syntheticImage, tinyModel, tone } from '../helpers/fixtures.mjs';

for (const dispose of [true, false]) {
  const s = await createSession({ model: tinyModel, threads: 2 });
  const id = await s.encodeIdentity(syntheticImage(64), { aligned: true });
  const au = await s.prepareAudio(tone(0.1));
  await s.renderFrames(id, { audio: au, frames: { start: 0, end: 2 } });
  if (dispose) {
    await id.dispose();
    await au.dispose();
    await s.dispose();
  }
}
await createSession({ model: tinyModel + '.missing' }).catch(() => {});
for (let i = 0; i < 3; i++) {
  globalThis.gc?.();
  await new Promise((r) => setImmediate(r));
}
console.log('leak-node: ok');
