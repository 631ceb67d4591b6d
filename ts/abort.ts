// AbortSignal helpers: every cancellable call rejects with AbortError whose
// cause is the signal's reason.
import { AbortError } from './errors.js';

export function abortError(signal: AbortSignal): AbortError {
  return new AbortError('The operation was aborted', { cause: signal.reason });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}
