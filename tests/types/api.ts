// Compile-only checks of the public ESM API types (never run).
import {
  createSession,
  poseFromAngles,
  renderVideo,
  writeMp4,
  BackendUnavailableError,
  S3DError,
  cpuFeatures,
  type Frame,
  type ModelConfig,
  type Pose,
  type Session,
  type SessionOptions,
  type CpuFeatures,
} from 's3d-nerf';

export async function usage(): Promise<void> {
  const opts: SessionOptions = { backend: 'cpu', threads: 2 };
  await using session: Session = await createSession(opts);
  const config: ModelConfig = session.config;
  const size: number = config.image_size;
  const identity = await session.encodeIdentity({ data: new Uint8Array(size * size * 3), width: size, height: size, channels: 3 }, { aligned: true });
  const audio = await session.prepareAudio({ samples: new Float32Array(16000), sampleRate: 16000 });
  const frames: number = audio.frameCount;
  const pose: Pose = poseFromAngles({ yaw: 10 });
  const frame: Frame = await session.renderFrame(identity, { audio, frame: 0, pose });
  const bytes: number = frame.data.length + frames;
  void bytes;
  await writeMp4(renderVideo(session, identity, { audio, frames: 1 }), { out: 'x.mp4', audio: 'x.wav' });
  const f: CpuFeatures = cpuFeatures();
  const isa: 'avx512' | 'avx2' | 'scalar' = f.kernelIsa;
  void isa;
  try {
    await createSession({ backend: 'cuda' });
  } catch (err) {
    if (err instanceof BackendUnavailableError) {
      const e: S3DError = err;
      void e.code;
    }
  }

  // @ts-expect-error: 'metal' is not a backend
  await createSession({ backend: 'metal' });
  // @ts-expect-error: renderFrame needs { audio, frame }
  await session.renderFrame(identity, { frame: 0 });
  // @ts-expect-error: channels must be 3 or 4
  await session.encodeIdentity({ data: new Uint8Array(4), width: 1, height: 1, channels: 2 });
}
