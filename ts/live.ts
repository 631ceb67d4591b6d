// Live rendering (issue 12): frames as the speech arrives.
//
// Audio pushed into a LiveStream goes into the engine's streaming front end
// (cpp/audio/audio_stream.h: resampling + log-mel, bit-identical to the
// one-shot path for any chunking). Video frame t covers audio
// [t/fps, (t+1)/fps); its deformation window is window_frames log-mel columns
// centred on that span (audio_features.h deform_window_start), so it can be
// rendered as soon as the last column of its window is computed: about 0.2 s
// of audio after the end of its span with the default front end
// (lookaheadSeconds). The engine renders it from a copy of just that window
// (audioStreamWindow), which renders what the finished track renders: live
// frames are byte-identical to prepareAudio + renderFrames. After end() the
// track is finished and the last frames (whose windows reach past the end of
// the audio) are rendered from it.
import { abortError } from './abort.js';
import { decodeAudioStream, type ByteSource, type DecodeAudioStreamOptions } from './audio/pcm-stream.js';
import { isSinglePose, toPoseMatrix, type Pose } from './camera.js';
import type { AudioFrontEndConfig } from './config.js';
import { DisposedError, InputAudioError, InvalidArgumentError, S3DError, fromNative } from './errors.js';
import type { Identity } from './identity.js';
import { native, type NativeAudio, type NativeAudioStream, type NativeAudioStreamStatus } from './native.js';
import { toUint8, type Frame, type PixelFormat } from './render.js';
import type { SessionCore } from './session-core.js';
import { describe, expectObject, expectOneOf, expectOptions, expectSignal } from './validate.js';

/**
 * What happens when frames are ready faster than the consumer takes them:
 * - 'buffer' (default): every frame is delivered. At most maxBuffered rendered
 *   frames wait for the consumer; then rendering pauses until it takes one.
 *   Audio is still accepted (push() never waits for the consumer); a source
 *   that can wait awaits drain() (pipeFrom does), which resolves once no more
 *   than maxBuffered frames are waiting.
 * - 'drop': latency stays bounded. Whenever more than maxBuffered frames are
 *   waiting (rendered and not taken, plus ready and not rendered), the oldest
 *   are dropped (rendered ones discarded, unrendered ones never rendered). The
 *   consumer sees a gap in `index`; `dropped` and stats.framesDropped count them.
 *   Meant for real-time sources: audio pushed faster than real time makes
 *   many frames ready at once, and all but the newest maxBuffered are dropped.
 */
export type LiveBackpressure = 'buffer' | 'drop';

export interface LiveOptions {
  /** Target camera: one pose, or a function of the frame index (undefined: the identity's pose). Default: the identity's source pose. */
  pose?: Pose | ((frame: number) => Pose | undefined);
  /** 'uint8' (default) or 'float32', as renderFrame. */
  format?: PixelFormat;
  /** Aborts the stream: the iterator rejects with AbortError once the engine call in flight (one frame at most) has returned. */
  signal?: AbortSignal;
  /** Default 'buffer'. */
  backpressure?: LiveBackpressure;
  /** Frames that may wait for the consumer (default 8). */
  maxBuffered?: number;
}

/** A live frame: a Frame (as renderFrames gives) with its index and timing. */
export interface LiveFrame<T extends Uint8Array | Float32Array = Uint8Array> extends Frame<T> {
  /** Video frame index (gaps only in 'drop' mode). */
  index: number;
  /** Start of the frame's audio span in seconds (index / fps). */
  time: number;
  /**
   * Milliseconds from the arrival (push()) of the last sample of the frame's
   * own audio span to the frame being handed to the consumer: waiting for the
   * window's look-ahead audio, the engine (queue + render), and the time in
   * the buffer.
   */
  latencyMs: number;
  /** Milliseconds the engine took to render this frame. */
  renderMs: number;
  /** Frames dropped so far ('drop' mode), this frame's gap included. */
  dropped: number;
}

/** Mean, median, 95th percentile and maximum of a timing (ms); percentiles over the last 1024 frames. */
export interface TimingSummary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  max: number;
}

