// Argument checks with sharp-style messages:
// "Expected a positive integer for threads but received -1".
import { InvalidArgumentError } from './errors.js';

/** A short, readable rendering of a received value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  if (Buffer.isBuffer(value)) return `a Buffer of ${value.length} bytes`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as ArrayLike<unknown>).length ?? value.byteLength}`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
}

export function invalid(expected: string, name: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`Expected ${expected} for ${name} but received ${describe(value)}`);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

export function expectObject(value: unknown, name: string): Record<string, unknown> {
  if (!isPlainObject(value)) throw invalid('an object', name, value);
  return value;
}

/**
 * Options objects may be omitted; anything else must be an object. With `known`, a key
 * outside it is an error (a misspelt option would otherwise be ignored silently):
 * "Unknown option "thread" for createSession (known: model, backend, threads, signal)".
 */
export function expectOptions(value: unknown, name = 'options', known?: { fn: string; keys: readonly string[] }): Record<string, unknown> {
  if (value === undefined) return {};
  const obj = expectObject(value, name);
  if (known) rejectUnknownKeys(obj, known.fn, known.keys);
  return obj;
}

/** Throws InvalidArgumentError for the first own key of obj that is not in keys. */
export function rejectUnknownKeys(obj: Record<string, unknown>, fn: string, keys: readonly string[]): void {
  for (const k of Object.keys(obj))
    if (!keys.includes(k))
      throw new InvalidArgumentError(`Unknown option ${JSON.stringify(k)} for ${fn} (known: ${keys.join(', ')})`);
}

export function expectPositiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw invalid('a positive integer', name, value);
  return value;
}

export function expectNonNegativeInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw invalid('a non-negative integer', name, value);
  return value;
}

export function expectIntegerInRange(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw invalid(`an integer between ${min} and ${max}`, name, value);
  return value;
}

export function expectString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid('a non-empty string', name, value);
  return value;
}

export function expectBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalid('a boolean', name, value);
  return value;
}

export function expectOneOf<T extends string>(value: unknown, name: string, options: readonly T[]): T {
  if (typeof value !== 'string' || !(options as readonly string[]).includes(value))
    throw invalid(`one of ${options.map((o) => `'${o}'`).join(', ')}`, name, value);
  return value as T;
}

export function expectSignal(value: unknown, name = 'signal'): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) throw invalid('an AbortSignal', name, value);
  return value;
}
