// Option parsing shared by the subcommands: node:util parseArgs with usage errors in
// one line, and integer options with a range.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: false }>>['values'];

/** Parses `args` (no positionals); a parse failure becomes `usage(one line)`. */
export function parseOptions<O extends Options>(args: string[], options: O, usage: (msg: string) => Error): Values<O> {
  try {
    return parseArgs({ args, options, allowPositionals: false }).values;
  } catch (err) {
    throw usage((err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ').trim());
  }
}

/** `--name` as an integer in [min, max]; undefined when the option was not given. */
export function intOption(value: string | undefined, name: string, min: number, max: number,
                          usage: (msg: string) => Error): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isInteger(n) || n < min || n > max)
    throw usage(`--${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(value)}`);
  return n;
}
