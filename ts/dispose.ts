// Symbol.asyncDispose exists in Node >= 20.4 (as Symbol.for('nodejs.asyncDispose'));
// polyfill the same registered symbol for runtimes that lack it, so
// `await using session = await createSession()` works in TS 5.2+.
const S = Symbol as unknown as { asyncDispose?: symbol; dispose?: symbol };
S.asyncDispose ??= Symbol.for('nodejs.asyncDispose');
S.dispose ??= Symbol.for('nodejs.dispose');

export const asyncDispose: typeof Symbol.asyncDispose = Symbol.asyncDispose;
