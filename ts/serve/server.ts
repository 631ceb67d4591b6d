// `s3d-nerf serve`: a local web page (web/) that turns a photo + speech into a
// talking-head video, played while it renders, with the mp4 to download.
//
// HTTP API (JSON errors: { error: "<one line>", code }):
//   GET  /, /app.js, /style.css   the page (files of the package, no CDN)
//   GET  /api/info                model, limits, queue
//   POST /api/photo[?aligned=1]   body: the photo (<= the upload limit: 413; PNG/JPEG/WebP/GIF/AVIF/TIFF
//                                 by magic bytes: 415); the face is found and encoded now (no face: 422
//                                 ERR_NO_FACE) -> 201 { id, width, height }
//   POST /api/jobs?photo=ID       -> 201 { id, events, audio, video }: a job waiting for its audio
//   GET  /api/jobs/ID/events      the job's event stream (./protocol.ts): queue position, preview
//                                 frames (JPEG) as they render, the end
//   PUT  /api/jobs/ID/audio       body: the speech (size 413, type 415 by magic bytes). WAV is decoded
//                                 as it arrives, so frames render while it uploads; compressed audio
//                                 (WebM/Opus from MediaRecorder, Ogg, MP3, M4A, FLAC...) is received
//                                 whole, then decoded by ffmpeg. Answers when the upload is in.
//   GET  /api/jobs/ID             the job's state (JSON)
//   GET  /api/jobs/ID/video.mp4   the finished video (H.264 + AAC)
//
// Renders run one at a time from a FIFO queue (a job joins it when its audio
// starts arriving); waiting jobs see their position. Photos (encoded
// identities) and finished videos expire after 30 minutes. Nothing a client
// sends can stop the server: every request handler catches its errors.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { ffmpegMissingReason, findFfmpeg, streamWithFfmpeg } from '../audio/ffmpeg.js';
import { AbortError, S3DError } from '../errors.js';
import { pasteBack } from '../face/paste-back.js';
import type { Identity } from '../identity.js';
import { MAX_INPUT_PIXELS } from '../image.js';
import type { LiveFrame } from '../live.js';
import { decodeAudioStream } from '../audio/pcm-stream.js';
import { packageRoot } from '../native.js';
import type { Frame } from '../render.js';
import type { Session } from '../session.js';
import { openLiveMp4Writer, type LiveMp4Sink } from '../video/live-mp4.js';
import { evenSized } from '../video/render-video.js';
import { frameMessage, jsonMessage, type JobEvent } from './protocol.js';
import { AUDIO_KINDS_TEXT, IMAGE_KINDS_TEXT, SNIFF_BYTES, describeStart, sniffAudio, sniffImage, type AudioKind } from './sniff.js';
import { Upload, UploadAbortedError, UploadTooLargeError } from './upload.js';

export interface ServeOptions {
  session: Session;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 8080; 0: any free port. */
  port?: number;
  /** Largest photo or audio upload in bytes (default 25 MiB). */
  maxUploadBytes?: number;
  /** Renders that may wait (queued or waiting for audio) besides the one running (default 16). */
  maxQueue?: number;
  /** One line per job (and per request with verbose). */
  log?: (line: string) => void;
  verbose?: boolean;
  /** Directory of index.html, app.js, style.css (default: the package's web/). */
  webRoot?: string;
}

export interface RunningServer {
  /** http://HOST:PORT/ */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Stops listening, aborts the renders, drops the connections, removes the videos. */
  close(): Promise<void>;
}

const DEFAULT_MAX_UPLOAD = 25 << 20;
const MAX_PHOTOS = 8;
const TTL_MS = 30 * 60_000;
const AUDIO_WAIT_MS = 2 * 60_000;
const MAX_FINISHED = 32;
const PREVIEW_SIDE = 512;

interface Photo {
  id: string;
  identity: Identity;
  width: number;
  height: number;
  aligned: boolean;
  refs: number;
  lastUsed: number;
}

type JobState = 'waiting' | 'queued' | 'running' | 'done' | 'failed';

