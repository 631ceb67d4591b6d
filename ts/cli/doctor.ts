// `s3d-nerf doctor`: what this installation can run, and why not when it cannot.
//
// Prints the package version, Node + N-API, the native binary node-gyp-build
// loaded (prebuild or source build, path, reason), CPU features and the kernel
// ISA in use, CUDA status with every reason it is unusable, the default (or
// --model) model's config and provenance, and a 1-frame timing per usable
// backend (a synthetic aligned face + 1 s of synthetic audio, so nothing but the
// package itself is needed). --backend cpu|cuda|auto: exit 1 when the requested
// backend is unusable. --json: one JSON object on stdout.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { parseModelConfig, type ModelConfig } from '../config.js';
import { native, nativeBinaryInfo, packageRoot, type NativeBinaryInfo, type NativeCpuFeatures } from '../native.js';
import { cudaDiagnostics, cudaVersionText, type CudaDiagnostics } from '../cuda.js';
import { readSafetensorsHeader } from '../safetensors.js';
import { createSession, DEFAULT_MODEL, type BackendChoice } from '../session.js';
import { parseOptions } from './args.js';

const NAME = 's3d-nerf';

export const DOCTOR_HELP = `usage: ${NAME} doctor [--backend auto|cpu|cuda] [--model PATH] [--json]

Checks this installation: package and Node versions, which native binary was
loaded and why (prebuilt or compiled from source), CPU features and the kernel
ISA in use, CUDA status (with every reason it cannot be used), the model's
configuration and whether it is trained, and the time to encode a face and
render one frame on each usable backend (synthetic input).

  --backend B   the backend that must be usable: auto (default: any), cpu or cuda;
                exit status 1 when it is not
  --model PATH  .safetensors model to check (default: the bundled weights)
  --json        print one JSON object instead of text
  -h, --help    show this help
`;

export interface DoctorArgs {
  backend: BackendChoice;
  model: string | undefined;
  json: boolean;
}

export interface BackendStatus {
  usable: boolean;
  /** Every reason it is not usable (empty when usable). */
  reasons: string[];
}

export interface CudaStatus extends BackendStatus {
  /** The s3d_cuda plugin library this package would load, when there is one. */
  plugin: string | null;
  /** /dev/nvidia* device nodes visible to this process. */
  devices: string[];
  /** libcuda.so.1 (the NVIDIA driver's CUDA library) found on the library path. */
  libcuda: string | null;
  /** From /proc/driver/nvidia/version. */
  driverVersion: string | null;
  /** The plugin's own probe (cudaDiagnostics()): versions, device, cuBLAS/cuDNN, stages. */
  diagnostics: CudaDiagnostics;
}

export interface ModelSummary {
  path: string;
  bytes: number;
  name: string | null;
  parameters: number | null;
  imageSize: number | null;
  renderSize: number | null;
  fps: number | null;
  audio: string | null;
  format: string | null;
  trained: boolean | null;
  provenance: Record<string, unknown> | null;
  error?: string;
}

export interface DoctorReport {
  package: { name: string; version: string; root: string };
  node: { version: string; napi: string; platform: string; arch: string; libc: string };
  native: (NativeBinaryInfo & { error?: undefined }) | { loaded: false; error: string };
  cpu: (NativeCpuFeatures & { cap: string }) | null;
  backends: { cpu: BackendStatus; cuda: CudaStatus };
  model: ModelSummary;
  /** One-frame timings per usable backend, milliseconds. */
  timings: Partial<Record<'cpu' | 'cuda', { threads: number; loadMs: number; encodeIdentityMs: number; renderFrameMs: number; input: string } | { error: string }>>;
  requested: BackendChoice;
  /** The backend 'auto' (or the requested one) resolves to, when usable. */
  selected: 'cpu' | 'cuda' | null;
  ok: boolean;
}

export function parseDoctor(argv: string[], usageError: (msg: string) => Error): DoctorArgs | 'help' {
  const v = parseOptions(argv, {
    backend: { type: 'string' },
    model: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
  }, usageError);
  if (v.help) return 'help';
  const backend = v.backend ?? 'auto';
  if (!['auto', 'cpu', 'cuda'].includes(backend)) throw usageError(`--backend must be auto, cpu or cuda, got ${JSON.stringify(backend)}`);
  return { backend: backend as BackendChoice, model: v.model, json: v.json! };
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ').trim();
}

function libcName(): string {
  if (process.platform !== 'linux') return process.platform;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ? `glibc ${header.glibcVersionRuntime}` : 'musl';
}