export interface LiveStats {
  /** The input rate (undefined before the first push). */
  sampleRate: number | undefined;
  /** Samples accepted by push(). */
  samplesPushed: number;
  /** Frames whose audio window is complete (all of them after end()). */
  framesReady: number;
  framesRendered: number;
  framesDelivered: number;
  framesDropped: number;
  /** Rendered frames waiting for the consumer now, and the most there ever were. */
  buffered: number;
  maxBufferedSeen: number;
  /** Frames in the video: known once end() has finished the audio. */
  frameCount: number | undefined;
  latencyMs: TimingSummary | undefined;
  renderMs: TimingSummary | undefined;
  /** Frames handed out per second since the first push (wall clock). */
  framesPerSecond: number;
  /** Engine calls of this stream queued or running now (0 once an abort or close has settled). */
  engineCalls: number;
}

const DEFAULT_MAX_BUFFERED = 8;

/** First log-mel column of frame t's window (cpp/audio/audio_features.cc deform_window_start). */
export function deformWindowStart(t: number, fe: AudioFrontEndConfig): number {
  const fh = fe.fps * fe.hop;
  return Math.floor(((2 * t + 1) * fe.sample_rate + fh) / (2 * fh)) - Math.floor(fe.window_frames / 2);
}

/**
 * Look-ahead of the live renderer, in seconds of audio: how much audio past
 * the end of frame t's span [t/fps, (t+1)/fps) must have arrived before frame
 * t can be rendered (the last column of its window reads up to
 * column*hop + n_fft/2 samples at the model rate); the maximum over frames.
 * 0.1975 s with the default front end (at 16 kHz input; other rates add the
 * resampler's filter reach, a few ms).
 */
export function liveLookaheadSeconds(fe: AudioFrontEndConfig): number {
  let worst = -Infinity;
  // The window start is periodic in t with period sample_rate / gcd(...): 1000 frames cover any sane config.
  for (let t = 0; t < 1000; ++t) {
    const lastCol = deformWindowStart(t, fe) + fe.window_frames - 1;
    const need = lastCol * fe.hop - Math.floor(fe.n_fft / 2) + fe.n_fft; // samples at the model rate
    const spanEnd = ((t + 1) * fe.sample_rate) / fe.fps;
    worst = Math.max(worst, (need - spanEnd) / fe.sample_rate);
  }
  return Math.max(0, worst);
}

