// CommonJS entry point (`require('s3d-nerf')`, compiled to lib/index.cjs).
// The package is ES modules (lib/index.js); this re-exports that module through
// Node's require(esm), unflagged since Node 20.19 / 22.12 (the same module
// instance as `import`, no dual-package copy). Older Node 20 releases cannot
// require() an ES module: there, this throws an error that says to use import().
type S3dNerf = typeof import('./index.js');

function load(): S3dNerf {
  try {
    return require('./index.js') as S3dNerf;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_REQUIRE_ESM' || code === 'ERR_REQUIRE_ASYNC_MODULE')
      throw new Error(
        `s3d-nerf is an ES module and this Node.js (${process.version}) cannot require() it ` +
          "(require(esm) needs Node >= 20.19 or >= 22.12): use `const s3d = await import('s3d-nerf')` " +
          "or `import { createSession } from 's3d-nerf'` instead",
        { cause: err },
      );
    throw err;
  }
}

const s3d: S3dNerf = load();
export = s3d;