/** Directories the dynamic loader searches for libcuda.so.1 (approximately: LD_LIBRARY_PATH, ld.so.conf, the usual places). */
function libraryDirs(): string[] {
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(delimiter).filter(Boolean);
  const conf = (file: string, depth: number): void => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return;
    }
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      if (!line) continue;
      if (line.startsWith('include ') && depth < 2) {
        const pattern = line.slice(8).trim();
        const dir = pattern.slice(0, pattern.lastIndexOf('/'));
        try {
          for (const f of readdirSync(dir)) if (f.endsWith('.conf')) conf(join(dir, f), depth + 1);
        } catch {
          // no such folder
        }
      } else if (line.startsWith('/')) dirs.push(line);
    }
  };
  conf('/etc/ld.so.conf', 0);
  dirs.push('/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/lib', '/usr/lib/wsl/lib');
  return [...new Set(dirs)];
}

/**
 * CUDA status: the s3d_cuda plugin's own probe (cudaDiagnostics(): plugin path,
 * driver/runtime versions, device, cuBLAS/cuDNN, engine stages, every reason)
 * plus independent driver probes (device nodes, libcuda, /proc driver version)
 * that work even when the plugin is missing.
 */
export async function cudaStatus(_version: string): Promise<CudaStatus> {
  const diagnostics = await cudaDiagnostics();
  const reasons: string[] = [...diagnostics.reasons];
  const plugin: string | null = diagnostics.pluginLoaded ? diagnostics.pluginPath : null;

  let devices: string[] = [];
  if (process.platform === 'linux') {
    try {
      devices = readdirSync('/dev')
        .filter((n) => /^nvidia(\d+|ctl|-uvm)$/.test(n))
        .map((n) => `/dev/${n}`);
    } catch {
      devices = [];
    }
  }
  if (!devices.some((d) => /^\/dev\/nvidia\d+$/.test(d))) reasons.push('no NVIDIA GPU device node (/dev/nvidia0, ...) is visible to this process');

  let libcuda: string | null = null;
  if (process.platform === 'linux') {
    for (const dir of libraryDirs()) {
      const f = join(dir, 'libcuda.so.1');
      if (existsSync(f)) {
        libcuda = f;
        break;
      }
    }
    if (!libcuda) reasons.push('the NVIDIA driver library libcuda.so.1 was not found (LD_LIBRARY_PATH, /etc/ld.so.conf, /usr/lib*)');
  } else reasons.push(`CUDA is only planned for Linux (this is ${process.platform})`);

  let driverVersion: string | null = null;
  try {
    driverVersion = readFileSync('/proc/driver/nvidia/version', 'utf8').split('\n')[0]!.trim() || null;
  } catch {
    driverVersion = null;
  }
  // With a working plugin these are implied by its probe; without one they say what the machine lacks.
  if (diagnostics.device) reasons.splice(0, reasons.length, ...diagnostics.reasons);
  return { usable: diagnostics.usable && reasons.length === 0, reasons, plugin, devices, libcuda, driverVersion, diagnostics };
}

/** Reads a .safetensors header only: metadata (config, provenance) and the parameter count. */
async function modelSummary(path: string): Promise<ModelSummary> {
  const s: ModelSummary = {
    path,
    bytes: 0,
    name: null,
    parameters: null,
    imageSize: null,
    renderSize: null,
    fps: null,
    audio: null,
    format: null,
    trained: null,
    provenance: null,
  };
  try {
    s.bytes = (await stat(path)).size;
    const header = (await readSafetensorsHeader(path)).header as Record<string, { shape?: number[] } | Record<string, string>>;
    let params = 0;
    for (const [k, t] of Object.entries(header)) {
      if (k === '__metadata__') continue;
      const shape = (t as { shape?: number[] }).shape ?? [];
      params += shape.reduce((a, b) => a * b, 1);
    }
    s.parameters = params;
    const meta = (header.__metadata__ ?? {}) as Record<string, string>;
    s.format = meta.format ? `${meta.format} v${meta.format_version ?? '?'}` : null;
    if (meta.config) {
      const c: ModelConfig = parseModelConfig(meta.config);
      s.name = c.name;
      s.imageSize = c.image_size;
      s.renderSize = c.render_size;
      s.fps = c.audio.fps;
      s.audio = `${c.audio.kind} ${c.audio.n_mels} bins, ${c.audio.sample_rate} Hz, ${c.audio.window_frames}-frame window`;
    }
    if (meta.provenance) {
      const p = JSON.parse(meta.provenance) as Record<string, unknown>;
      s.provenance = p;
      s.trained = typeof p.trained === 'boolean' ? p.trained : null;
    }
  } catch (err) {
    s.error = message(err);
  }
  return s;
}