class Timings {
  #count = 0;
  #sum = 0;
  #max = 0;
  readonly #recent: number[] = [];
  add(v: number): void {
    this.#count++;
    this.#sum += v;
    if (v > this.#max) this.#max = v;
    this.#recent.push(v);
    if (this.#recent.length > 1024) this.#recent.shift();
  }
  summary(): TimingSummary | undefined {
    if (this.#count === 0) return undefined;
    const s = [...this.#recent].sort((a, b) => a - b);
    const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
    return { count: this.#count, mean: this.#sum / this.#count, p50: q(0.5), p95: q(0.95), max: this.#max };
  }
}

/** Marks a promise's rejection as handled (it is also reported elsewhere) and returns it. */
function handled<R>(p: Promise<R>): Promise<R> {
  p.catch(() => {});
  return p;
}

interface PendingChunk {
  samples: Float32Array;
  resolve: () => void;
  reject: (err: unknown) => void;
}

type LiveFrameAny = LiveFrame<Uint8Array | Float32Array>;

/**
 * A live talking-head stream (session.live()): push audio in, iterate frames
 * out. One consumer: `for await (const frame of live)`, or live.frames().
 */
export class LiveStream<T extends Uint8Array | Float32Array = Uint8Array> implements AsyncIterable<LiveFrame<T>> {
  readonly #session: SessionCore;
  readonly #identity: Identity;
  readonly #poseAt: (frame: number) => Float32Array;
  readonly #format: PixelFormat;
  readonly #signal: AbortSignal | undefined;
  readonly #mode: LiveBackpressure;
  readonly #maxBuffered: number;
  readonly #fe: AudioFrontEndConfig;
  readonly #onAbort: () => void;

  // input
  #rate: number | undefined;
  #stream: NativeAudioStream | undefined;
  #pending: PendingChunk[] = [];
  #feeding = false;
  #fed: Promise<void> = Promise.resolve();
  #samplesIn = 0;
  #arrivals: { end: number; at: number }[] = [];
  #firstPushAt: number | undefined;
  #ended = false;
  #endPromise: Promise<number> | undefined;

  // engine
  #framesReady = 0;
  #final: NativeAudio | undefined;
  #frameCount: number | undefined;
  readonly #calls = new Set<Promise<void>>(); // engine calls of this stream, queued or running

  // output
  #next = 0;
  #out: LiveFrameAny[] = [];
  #rendering = false;
  #wantRender = false;
  #rendered = 0;
  #delivered = 0;
  #dropped = 0;
  #maxSeen = 0;
  #error: Error | undefined;
  #closed = false;
  #iterating = false;
  #waiter: { resolve: (r: IteratorResult<LiveFrame<T>>) => void; reject: (e: unknown) => void } | undefined;
  #drainWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  readonly #latency = new Timings();
  readonly #renderTimes = new Timings();

  /** Seconds of audio past a frame's span needed before it can be rendered (see liveLookaheadSeconds). */
  readonly lookaheadSeconds: number;
  readonly backpressure: LiveBackpressure;
  readonly maxBuffered: number;
  /** Video frames per second (config.audio.fps). */
  readonly fps: number;

  /** @internal Use session.live(). */
  constructor(session: SessionCore, identity: Identity, options?: LiveOptions) {
    session._assertOpen();
    if (typeof identity !== 'object' || identity === null || typeof (identity as Identity)._handleFor !== 'function')
      throw new InvalidArgumentError(`Expected an Identity from session.encodeIdentity() for identity but received ${describe(identity)}`);
    identity._handleFor(session);
    const opts = expectOptions(options, 'options', {
      fn: 'live',
      keys: ['pose', 'format', 'signal', 'backpressure', 'maxBuffered'],
    }) as LiveOptions;
    this.#session = session;
    this.#identity = identity;
    this.#fe = session.config.audio;
    this.fps = this.#fe.fps;
    this.#format = opts.format === undefined ? 'uint8' : expectOneOf(opts.format, 'format', ['uint8', 'float32'] as const);
    this.#mode = opts.backpressure === undefined ? 'buffer' : expectOneOf(opts.backpressure, 'backpressure', ['buffer', 'drop'] as const);
    const mb = opts.maxBuffered ?? DEFAULT_MAX_BUFFERED;
    if (typeof mb !== 'number' || !Number.isInteger(mb) || mb < 1 || mb > 100000)
      throw new InvalidArgumentError(`Expected an integer between 1 and 100000 for maxBuffered but received ${describe(mb)}`);
    this.#maxBuffered = mb;
    this.backpressure = this.#mode;
    this.maxBuffered = mb;
    this.#signal = expectSignal(opts.signal);
    const pose = opts.pose;
    if (pose === undefined) this.#poseAt = () => identity.pose;
    else if (typeof pose === 'function') {
      this.#poseAt = (i) => {
        const p = pose(i);
        return p === undefined ? identity.pose : toPoseMatrix(p, `pose(${i})`);
      };
    } else if (isSinglePose(pose)) {
      const p = toPoseMatrix(pose, 'pose');
      this.#poseAt = () => p;
    } else throw new InvalidArgumentError(`Expected a pose or a function of the frame index for pose but received ${describe(pose)}`);
    this.lookaheadSeconds = liveLookaheadSeconds(this.#fe);
    this.#onAbort = () => this.#fail(abortError(this.#signal!));
    if (this.#signal?.aborted) this.#fail(abortError(this.#signal));
    else this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  // ---------------------------------------------------------------- input

  /**
   * Appends mono samples at `sampleRate` (the same rate for the whole stream,
   * 8000 to 192000 Hz). The samples are copied. Resolves when the engine has
   * taken them (resampled, log-mel computed); never waits for the consumer
   * (see drain()). Rejects with InvalidArgumentError (not a Float32Array,
   * after end()), InputAudioError (a non-finite sample, counted from the start
   * of the stream: nothing of the chunk is kept and the stream goes on; a rate
   * outside the range, or another rate than the first push's), AbortError,
   * DisposedError (after close()), or the error that stopped the stream
   * (those two also reach the iterator and are marked handled).
   */
  push(samples: Float32Array, sampleRate: number): Promise<void> {
    // A stream that failed or was closed reports that through the iterator too:
    // such rejections are marked handled (awaiting still sees them).
    if (this.#error || this.#closed) return handled(Promise.reject(this.#error ?? new DisposedError('The live stream is closed: push() is not possible')));
    try {
      this.#checkOpen('push()');
      if (!(samples instanceof Float32Array))
        throw new InvalidArgumentError(`Expected a Float32Array of mono samples for samples but received ${describe(samples)}`);
      if (typeof sampleRate !== 'number' || !Number.isInteger(sampleRate))
        throw new InvalidArgumentError(`Expected an integer sample rate in Hz for sampleRate but received ${describe(sampleRate)}`);
      if (this.#rate !== undefined && sampleRate !== this.#rate)
        throw new InputAudioError(`Expected the stream's sample rate, ${this.#rate} Hz, for sampleRate but received ${sampleRate}: a live stream keeps the rate of its first push`);
      if (sampleRate < 8000 || sampleRate > 192000)
        throw new InputAudioError(`Expected a sample rate between 8000 and 192000 Hz for audio but received ${sampleRate}`);
      for (let i = 0; i < samples.length; ++i)
        if (!Number.isFinite(samples[i]))
          throw new InputAudioError(`Expected finite audio samples but received ${samples[i]} at index ${this.#samplesIn + i}`);
      if (this.#stream === undefined) {
        try {
          this.#stream = native().audioStreamCreate(this.#session._native(), sampleRate);
        } catch (err) {
          throw fromNative(err);
        }
        this.#rate = sampleRate;
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (samples.length === 0) return Promise.resolve();
    const now = performance.now();
    this.#firstPushAt ??= now;
    this.#samplesIn += samples.length;
    this.#arrivals.push({ end: this.#samplesIn, at: now });
    return handled(
      new Promise<void>((resolve, reject) => {
        this.#pending.push({ samples: samples.slice(), resolve, reject });
        this.#feed();
      }),
    );
  }

  /**
   * No more audio: flushes what was pushed, finishes the track and lets the
   * last frames render. Resolves with the number of frames of the video (as
   * prepareAudio's frameCount for the same audio) once the track is finished
   * (not when the frames are consumed: keep iterating). Idempotent. Rejects
   * with InputAudioError when no sample was pushed. Like pipeFrom's, its
   * rejection also reaches the iterator and need not be awaited.
   */
  end(): Promise<number> {
    if (this.#endPromise) return this.#endPromise;
    if (this.#error) return Promise.reject(this.#error);
    if (this.#closed) return Promise.reject(new DisposedError('The live stream is closed'));
    this.#ended = true;
    this.#endPromise = handled(this.#finish()); // also reported through the iterator
    return this.#endPromise;
  }

  /**
   * Resolves when the stream can take more audio without piling up frames:
   * every pushed chunk is in the engine and, in 'buffer' mode, at most
   * maxBuffered frames are waiting (ready, rendering or rendered). Rejects
   * when the stream failed.
   */
  drain(): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#drained()) return Promise.resolve();
    return new Promise((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }

  /**
   * Reads speech bytes from `source` (a Node Readable such as process.stdin,
   * a WHATWG ReadableStream, or an async iterable of byte chunks) and pushes
   * them as they arrive, awaiting drain() after each chunk (so in 'buffer'
   * mode a slow consumer slows the reading); then end() unless
   * `end: false`. format 'wav' (default) or raw 'f32le' / 's16le' with
   * sampleRate (and channels). A malformed stream fails the live stream too.
   * Resolves with the samples read and their rate. Its errors also reach the
   * iterator, so it need not be awaited (an unawaited rejection is not an
   * unhandled one).
   */
  pipeFrom(source: ByteSource, options?: DecodeAudioStreamOptions & { end?: boolean }): Promise<{ samples: number; sampleRate: number }> {
    return handled(this.#pipe(source, options));
  }

  async #pipe(source: ByteSource, options?: DecodeAudioStreamOptions & { end?: boolean }): Promise<{ samples: number; sampleRate: number }> {
    const { end = true, ...decode } = (options ?? {}) as DecodeAudioStreamOptions & { end?: boolean };
    let samples = 0;
    let rate = 0;
    try {
      for await (const chunk of decodeAudioStream(source, { ...decode, signal: decode.signal ?? this.#signal })) {
        await this.push(chunk.samples, chunk.sampleRate);
        samples += chunk.samples.length;
        rate = chunk.sampleRate;
        await this.drain();
      }
      if (end) await this.end();
    } catch (err) {
      // A read error of the source (not one of ours) is reported as bad audio input.
      const e = err instanceof S3DError ? err : new InputAudioError(`Cannot read the audio stream: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      this.#fail(e);
      throw e;
    }
    return { samples, sampleRate: rate };
  }

  #checkOpen(what: string): void {
    if (this.#error) throw this.#error;
    if (this.#closed) throw new DisposedError(`The live stream is closed: ${what} is not possible`);
    if (this.#ended) throw new InvalidArgumentError(`The live stream has ended: ${what} after end() is not possible`);
  }

  /** Sends pending chunks to the engine, one native push at a time (chunks waiting meanwhile are merged). */
  #feed(): void {
    if (this.#feeding) return;
    this.#feeding = true;
    this.#fed = (async () => {
      while (this.#pending.length > 0 && !this.#error && !this.#closed) {
        const batch = this.#pending.splice(0);
        let samples: Float32Array;
        if (batch.length === 1) samples = batch[0]!.samples;
        else {
          samples = new Float32Array(batch.reduce((n, c) => n + c.samples.length, 0));
          let o = 0;
          for (const c of batch) {
            samples.set(c.samples, o);
            o += c.samples.length;
          }
        }
        let status: NativeAudioStreamStatus;
        try {
          status = await this.#engine(async () => {
            if (this.#error || this.#closed) throw this.#error ?? new DisposedError('The live stream is closed');
            try {
              return await native().audioStreamPush(this.#stream!, samples);
            } catch (err) {
              throw fromNative(err);
            }
          });
        } catch (err) {
          for (const c of batch) c.reject(err);
          this.#fail(err);
          break;
        }
        this.#framesReady = Math.max(this.#framesReady, status.framesReady);
        for (const c of batch) c.resolve();
        this.#kick();
      }
      const err = this.#error ?? (this.#closed ? new DisposedError('The live stream is closed') : undefined);
      if (err) for (const c of this.#pending.splice(0)) c.reject(err);
      this.#feeding = false;
      this.#notifyDrain();
    })();
  }

  async #finish(): Promise<number> {
    while (this.#feeding || this.#pending.length > 0) await this.#fed;
    if (this.#error) throw this.#error;
    if (this.#closed) throw new DisposedError('The live stream is closed');
    if (this.#stream === undefined || this.#samplesIn === 0) {
      const err = new InputAudioError('Expected at least one audio sample before end() but received none');
      this.#fail(err);
      throw err;
    }
    const stream = this.#stream;
    try {
      this.#final = await this.#engine(async () => {
        try {
          return await native().audioStreamFinish(stream);
        } catch (err) {
          throw fromNative(err);
        }
      });
    } catch (err) {
      this.#fail(err);
      throw this.#error ?? err;
    }
    stream.dispose();
    this.#stream = undefined;
    if (this.#error || this.#closed) {
      this.#final.dispose();
      this.#final = undefined;
      throw this.#error ?? new DisposedError('The live stream is closed');
    }
    this.#frameCount = this.#final.frameCount;
    this.#framesReady = this.#frameCount;
    this.#kick();
    return this.#frameCount;
  }

  /** Runs an engine call through the session's queue, remembered until it has settled (see #rejectLater). */
  #engine<R>(task: () => Promise<R>): Promise<R> {
    const p = this.#session._queue.run(task, this.#signal);
    const settled = p.then(
      () => {},
      () => {},
    );
    this.#calls.add(settled);
    void settled.then(() => this.#calls.delete(settled));
    return p;
  }

  /** Resolves once no engine call of this stream is queued or running. */
  #idle(): Promise<void> {
    return Promise.all([...this.#calls]).then(() => {});
  }

  // --------------------------------------------------------------- render

  #kick(): void {
    this.#wantRender = true;
    if (this.#rendering) return;
    this.#rendering = true;
    void (async () => {
      try {
        while (this.#wantRender && !this.#error && !this.#closed) {
          this.#wantRender = false;
          await this.#renderAvailable();
        }
      } finally {
        this.#rendering = false;
        this.#wake();
        this.#notifyDrain();
      }
    })();
  }

  /** Frames that can be rendered now: [0, limit). */
  #limit(): number {
    return this.#frameCount ?? this.#framesReady;
  }

  #dropStale(): void {
    if (this.#mode !== 'drop') return;
    let waiting = this.#out.length + (this.#limit() - this.#next);
    while (waiting > this.#maxBuffered) {
      if (this.#out.length > 0) this.#out.shift();
      else this.#next++;
      this.#dropped++;
      waiting--;
    }
  }

  async #renderAvailable(): Promise<void> {
    for (;;) {
      if (this.#error || this.#closed) return;
      this.#dropStale();
      if (this.#next >= this.#limit()) return;
      if (this.#mode === 'buffer' && this.#out.length >= this.#maxBuffered) return; // the consumer takes one: #kick()
      const t = this.#next++;
      let frame: LiveFrameAny;
      try {
        frame = await this.#render(t);
      } catch (err) {
        this.#fail(err);
        return;
      }
      if (this.#error || this.#closed) return;
      this.#rendered++;
      this.#out.push(frame);
      this.#dropStale();
      this.#maxSeen = Math.max(this.#maxSeen, this.#out.length);
      this.#wake();
    }
  }

  async #render(t: number): Promise<LiveFrameAny> {
    const pose = this.#poseAt(t);
    const session = this.#session;
    const identity = this.#identity;
    const { rgb, renderMs } = await this.#engine(async () => {
      if (this.#error || this.#closed) throw this.#error ?? new DisposedError('The live stream is closed');
      let audio: NativeAudio;
      let window = false;
      try {
        if (this.#final) audio = this.#final;
        else {
          audio = native().audioStreamWindow(this.#stream!, t);
          window = true;
        }
      } catch (err) {
        throw fromNative(err);
      }
      const t0 = performance.now();
      let out: Float32Array;
      try {
        out = await native().renderFrame(session._native(), identity._handleFor(session), audio, t, pose);
      } catch (err) {
        throw fromNative(err);
      } finally {
        if (window) audio.dispose();
      }
      const ms = performance.now() - t0;
      // The columns no later frame needs are freed (memory stays bounded on long streams).
      if (!this.#final && this.#stream) native().audioStreamDiscard(this.#stream, Math.max(t + 1, this.#next));
      return { rgb: out, renderMs: ms };
    });
    this.#renderTimes.add(renderMs);
    const size = identity.size;
    return {
      width: size,
      height: size,
      channels: 3,
      data: this.#format === 'float32' ? rgb : toUint8(rgb),
      index: t,
      time: t / this.fps,
      latencyMs: 0,
      renderMs,
      dropped: 0,
    };
  }

  /** When the audio of frame t's own span had all arrived (performance.now()). */
  #spanArrival(t: number): number {
    const rate = this.#rate!;
    let need = Math.ceil(((t + 1) * rate) / this.fps);
    if (this.#ended) need = Math.min(need, this.#samplesIn);
    const a = this.#arrivals;
    // Entries only later frames need are kept; earlier ones are pruned here.
    let lo = 0;
    let hi = a.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid]!.end >= need) hi = mid;
      else lo = mid + 1;
    }
    const at = a[lo]?.at ?? performance.now();
    if (lo > 64) a.splice(0, lo);
    return at;
  }

  // --------------------------------------------------------------- output

  #done(): boolean {
    return this.#frameCount !== undefined && this.#next >= this.#frameCount && this.#out.length === 0 && !this.#rendering;
  }

  #take(): LiveFrameAny {
    const f = this.#out.shift()!;
    f.latencyMs = performance.now() - this.#spanArrival(f.index);
    f.dropped = this.#dropped;
    this.#latency.add(f.latencyMs);
    this.#delivered++;
    this.#kick();
    this.#notifyDrain();
    return f;
  }

  /** Rejects after the engine call in flight has returned (no native work is left running). */
  #rejectLater(reject: (e: unknown) => void): void {
    const err = this.#error!;
    void this.#idle().then(() => reject(err));
  }

  #wake(): void {
    const w = this.#waiter;
    if (!w) return;
    if (this.#error) {
      this.#waiter = undefined;
      this.#rejectLater(w.reject);
    } else if (this.#out.length > 0) {
      this.#waiter = undefined;
      w.resolve({ done: false, value: this.#take() as LiveFrame<T> });
    } else if (this.#closed || this.#done()) {
      this.#waiter = undefined;
      if (!this.#closed) this.#release(); // every frame delivered: free the track
      w.resolve({ done: true, value: undefined });
    }
  }

  #nextFrame(): Promise<IteratorResult<LiveFrame<T>>> {
    if (this.#waiter) return Promise.reject(new InvalidArgumentError('Expected one next() at a time on a live stream (await the previous one)'));
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
      this.#wake();
    });
  }

  /** The frames, as they are rendered (the same iterator as `for await (const f of live)`; a stream is iterated once). */
  frames(): AsyncIterableIterator<LiveFrame<T>> {
    if (this.#iterating) throw new InvalidArgumentError('A live stream can be iterated only once');
    this.#iterating = true;
    const it: AsyncIterableIterator<LiveFrame<T>> = {
      next: () => this.#nextFrame(),
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  [Symbol.asyncIterator](): AsyncIterator<LiveFrame<T>> {
    return this.frames();
  }

  #drained(): boolean {
    if (this.#error || this.#closed) return true;
    if (this.#feeding || this.#pending.length > 0) return false;
    if (this.#mode === 'drop') return true;
    const waiting = this.#out.length + Math.max(0, this.#limit() - this.#next);
    return waiting <= this.#maxBuffered;
  }

  #notifyDrain(): void {
    if (this.#drainWaiters.length === 0) return;
    if (this.#error) {
      const err = this.#error;
      for (const w of this.#drainWaiters.splice(0)) w.reject(err);
    } else if (this.#drained()) for (const w of this.#drainWaiters.splice(0)) w.resolve();
  }

  // ------------------------------------------------------------- stopping

  #fail(err: unknown): void {
    if (this.#error || this.#closed) return;
    this.#error = err instanceof Error ? err : new InputAudioError(String(err));
    this.#release();
    this.#wake();
    this.#notifyDrain();
  }

  #release(): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#out = [];
    const err = this.#error ?? new DisposedError('The live stream is closed');
    for (const c of this.#pending.splice(0)) c.reject(err);
    // Native handles: a call in flight keeps its own reference (cpp/napi).
    this.#stream?.dispose();
    this.#stream = undefined;
    this.#final?.dispose();
    this.#final = undefined;
  }

  /**
   * Stops the stream: no more rendering, pushes reject with DisposedError, the
   * iterator ends. Resolves once the engine call in flight has returned.
   * Breaking out of `for await` calls it.
   */
  async close(): Promise<void> {
    if (!this.#closed && !this.#error) {
      this.#closed = true;
      this.#release();
      this.#wake();
      this.#notifyDrain();
    }
    await this.#idle();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Counters and timings so far. */
  get stats(): LiveStats {
    const elapsed = this.#firstPushAt === undefined ? 0 : (performance.now() - this.#firstPushAt) / 1000;
    return {
      sampleRate: this.#rate,
      samplesPushed: this.#samplesIn,
      framesReady: this.#limit(),
      framesRendered: this.#rendered,
      framesDelivered: this.#delivered,
      framesDropped: this.#dropped,
      buffered: this.#out.length,
      maxBufferedSeen: this.#maxSeen,
      frameCount: this.#frameCount,
      latencyMs: this.#latency.summary(),
      renderMs: this.#renderTimes.summary(),
      framesPerSecond: elapsed > 0 ? this.#delivered / elapsed : 0,
      engineCalls: this.#calls.size,
    };
  }

  /** Frames of the video, known once end() has resolved. */
  get frameCount(): number | undefined {
    return this.#frameCount;
  }
}

/** @internal Implementation of Session.live. */
export function live(session: SessionCore, identity: Identity, options?: LiveOptions): LiveStream<Uint8Array | Float32Array> {
  if (options !== undefined) expectObject(options, 'options');
  return new LiveStream(session, identity, options);
}