interface Job {
  id: string;
  photo: Photo;
  state: JobState;
  controller: AbortController;
  upload?: Upload;
  audioKind?: AudioKind;
  viewers: Set<ServerResponse>;
  hadViewer: boolean;
  started?: Extract<JobEvent, { type: 'started' }>;
  total?: Extract<JobEvent, { type: 'total' }>;
  end?: Extract<JobEvent, { type: 'done' | 'error' }>;
  frames: number;
  video?: string;
  timer?: NodeJS.Timeout;
  createdAt: number;
  finishedAt?: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ').trim();

function errorCode(err: unknown): string {
  if (err instanceof S3DError) return err.code;
  if (err instanceof UploadTooLargeError) return 'ERR_TOO_LARGE';
  if (err instanceof UploadAbortedError) return 'ERR_UPLOAD_ABORTED';
  if (err instanceof HttpError) return err.code;
  return 'ERR_INTERNAL';
}

function errorMessage(err: unknown): string {
  return oneLine(err instanceof Error ? err.message : String(err));
}

const newId = (): string => randomBytes(9).toString('base64url');

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const s = new WebServer(options);
  return s.listen();
}

class WebServer {
  readonly #session: Session;
  readonly #host: string;
  readonly #port: number;
  readonly #maxUpload: number;
  readonly #maxQueue: number;
  readonly #log: (line: string) => void;
  readonly #verbose: boolean;
  readonly #static: Map<string, { type: string; body: Buffer }>;
  readonly #server: Server;
  #tmp = '';
  readonly #photos = new Map<string, Photo>();
  readonly #jobs = new Map<string, Job>();
  readonly #queue: Job[] = [];
  #active: Job | undefined;
  #activeRun: Promise<void> | undefined;
  #photoChain: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(o: ServeOptions) {
    this.#session = o.session;
    this.#host = o.host ?? '127.0.0.1';
    this.#port = o.port ?? 8080;
    this.#maxUpload = o.maxUploadBytes ?? DEFAULT_MAX_UPLOAD;
    this.#maxQueue = o.maxQueue ?? 16;
    this.#log = o.log ?? (() => {});
    this.#verbose = o.verbose ?? false;
    const web = o.webRoot ?? join(packageRoot, 'web');
    const file = (name: string, type: string): [string, { type: string; body: Buffer }] => [name, { type, body: readFileSync(join(web, name)) }];
    this.#static = new Map([
      file('index.html', 'text/html; charset=utf-8'),
      file('app.js', 'text/javascript; charset=utf-8'),
      file('style.css', 'text/css; charset=utf-8'),
    ]);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err) => this.#internal(req, res, err));
    });
    this.#server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  async listen(): Promise<RunningServer> {
    this.#tmp = await mkdtemp(join(tmpdir(), 's3d-serve-'));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(this.#port, this.#host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    }).catch(async (err) => {
      await rm(this.#tmp, { recursive: true, force: true });
      throw err;
    });
    this.#server.on('error', (err) => this.#log(`server error: ${errorMessage(err)}`));
    this.#sweeper = setInterval(() => this.#sweep(), 30_000);
    this.#sweeper.unref();
    const addr = this.#server.address() as AddressInfo;
    const hostText = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
    const self = this;
    return {
      url: `http://${hostText}:${addr.port}/`,
      host: addr.address,
      port: addr.port,
      close: () => self.close(),
    };
  }

  // --------------------------------------------------------------- routing

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    if (this.#verbose) res.on('finish', () => this.#log(`${req.method} ${req.url} ${res.statusCode} ${(performance.now() - t0).toFixed(0)} ms`));
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    try {
      this.#checkOrigin(req);
      if (this.#closing) throw new HttpError(503, 'The server is shutting down', 'ERR_SHUTTING_DOWN');
      if (path === '/' || path === '/index.html' || path === '/app.js' || path === '/style.css') {
        this.#allow(method, ['GET', 'HEAD']);
        req.resume();
        const f = this.#static.get(path === '/' ? 'index.html' : path.slice(1))!;
        res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': f.type, 'Content-Length': f.body.length, 'Content-Security-Policy': PAGE_CSP });
        res.end(method === 'HEAD' ? undefined : f.body);
        return;
      }
      if (path === '/favicon.ico') {
        req.resume();
        res.writeHead(204, SECURITY_HEADERS).end();
        return;
      }
      if (path === '/api/info') {
        this.#allow(method, ['GET']);
        req.resume();
        return this.#json(res, 200, this.#info());
      }
      if (path === '/api/photo') {
        this.#allow(method, ['POST', 'PUT']);
        return await this.#postPhoto(req, res, url);
      }
      if (path === '/api/jobs') {
        this.#allow(method, ['POST']);
        req.resume();
        return this.#postJob(res, url);
      }
      const m = /^\/api\/jobs\/([A-Za-z0-9_-]{1,32})(\/events|\/audio|\/video\.mp4)?$/.exec(path);
      if (m) {
        const job = this.#jobs.get(m[1]!);
        if (m[2] !== '/audio') req.resume();
        if (!job) throw new HttpError(404, `No job ${m[1]} (finished jobs are kept ${TTL_MS / 60_000} minutes)`, 'ERR_NOT_FOUND');
        if (m[2] === undefined) {
          this.#allow(method, ['GET']);
          return this.#json(res, 200, this.#jobState(job));
        }
        if (m[2] === '/events') {
          this.#allow(method, ['GET']);
          return this.#events(job, req, res);
        }
        if (m[2] === '/audio') {
          this.#allow(method, ['PUT', 'POST']);
          return await this.#putAudio(job, req, res);
        }
        this.#allow(method, ['GET', 'HEAD']);
        return await this.#video(job, req, res);
      }
      req.resume();
      throw new HttpError(404, `Not found: ${path}`, 'ERR_NOT_FOUND');
    } catch (err) {
      if (err instanceof HttpError) {
        req.resume();
        return this.#json(res, err.status, { error: err.message, code: err.code }, err.status === 405 ? { Allow: (err as HttpError & { allow?: string }).allow ?? '' } : undefined);
      }
      throw err;
    }
  }

  #allow(method: string, methods: string[]): void {
    if (!methods.includes(method)) {
      const e = new HttpError(405, `Method ${method} is not allowed here (${methods.join(', ')})`, 'ERR_METHOD') as HttpError & { allow?: string };
      e.allow = methods.join(', ');
      throw e;
    }
  }

  /**
   * No authentication, so on a loopback address only local names are accepted
   * as Host (DNS rebinding), and a browser request from another origin (a web
   * site posting to localhost) is refused.
   */
  #checkOrigin(req: IncomingMessage): void {
    const host = req.headers.host ?? '';
    const hostname = host.replace(/:\d+$/, '');
    if (isLoopbackHost(this.#host) && hostname && !isLoopbackHost(hostname))
      throw new HttpError(403, `Host ${JSON.stringify(host)} is not a local name (the server listens on ${this.#host})`, 'ERR_FORBIDDEN');
    const origin = req.headers.origin; // 'null' too: a sandboxed frame or a file:// page of any site
    if (origin) {
      let originHost = '';
      try {
        originHost = new URL(origin).host;
      } catch {
        /* not a URL */
      }
      if (originHost !== host) throw new HttpError(403, `Requests from ${origin} are not accepted`, 'ERR_FORBIDDEN');
    }
  }

  #json(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  #internal(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    this.#log(`error: ${req.method} ${req.url}: ${errorMessage(err)}`);
    if (!res.headersSent) this.#json(res, 500, { error: errorMessage(err), code: errorCode(err) });
    else res.destroy();
    req.resume();
  }

  /** A 413: the rest of the body is read and discarded (so the client sees the answer), then the connection closes. */
  #tooLarge(res: ServerResponse, err: UploadTooLargeError): void {
    this.#json(res, 413, { error: err.message, code: 'ERR_TOO_LARGE' }, { Connection: 'close' });
  }

  #info(): unknown {
    const active = this.#active;
    return {
      model: this.#session.modelPath,
      imageSize: this.#session.config.image_size,
      fps: this.#session.config.audio.fps,
      backend: this.#session.backend,
      threads: this.#session.threads,
      precision: this.#session.precision,
      maxUploadBytes: this.#maxUpload,
      ffmpeg: findFfmpeg() !== undefined,
      imageTypes: IMAGE_KINDS_TEXT,
      audioTypes: AUDIO_KINDS_TEXT,
      queue: { running: active ? 1 : 0, waiting: this.#queue.length },
    };
  }

  // ---------------------------------------------------------------- photos

  async #postPhoto(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const aligned = ['1', 'true', 'yes'].includes(url.searchParams.get('aligned') ?? '');
    const upload = new Upload(req, this.#maxUpload);
    let body: Buffer;
    try {
      body = await upload.all();
    } catch (err) {
      if (err instanceof UploadTooLargeError) return this.#tooLarge(res, err);
      return; // the client went away
    }
    const kind = sniffImage(body);
    if (!kind)
      throw new HttpError(415, `Expected a photo (${IMAGE_KINDS_TEXT}) but received ${describeStart(body)}`, 'ERR_UNSUPPORTED_TYPE');
    // One photo at a time: face detection runs on this thread.
    const run = this.#photoChain.then(() => this.#encodePhoto(body, aligned));
    this.#photoChain = run.catch(() => {});
    let photo: Photo;
    try {
      photo = await run;
    } catch (err) {
      if (err instanceof HttpError) throw err;
      const code = errorCode(err);
      // NoFaceError / InputImageError: their message names the input, here a Buffer: "the photo".
      if (code === 'ERR_NO_FACE' || code === 'ERR_INPUT_IMAGE') throw new HttpError(422, errorMessage(err).replace(/\bbuffer\b/, 'the photo'), code);
      throw err;
    }
    this.#log(`photo ${photo.id}: ${kind} ${photo.width}x${photo.height}${aligned ? ' (aligned crop)' : ''}, face encoded`);
    this.#json(res, 201, { id: photo.id, width: photo.width, height: photo.height, aligned, size: photo.identity.size });
  }

  async #encodePhoto(body: Buffer, aligned: boolean): Promise<Photo> {
    if (this.#closing) throw new HttpError(503, 'The server is shutting down', 'ERR_SHUTTING_DOWN');
    let image = body;
    let width: number;
    let height: number;
    try {
      const meta = await sharp(body, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
      const rotated = (meta.orientation ?? 1) >= 5;
      width = (rotated ? meta.height : meta.width) ?? 0;
      height = (rotated ? meta.width : meta.height) ?? 0;
      // Big photos are scaled down first: every frame is pasted back into the photo and encoded.
      if (!aligned && Math.max(width, height) > 1280) {
        const { data, info } = await sharp(body, { limitInputPixels: MAX_INPUT_PIXELS })
          .rotate()
          .resize({ width: 1280, height: 1280, fit: 'inside' })
          .png({ compressionLevel: 1 })
          .toBuffer({ resolveWithObject: true });
        image = data;
        width = info.width;
        height = info.height;
      }
    } catch (err) {
      throw new HttpError(422, `Cannot decode the photo: ${errorMessage(err)}`, 'ERR_INPUT_IMAGE');
    }
    this.#evictPhotos(MAX_PHOTOS - 1);
    if (this.#photos.size >= MAX_PHOTOS) throw new HttpError(503, 'Too many photos in use: try again when a render has finished', 'ERR_BUSY');
    const identity = await this.#session.encodeIdentity(image, aligned ? { aligned: true } : {});
    const photo: Photo = { id: newId(), identity, width, height, aligned, refs: 0, lastUsed: Date.now() };
    this.#photos.set(photo.id, photo);
    return photo;
  }

  /** Disposes unused photos, oldest first, until at most `keep` remain (and every expired one). */
  #evictPhotos(keep: number): void {
    const now = Date.now();
    const idle = [...this.#photos.values()].filter((p) => p.refs === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    let count = this.#photos.size;
    for (const p of idle) {
      if (count <= keep && now - p.lastUsed < TTL_MS) continue;
      this.#photos.delete(p.id);
      void p.identity.dispose().catch(() => {});
      count--;
    }
  }

  // ------------------------------------------------------------------ jobs

  #postJob(res: ServerResponse, url: URL): void {
    const photoId = url.searchParams.get('photo') ?? '';
    const photo = this.#photos.get(photoId);
    if (!photo) throw new HttpError(404, `No photo ${JSON.stringify(photoId)}: upload the photo first (photos are kept ${TTL_MS / 60_000} minutes)`, 'ERR_NOT_FOUND');
    const waiting = [...this.#jobs.values()].filter((j) => j.state === 'waiting' || j.state === 'queued').length;
    if (waiting >= this.#maxQueue) throw new HttpError(503, `Busy: ${waiting} renders are waiting; try again later`, 'ERR_BUSY');
    const job: Job = {
      id: newId(),
      photo,
      state: 'waiting',
      controller: new AbortController(),
      viewers: new Set(),
      hadViewer: false,
      frames: 0,
      createdAt: Date.now(),
    };
    photo.refs++;
    photo.lastUsed = Date.now();
    job.timer = setTimeout(() => this.#finish(job, new HttpError(408, `No audio arrived within ${AUDIO_WAIT_MS / 1000} s`, 'ERR_TIMEOUT')), AUDIO_WAIT_MS);
    job.timer.unref();
    this.#jobs.set(job.id, job);
    this.#pruneFinished();
    const base = `/api/jobs/${job.id}`;
    this.#json(res, 201, { id: job.id, events: `${base}/events`, audio: `${base}/audio`, video: `${base}/video.mp4` });
  }

  #jobState(job: Job): unknown {
    return {
      id: job.id,
      state: job.state,
      position: job.state === 'queued' ? this.#queue.indexOf(job) + 1 : undefined,
      frames: job.frames,
      total: job.total?.frames,
      audio: job.audioKind,
      video: job.state === 'done' && job.video ? `/api/jobs/${job.id}/video.mp4` : null,
      error: job.end?.type === 'error' ? { code: job.end.code, message: job.end.message } : undefined,
    };
  }

  #send(job: Job, event: JobEvent): void {
    if (job.viewers.size === 0) return;
    const msg = jsonMessage(event);
    for (const v of job.viewers) if (!v.destroyed) v.write(msg);
  }

  #events(job: Job, req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'application/octet-stream', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    const snapshot: JobEvent[] = [];
    if (job.state === 'waiting') snapshot.push({ type: 'waiting' });
    else if (job.state === 'queued') snapshot.push(this.#queuedEvent(job));
    if (job.started) snapshot.push(job.started);
    if (job.total) snapshot.push(job.total);
    if (job.end) snapshot.push(job.end);
    for (const e of snapshot) res.write(jsonMessage(e));
    if (job.end) {
      res.end();
      return;
    }
    job.viewers.add(res);
    job.hadViewer = true;
    res.on('close', () => {
      job.viewers.delete(res);
      // The page that asked for this render is gone (closed, reloaded): stop it.
      if (job.viewers.size === 0 && !job.end) this.#abort(job, 'The viewer disconnected');
    });
  }

  #queuedEvent(job: Job): Extract<JobEvent, { type: 'queued' }> {
    const i = this.#queue.indexOf(job);
    return { type: 'queued', position: i + 1, ahead: i + (this.#active ? 1 : 0) };
  }

  #broadcastPositions(): void {
    for (const j of this.#queue) this.#send(j, this.#queuedEvent(j));
  }

  async #putAudio(job: Job, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (job.state !== 'waiting' || job.upload) {
      req.resume();
      throw new HttpError(409, job.end ? `The job has ended (${job.state})` : 'The job already has its audio', 'ERR_CONFLICT');
    }
    const upload = new Upload(req, this.#maxUpload);
    job.upload = upload;
    clearTimeout(job.timer);
    let kind: AudioKind | undefined;
    try {
      const head = await upload.head(SNIFF_BYTES);
      kind = sniffAudio(head);
      if (!kind) throw new HttpError(415, `Expected speech audio (${AUDIO_KINDS_TEXT}) but received ${describeStart(head)}`, 'ERR_UNSUPPORTED_TYPE');
      if (kind !== 'wav' && !findFfmpeg())
        throw new HttpError(415, `Cannot decode ${kind} audio: ${ffmpegMissingReason()}; upload a WAV file`, 'ERR_UNSUPPORTED_TYPE');
    } catch (err) {
      const e = err instanceof UploadTooLargeError || err instanceof HttpError ? err : undefined;
      this.#finish(job, err);
      if (err instanceof UploadTooLargeError) return this.#tooLarge(res, err);
      if (e) return this.#json(res, (e as HttpError).status, { error: e.message, code: errorCode(e) });
      return; // the client went away
    }
    job.audioKind = kind;
    this.#enqueue(job);
    try {
      const bytes = await upload.finished;
      const end = job.end as JobEvent | undefined; // set meanwhile by #finish
      if (end?.type === 'error') return this.#json(res, 422, { error: end.message, code: end.code });
      this.#json(res, 200, { bytes, kind, state: job.state });
    } catch (err) {
      // Too large, or broken off: a queued job ends here; a running one fails by itself (its reader gets the same error).
      if (!job.end && (job.state as JobState) !== 'running') this.#finish(job, err);
      if (err instanceof UploadTooLargeError) return this.#tooLarge(res, err);
      const end = job.end as JobEvent | undefined;
      if (end?.type === 'error') return this.#json(res, end.code === 'ERR_ABORTED' ? 409 : 422, { error: end.message, code: end.code });
    }
  }

  #enqueue(job: Job): void {
    job.state = 'queued';
    this.#queue.push(job);
    this.#broadcastPositions();
    this.#pump();
  }

  #pump(): void {
    if (this.#active || this.#closing) return;
    const job = this.#queue.shift();
    if (!job) return;
    this.#active = job;
    job.state = 'running';
    this.#broadcastPositions();
    this.#activeRun = this.#run(job)
      .then(
        (done) => this.#finish(job, undefined, done),
        (err) => this.#finish(job, err),
      )
      .finally(() => {
        this.#active = undefined;
        this.#activeRun = undefined;
        this.#pump();
      });
  }

  #abort(job: Job, why: string): void {
    if (job.end) return;
    const err = new AbortError(`The render was stopped: ${why}`);
    job.controller.abort(err);
    if (job.state !== 'running') this.#finish(job, err);
  }

  /** Ends a job (with `done` when it rendered, else `err`): events, queue, photo reference. */
  #finish(job: Job, err?: unknown, done?: Extract<JobEvent, { type: 'done' }>): void {
    if (job.end) return;
    clearTimeout(job.timer);
    const i = this.#queue.indexOf(job);
    if (i >= 0) {
      this.#queue.splice(i, 1);
      this.#broadcastPositions();
    }
    job.finishedAt = Date.now();
    job.photo.refs--;
    job.photo.lastUsed = Date.now();
    if (done) {
      job.state = 'done';
      job.end = done;
    } else {
      job.state = 'failed';
      const code = err instanceof AbortError ? 'ERR_ABORTED' : errorCode(err);
      const message = err instanceof AbortError && err.message === 'The operation was aborted' && job.controller.signal.reason instanceof Error
        ? errorMessage(job.controller.signal.reason)
        : errorMessage(err);
      job.end = { type: 'error', code, message };
      job.upload?.discard(new HttpError(422, message, code));
      this.#log(`job ${job.id}: failed: ${message}`);
    }
    this.#send(job, job.end);
    for (const v of job.viewers) v.end();
    job.viewers.clear();
  }

  async #run(job: Job): Promise<Extract<JobEvent, { type: 'done' }>> {
    const t0 = performance.now();
    const signal = job.controller.signal;
    const identity = job.photo.identity;
    const face = identity.face;
    const width = face ? face.photo.width & ~1 : identity.size;
    const height = face ? face.photo.height & ~1 : identity.size;
    const scale = Math.min(1, PREVIEW_SIDE / Math.max(width, height));
    const pw = Math.max(1, Math.round(width * scale));
    const ph = Math.max(1, Math.round(height * scale));
    const live = this.#session.live(identity, { signal });
    const fps = live.fps;
    job.started = { type: 'started', width, height, previewWidth: pw, previewHeight: ph, fps, audio: job.audioKind! };
    this.#send(job, job.started);

    const ffmpeg = findFfmpeg();
    const out = join(this.#tmp, `${job.id}.mp4`);
    const mp4: LiveMp4Sink | undefined = ffmpeg ? openLiveMp4Writer({ out, fps, preset: 'veryfast', ffmpeg: ffmpeg.path }) : undefined;
    const upload = job.upload!;
    // Speech in: decoded as it arrives, teed into the mp4's audio, pushed into
    // the live stream, paced by drain() (what live.pipeFrom() does, plus the tee).
    const push = async (samples: Float32Array, rate: number): Promise<void> => {
      await mp4?.writeAudio(samples, rate);
      await live.push(samples, rate);
      await live.drain();
    };
    const feeding = (async () => {
      if (job.audioKind === 'wav') {
        for await (const c of decodeAudioStream(upload, { signal })) await push(c.samples, c.sampleRate);
      } else {
        const bytes = await upload.all(); // containers like mp4/m4a need to seek: decoded once complete
        let rate = 0;
        await streamWithFfmpeg(bytes, { start: (r) => void (rate = r), write: (samples) => push(samples, rate) }, { signal, label: `the uploaded ${job.audioKind} audio` });
      }
      const frames = await live.end();
      job.total = { type: 'total', frames, duration: frames / fps };
      this.#send(job, job.total);
      return frames;
    })();
    let feedError: unknown;
    feeding.catch((err) => {
      feedError = err;
      void live.close();
    });
    try {
      for await (const f of live as AsyncIterable<LiveFrame<Uint8Array>>) {
        const frame: Frame<Uint8Array> = face ? evenSized(pasteBack(identity, f), width, height) : f;
        await mp4?.write(frame);
        job.frames = f.index + 1;
        await this.#preview(job, frame, f.index, pw, ph);
      }
      if (feedError !== undefined) throw feedError;
      const frames = await feeding;
      let video: string | null = null;
      let videoError: string | undefined;
      if (mp4) {
        await mp4.finish();
        job.video = out;
        video = `/api/jobs/${job.id}/video.mp4`;
      } else videoError = `no mp4: ${ffmpegMissingReason()}`;
      const seconds = (performance.now() - t0) / 1000;
      this.#log(`job ${job.id}: ${frames} frames (${(frames / fps).toFixed(2)} s of ${job.audioKind}) in ${seconds.toFixed(1)} s`);
      return { type: 'done', frames, duration: frames / fps, seconds, video, ...(videoError ? { videoError } : {}) };
    } catch (err) {
      await mp4?.abort();
      await live.close();
      throw feedError ?? err;
    }
  }

  /** Sends a JPEG of the frame to the viewers that keep up (a viewer whose socket is full skips frames). */
  async #preview(job: Job, frame: Frame<Uint8Array>, index: number, pw: number, ph: number): Promise<void> {
    const viewers = [...job.viewers].filter((v) => !v.destroyed && !v.writableNeedDrain);
    if (viewers.length === 0) return;
    let img = sharp(Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength), { raw: { width: frame.width, height: frame.height, channels: 3 } });
    if (pw !== frame.width || ph !== frame.height) img = img.resize(pw, ph);
    const jpeg = await img.jpeg({ quality: 80 }).toBuffer();
    const msg = frameMessage(index, pw, ph, jpeg);
    for (const v of viewers) if (!v.destroyed) v.write(msg);
  }

  async #video(job: Job, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (job.state !== 'done' || !job.video)
      throw new HttpError(404, job.state === 'done' ? 'This render has no mp4 (no ffmpeg)' : `The video is not ready (the job is ${job.state})`, 'ERR_NOT_READY');
    let size: number;
    try {
      size = (await stat(job.video)).size;
    } catch {
      throw new HttpError(404, 'The video has expired', 'ERR_NOT_FOUND');
    }
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': 'video/mp4',
      'Content-Length': size,
      'Content-Disposition': `attachment; filename="talking-head-${job.id}.mp4"`,
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(job.video);
    stream.on('error', () => res.destroy());
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  }

  // ---------------------------------------------------------- housekeeping

  #pruneFinished(): void {
    const now = Date.now();
    const finished = [...this.#jobs.values()].filter((j) => j.end && j.finishedAt !== undefined).sort((a, b) => a.finishedAt! - b.finishedAt!);
    let extra = finished.length - MAX_FINISHED;
    for (const j of finished) {
      if (extra <= 0 && now - j.finishedAt! < TTL_MS) continue;
      this.#jobs.delete(j.id);
      if (j.video) void rm(j.video, { force: true }).catch(() => {});
      extra--;
    }
  }

  #sweep(): void {
    this.#pruneFinished();
    this.#evictPhotos(MAX_PHOTOS);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#sweeper);
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const job of this.#jobs.values()) this.#abort(job, 'the server is shutting down');
      await this.#activeRun?.catch(() => {});
      for (const job of this.#jobs.values()) for (const v of job.viewers) v.destroy();
      this.#server.closeAllConnections();
      await closed;
      await this.#photoChain.catch(() => {});
      for (const p of this.#photos.values()) await p.identity.dispose().catch(() => {});
      this.#photos.clear();
      this.#jobs.clear();
      if (this.#tmp) await rm(this.#tmp, { recursive: true, force: true });
    })();
    return this.#closing;
  }
}