/** Synthetic aligned face crop: a smooth skin-toned gradient with darker eyes and mouth. */
function syntheticFace(size: number): { data: Uint8Array; width: number; height: number; channels: 3 } {
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; ++y) {
    for (let x = 0; x < size; ++x) {
      const u = x / size - 0.5;
      const v = y / size - 0.5;
      const face = u * u / 0.12 + v * v / 0.2 < 1;
      const feature = face && ((Math.abs(v + 0.08) < 0.03 && Math.abs(Math.abs(u) - 0.12) < 0.05) || (Math.abs(v - 0.2) < 0.025 && Math.abs(u) < 0.1));
      const i = (y * size + x) * 3;
      const base = face ? [205, 160, 135] : [60 + 80 * (y / size), 70, 90];
      const k = feature ? 0.35 : 1;
      data[i] = Math.round(base[0]! * k);
      data[i + 1] = Math.round(base[1]! * k);
      data[i + 2] = Math.round(base[2]! * k);
    }
  }
  return { data, width: size, height: size, channels: 3 };
}

/** 1 s of a voiced-like synthetic signal at 16 kHz. */
function syntheticSpeech(): { samples: Float32Array; sampleRate: number } {
  const rate = 16000;
  const samples = new Float32Array(rate);
  for (let i = 0; i < rate; ++i) {
    const t = i / rate;
    const env = 0.5 + 0.5 * Math.sin(2 * Math.PI * 3 * t);
    samples[i] = 0.3 * env * (Math.sin(2 * Math.PI * 140 * t) + 0.5 * Math.sin(2 * Math.PI * 700 * t) + 0.25 * Math.sin(2 * Math.PI * 1200 * t));
  }
  return { samples, sampleRate: rate };
}

async function timeCpu(modelPath: string): Promise<NonNullable<DoctorReport['timings']['cpu']>> {
  try {
    const t0 = performance.now();
    const session = await createSession({ model: modelPath, backend: 'cpu' });
    try {
      const t1 = performance.now();
      const size = session.config.image_size;
      const identity = await session.encodeIdentity(syntheticFace(size), { aligned: true });
      const t2 = performance.now();
      const audio = await session.prepareAudio(syntheticSpeech());
      const t3 = performance.now();
      await session.renderFrame(identity, { audio, frame: 0 });
      const t4 = performance.now();
      return {
        threads: session.threads,
        loadMs: Math.round(t1 - t0),
        encodeIdentityMs: Math.round(t2 - t1),
        renderFrameMs: Math.round(t4 - t3),
        input: `synthetic aligned ${size}x${size} face, 1 s synthetic audio, frame 0`,
      };
    } finally {
      await session.dispose();
    }
  } catch (err) {
    return { error: message(err) };
  }
}

export async function doctorReport(args: DoctorArgs, pkg: { name: string; version: string }): Promise<DoctorReport> {
  const report: DoctorReport = {
    package: { name: pkg.name, version: pkg.version, root: packageRoot },
    node: {
      version: process.version,
      napi: process.versions.napi ?? 'unknown',
      platform: process.platform,
      arch: process.arch,
      libc: libcName(),
    },
    native: { loaded: false, error: 'not loaded' },
    cpu: null,
    backends: { cpu: { usable: false, reasons: [] }, cuda: await cudaStatus(pkg.version) },
    model: await modelSummary(args.model === undefined ? join(packageRoot, DEFAULT_MODEL) : isAbsolute(args.model) ? args.model : resolve(args.model)),
    timings: {},
    requested: args.backend,
    selected: null,
    ok: false,
  };

  try {
    native();
    report.native = nativeBinaryInfo();
    report.cpu = native().cpuFeatures();
  } catch (err) {
    report.native = { loaded: false, error: message(err) };
    report.backends.cpu.reasons.push(`the native addon cannot be loaded: ${message(err)}`);
  }
  if (report.model.error) report.backends.cpu.reasons.push(`the model cannot be read: ${report.model.error}`);

  if (report.native.loaded && !report.model.error) {
    const t = await timeCpu(report.model.path);
    report.timings.cpu = t;
    if ('error' in t) report.backends.cpu.reasons.push(`a 1-frame test render failed: ${t.error}`);
  }
  report.backends.cpu.usable = report.backends.cpu.reasons.length === 0;
  // CUDA timing: added with the CUDA plugin (its backend is never usable today).

  const usable = (b: 'cpu' | 'cuda'): boolean => report.backends[b].usable;
  if (args.backend === 'auto') report.selected = usable('cuda') ? 'cuda' : usable('cpu') ? 'cpu' : null;
  else report.selected = usable(args.backend) ? args.backend : null;
  report.ok = report.selected !== null;
  return report;
}

