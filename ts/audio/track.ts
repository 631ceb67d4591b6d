// Prepared speech in the engine: AudioTrack, and the two ways samples get there.
// Samples already in memory go in one call (oneShotTrack); decoders that
// produce chunks (WAV files read in chunks, ffmpeg) push them into the engine's
// streaming front end (StreamingTrack), which resamples to the model rate and
// computes the log-mel track as they arrive. Picking the decoder for an input
// is prepareAudio's job (ts/audio/index.ts).
import { throwIfAborted } from '../abort.js';
import { InputAudioError, fromNative } from '../errors.js';
import { native, type NativeAudio, type NativeAudioStream } from '../native.js';
import type { SessionCore } from '../session-core.js';
import { SessionResource } from '../session-resource.js';
import type { SampleSink } from './ffmpeg.js';

/** Prepared speech. Belongs to the session that prepared it. */
export class AudioTrack extends SessionResource<NativeAudio> {
  /** Video frames covered (frame t covers [t/fps, (t+1)/fps); a partial last frame counts). */
  readonly frameCount: number;
  /** Seconds of input audio. */
  readonly duration: number;
  /** Rate of the input samples (the engine resamples to the model's rate). */
  readonly sampleRate: number;
  readonly sampleCount: number;

  /** @internal */
  constructor(session: SessionCore, handle: NativeAudio, sampleRate: number) {
    super(session, handle, 'audio track', 'prepared');
    this.frameCount = handle.frameCount;
    this.sampleCount = handle.sampleCount;
    this.sampleRate = sampleRate;
    this.duration = handle.sampleCount / sampleRate;
  }
}

/** Mono samples and their rate. */
export type Samples = { samples: Float32Array; sampleRate: number };

/**
 * Builds a track in the engine chunk by chunk (audioStreamPush): memory stays
 * bounded by the log-mel track however long the audio is. One push is in
 * flight while the caller reads and converts the next chunk; each push goes
 * through the session's queue like any engine call, and the signal is checked
 * before each.
 */
export class StreamingTrack implements SampleSink {
  readonly #session: SessionCore;
  readonly #signal: AbortSignal | undefined;
  #handle: NativeAudioStream | undefined;
  #pending: Promise<void> | undefined;
  sampleRate = 0;

  constructor(session: SessionCore, signal: AbortSignal | undefined) {
    this.#session = session;
    this.#signal = signal;
  }

  start(sampleRate: number): void {
    this.#session._assertOpen();
    try {
      this.#handle = native().audioStreamCreate(this.#session._native(), sampleRate);
    } catch (err) {
      throw fromNative(err);
    }
    this.sampleRate = sampleRate;
  }

  async write(samples: Float32Array): Promise<void> {
    if (samples.length === 0) return;
    await this.#pending;
    throwIfAborted(this.#signal);
    const handle = this.#handle!;
    const p = this.#session._queue.run(async () => {
      try {
        await native().audioStreamPush(handle, samples);
      } catch (err) {
        throw fromNative(err);
      }
    }, this.#signal);
    p.catch(() => {}); // awaited by the next write or by finish()
    this.#pending = p;
  }

  async finish(): Promise<AudioTrack> {
    await this.#pending;
    throwIfAborted(this.#signal);
    const handle = this.#handle!;
    return this.#session._queue.run(async () => {
      let audio: NativeAudio;
      try {
        audio = await native().audioStreamFinish(handle);
      } catch (err) {
        throw fromNative(err);
      }
      return new AudioTrack(this.#session, audio, this.sampleRate);
    }, this.#signal);
  }

  /** Drops the partial track (a push in flight still completes, its result unused). */
  dispose(): void {
    this.#handle?.dispose();
    this.#handle = undefined;
  }
}

/** Mono samples already in memory: one call to the engine. */
export async function oneShotTrack(session: SessionCore, { samples, sampleRate }: Samples, signal: AbortSignal | undefined): Promise<AudioTrack> {
  throwIfAborted(signal);
  if (samples.length === 0) throw new InputAudioError('Expected at least one audio sample but received none');
  for (let i = 0; i < samples.length; ++i)
    if (!Number.isFinite(samples[i])) throw new InputAudioError(`Expected finite audio samples but sample ${i} is ${samples[i]}`);
  return session._queue.run(async () => {
    let handle: NativeAudio;
    try {
      handle = await native().prepareAudio(session._native(), samples, sampleRate);
    } catch (err) {
      throw fromNative(err);
    }
    return new AudioTrack(session, handle, sampleRate);
  }, signal);
}
