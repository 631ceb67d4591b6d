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
  type Precision,
  type Session,
  type SessionOptions,
  type CpuFeatures,
  type LiveFrame,
  type LiveStats,
} from 's3d-nerf';

export async function usage(): Promise<void> {
  const opts: SessionOptions = { backend: 'cpu', threads: 2, precision: 'exact' };
  await using session: Session = await createSession(opts);
  const precision: Precision = session.precision;
  const bf16: boolean = cpuFeatures().bf16Kernels;
  void precision;
  void bf16;
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

  // Live rendering: uint8 frames by default, float32 on request.
  const live = session.live(identity, { backpressure: 'drop', maxBuffered: 2, pose: (i: number) => poseFromAngles({ yaw: i }) });
  await live.push(new Float32Array(640), 16000);
  const count: number = await live.end();
  for await (const lf of live) {
    const l: LiveFrame<Uint8Array> = lf;
    void (l.index + l.latencyMs + l.renderMs + l.dropped + count);
  }
  const stats: LiveStats = live.stats;
  void stats.latencyMs?.p95;
  const liveF = session.live(identity, { format: 'float32' });
  await liveF.pipeFrom(new ReadableStream<Uint8Array>(), { format: 's16le', sampleRate: 16000 });
  for await (const lf of liveF) {
    const d: Float32Array = lf.data;
    void d;
  }
  // @ts-expect-error: 'block' is not a backpressure mode
  session.live(identity, { backpressure: 'block' });

  // @ts-expect-error: 'metal' is not a backend
  await createSession({ backend: 'metal' });
  // @ts-expect-error: 'bf16' is not a precision
  await createSession({ precision: 'bf16' });
  // @ts-expect-error: renderFrame needs { audio, frame }
  await session.renderFrame(identity, { frame: 0 });
  // @ts-expect-error: channels must be 3 or 4
  await session.encodeIdentity({ data: new Uint8Array(4), width: 1, height: 1, channels: 2 });
}