function fmtParams(n: number | null): string {
  if (n === null) return '?';
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(1)} k`;
}

export function formatDoctor(r: DoctorReport): string {
  const lines: string[] = [];
  const row = (k: string, v: string): void => {
    lines.push(`${k.padEnd(13)}${v}`);
  };
  const more = (v: string): void => {
    lines.push(`${''.padEnd(13)}${v}`);
  };
  row('package', `${r.package.name} ${r.package.version} (${r.package.root})`);
  row('node', `${r.node.version}, N-API ${r.node.napi}, ${r.node.platform}-${r.node.arch}, ${r.node.libc}`);
  if (r.native.loaded) {
    row('native', `${r.native.kind === 'prebuild' ? 'prebuilt binary' : r.native.kind === 'build' ? 'source build' : 'override'}: ${r.native.path}`);
    more(`why: ${r.native.reason}`);
  } else row('native', `NOT LOADED: ${r.native.error}`);
  if (r.cpu) {
    row('cpu', `${r.cpu.brand || 'unknown CPU'}, ${r.cpu.hardwareThreads} hardware threads`);
    more(`features: ${r.cpu.summary}`);
    more(`kernel ISA in use: ${r.cpu.kernelIsa}${r.cpu.cap ? ` (capped by S3D_CPU_FEATURES=${r.cpu.cap})` : ''}`);
    more(`precision 'fast': ${r.cpu.bf16Kernels ? 'bf16 products, fp32 sums (AVX512-BF16)' : "same as 'exact' (no AVX512-BF16 kernels here)"}`);
  }
  const status = (b: BackendStatus): string => (b.usable ? 'usable' : 'NOT usable');
  row('backend cpu', status(r.backends.cpu));
  for (const why of r.backends.cpu.reasons) more(`- ${why}`);
  row('backend cuda', status(r.backends.cuda));
  for (const why of r.backends.cuda.reasons) more(`- ${why}`);
  const c = r.backends.cuda;
  more(`driver: ${c.devices.length ? c.devices.join(' ') : 'no /dev/nvidia*'}; libcuda: ${c.libcuda ?? 'not found'}${c.driverVersion ? `; ${c.driverVersion}` : ''}`);
  const d = c.diagnostics;
  more(`plugin: ${d.pluginLoaded ? `${d.pluginPath} (${d.buildInfo ?? '?'})` : `not loaded${d.pluginPath ? ` (looked for ${d.pluginPath})` : ''}`}`);
  if (d.pluginLoaded) {
    more(`CUDA runtime ${cudaVersionText(d.runtimeVersion) ?? '?'}, driver supports CUDA ${cudaVersionText(d.driverVersion) ?? 'none'}; devices: ${d.deviceCount ?? '?'}`);
    if (d.device)
      more(`device 0: ${d.device.name}, compute ${d.device.computeCapability}, ${d.device.multiprocessors} SMs, ${(d.device.freeBytes / 1048576).toFixed(0)} of ${(d.device.totalBytes / 1048576).toFixed(0)} MiB free`);
    const lib = (l: CudaDiagnostics['cublas']): string => (l.found ? `${l.version ?? '?'} (${l.path})` : 'not found');
    more(`cuBLAS ${lib(d.cublas)}; cuDNN ${lib(d.cudnn)}`);
    more(`engine stages on CUDA: ${d.stagesImplemented} of ${d.stagesTotal}`);
  }
  const m = r.model;
  row('model', `${m.path} (${(m.bytes / 1048576).toFixed(1)} MiB)`);
  if (m.error) more(`ERROR: ${m.error}`);
  else {
    more(`${m.name ?? '?'}: ${fmtParams(m.parameters)} parameters, ${m.imageSize}px output (${m.renderSize}px NeRF + super-resolution), ${m.fps} fps; audio ${m.audio}; ${m.format}`);
    const note = m.provenance && typeof m.provenance.note === 'string' ? ` (${m.provenance.note})` : '';
    more(`trained: ${m.trained === null ? 'unknown (no provenance)' : m.trained ? 'yes' : 'NO'}${note}`);
  }
  for (const b of ['cpu', 'cuda'] as const) {
    const t = r.timings[b];
    if (!t) continue;
    if ('error' in t) row(`timing ${b}`, `failed: ${t.error}`);
    else {
      row(`timing ${b}`, `encodeIdentity ${t.encodeIdentityMs} ms, renderFrame ${t.renderFrameMs} ms (${t.threads} threads; model load ${t.loadMs} ms)`);
      more(t.input);
    }
  }
  if (!r.timings.cuda) row('timing cuda', 'skipped (backend not usable)');
  row(
    'result',
    r.ok
      ? `ok: --backend ${r.requested} -> ${r.selected}`
      : `FAILED: --backend ${r.requested} is not usable${r.requested === 'auto' ? ' (no backend is)' : ''}`,
  );
  return lines.join('\n') + '\n';
}
