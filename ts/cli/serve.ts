// s3d-nerf serve: the local web page (ts/serve/server.ts, web/).
//
//   s3d-nerf serve [--port N] [--host 127.0.0.1] [--model P] [--threads N] [--max-upload-mb N]
//
// Prints the URL, serves until SIGINT/SIGTERM, then shuts down cleanly (the
// render in progress is stopped, connections dropped, temporary videos removed).
import { createSessionWith, type BackendChoice, type Precision } from '../session.js';
import { startServer } from '../serve/server.js';
import { intOption, parseOptions } from './args.js';

const NAME = 's3d-nerf';

export const SERVE_HELP = `usage: ${NAME} serve [--port N] [--host ADDR] [--model PATH] [--threads N] [--max-upload-mb N]

A local web page: drop a portrait photo, upload speech or record it with the
microphone, watch the talking head while it renders, download the mp4.

  --port N             TCP port (default 8080; 0: any free port)
  --host ADDR          address to listen on (default 127.0.0.1, this machine
                       only; there is no authentication: expose it with care)
  --max-upload-mb N    largest photo or audio upload in MiB (default 25)

model and engine:
  --model PATH         .safetensors model (default: the bundled weights)
  --backend B          auto (default), cpu or cuda
  --threads N          CPU worker threads (default: one per core)
  --precision P        fast (default: bf16 products where the CPU has AVX512-BF16) or exact (fp32)

  --quiet              only the URL line
  --verbose            one line per request, and stack traces on errors
  -h, --help           show this help

Renders run one at a time; other requests wait in a queue and see their
position. Audio: WAV (rendered while it uploads), or WebM/Opus, Ogg, MP3, M4A,
FLAC... through ffmpeg. Ctrl-C stops the server (exit status 0).
`;

export interface ServeArgs {
  port: number;
  host: string;
  model: string | undefined;
  backend: BackendChoice | undefined;
  threads: number | undefined;
  precision: Precision | undefined;
  maxUploadMb: number;
  quiet: boolean;
  verbose: boolean;
}

export interface ServeIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  signal?: AbortSignal;
}

export function parseServe(argv: string[], usage: (msg: string) => Error): ServeArgs | 'help' {
  const v = parseOptions(argv, {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    model: { type: 'string' },
    backend: { type: 'string' },
    threads: { type: 'string' },
    precision: { type: 'string' },
    'max-upload-mb': { type: 'string' },
    quiet: { type: 'boolean', short: 'q', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  }, usage);
  if (v.help) return 'help';
  const int = (name: 'port' | 'threads', min: number, max: number) => intOption(v[name], name, min, max, usage);
  let maxUploadMb = 25;
  const mb = v['max-upload-mb'];
  if (mb !== undefined) {
    const n = Number(mb);
    if (mb.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 4096) throw usage(`--max-upload-mb must be a number of MiB in (0, 4096], got ${JSON.stringify(mb)}`);
    maxUploadMb = n;
  }
  const backend = v.backend;
  if (backend !== undefined && !['auto', 'cpu', 'cuda'].includes(backend))
    throw usage(`--backend must be auto, cpu or cuda, got ${JSON.stringify(backend)}`);
  const precision = v.precision;
  if (precision !== undefined && !['fast', 'exact'].includes(precision))
    throw usage(`--precision must be fast or exact, got ${JSON.stringify(precision)}`);
  const host = v.host ?? '127.0.0.1';
  if (host.trim() === '') throw usage('--host must not be empty');
  return {
    port: int('port', 0, 65535) ?? 8080,
    host,
    model: v.model,
    backend: backend as BackendChoice | undefined,
    precision: precision as Precision | undefined,
    threads: int('threads', 1, 1024),
    maxUploadMb,
    quiet: v.quiet!,
    verbose: v.verbose!,
  };
}

/** Serves until io.signal aborts (Ctrl-C); resolves after a clean shutdown. */
export async function runServe(args: ServeArgs, io: ServeIo): Promise<void> {
  const signal = io.signal;
  const log = (line: string): void => {
    if (!args.quiet) io.stderr.write(`${NAME}: serve: ${line}\n`);
  };
  const session = await createSessionWith(
    { model: args.model, backend: args.backend, threads: args.threads, precision: args.precision, signal },
    { onCudaFallback: (reasons) => args.verbose && log(`CUDA not used (${reasons.join('; ')}); using the CPU`) },
  );
  try {
    if (signal?.aborted) return;
    const server = await startServer({
      session,
      host: args.host,
      port: args.port,
      maxUploadBytes: Math.floor(args.maxUploadMb * 1024 * 1024),
      log,
      verbose: args.verbose,
    }).catch((err: NodeJS.ErrnoException) => {
      if (err?.code === 'EADDRINUSE') throw new Error(`cannot listen on ${args.host}:${args.port}: the port is in use (choose another with --port)`);
      if (err?.code === 'EADDRNOTAVAIL' || err?.code === 'ENOTFOUND') throw new Error(`cannot listen on ${args.host}: not an address of this machine`);
      if (err?.code === 'EACCES') throw new Error(`cannot listen on ${args.host}:${args.port}: permission denied (ports below 1024 need privileges)`);
      throw err;
    });
    io.stdout.write(`${NAME} serve: ${server.url}  (model ${session.config.image_size}px, ${session.threads} threads; Ctrl-C to stop)\n`);
    const loopback = /^(127\.|::1$|localhost$)/.test(args.host);
    if (!loopback) log(`listening on ${args.host}: anyone who can reach this address can use it (no authentication)`);
    await new Promise<void>((resolve) => {
      if (!signal) return; // serves until the process ends
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    log('stopping');
    await server.close();
    log('stopped');
  } finally {
    await session.dispose();
  }
}
