// The optional CUDA backend as seen from JS: the plugin libs3d_cuda.so
// (cuda/plugin/, `npm run build:cuda`) that the addon dlopens on demand
// (cpp/backend/cuda_plugin_loader.cc). No engine stage runs on CUDA in this
// build, so CUDA is never usable yet; this module says exactly why.
import { native, type NativeCudaProbe } from './native.js';

/** What `cudaDiagnostics()` reports. */
export interface CudaDiagnostics extends NativeCudaProbe {
  /** Set when the addon itself could not be loaded (then nothing else was probed). */
  addonError?: string;
}

let cached: Promise<CudaDiagnostics> | undefined;

/**
 * Probes the CUDA backend once per process: the plugin (path, build, ABI), the
 * CUDA driver and runtime versions, device 0 (name, compute capability, memory;
 * a self-test kernel must run), cuBLAS and cuDNN (path and version), how many
 * engine stages are ported, and every reason CUDA cannot be used. Never throws
 * for a missing plugin, driver or device: those are `reasons`.
 */
export function cudaDiagnostics(): Promise<CudaDiagnostics> {
  cached ??= (async (): Promise<CudaDiagnostics> => {
    let n;
    try {
      n = native();
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      return {
        pluginPath: null, pluginLoaded: false, buildInfo: null, apiVersion: 0, runtimeVersion: null, driverVersion: null,
        deviceCount: null, device: null, cublas: { found: false, path: null, version: null }, cudnn: { found: false, path: null, version: null },
        stagesImplemented: 0, stagesTotal: 0, usable: false, reasons: [`the native addon cannot be loaded: ${msg}`], addonError: msg,
      };
    }
    const p = await n.cudaProbe();
    return { ...p, reasons: [...p.reasons] };
  })();
  return cached.then((d) => ({ ...d, reasons: [...d.reasons] }));
}

/** "13.0" from 13000. */
export function cudaVersionText(v: number | null): string | null {
  return v === null ? null : `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}
