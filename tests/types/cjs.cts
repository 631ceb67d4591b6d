// Compile-only check of the CommonJS entry types: require('s3d-nerf') -> lib/index.d.cts.
import s3d = require('s3d-nerf');

export async function usage(): Promise<number> {
  const session = await s3d.createSession({ backend: 'auto' });
  const size: number = session.config.image_size;
  await session.dispose();
  // @ts-expect-error: threads is a number
  await s3d.createSession({ threads: 'four' });
  return size;
}
