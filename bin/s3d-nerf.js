#!/usr/bin/env node
// s3d-nerf command line: see `s3d-nerf --help` (implementation: lib/cli/main.js, from ts/cli/main.ts).
let cli;
try {
  cli = await import('../lib/cli/main.js');
} catch (err) {
  const msg = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
  process.stderr.write(`s3d-nerf: error: cannot load the s3d-nerf library (run \`npm run build\` first): ${msg}\n`);
  process.exit(1);
}
await cli.run();
