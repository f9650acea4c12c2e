// Flag values turned into what the commands pass on: numbers in range, shares, key=value labels, comma
// lists, JSON. A bad value is an OutpostError (request_invalid) that names the flag, so the CLI prints it
// the way it prints the hub's own refusals.

import { OutpostError } from '../model/errors.ts';

export function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0)
    throw new OutpostError('request_invalid', `${flag} takes a positive number, got "${text}"`);
  return n;
}

export function number(text: string, flag: string, min = 0): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min)
    throw new OutpostError('request_invalid', `${flag} takes a number of at least ${min}, got "${text}"`);
  return n;
}

/** A duration as kubectl takes it (`90`, `90s`, `10m`, `2h`, `1d`), in whole seconds. */
export function seconds(text: string, flag: string): number {
  const m = /^([1-9][0-9]*)([smhd]?)$/.exec(text);
  if (!m)
    throw new OutpostError(
      'request_invalid',
      `${flag} takes a duration like 90s, 10m, 2h or 1d, got "${text}"`,
    );
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

/** A share in [0, 1]. */
export function rate(text: string, flag: string): number {
  const n = number(text, flag);
  if (n > 1) throw new OutpostError('request_invalid', `${flag} takes a share in [0, 1], got "${text}"`);
  return n;
}

export function parseLabels(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new OutpostError('request_invalid', `a label is key=value, got "${p}"`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

/** The trimmed, non-empty items of a comma-separated list; undefined when there are none. */
export function splitList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  return parts.length > 0 ? parts : undefined;
}

export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new OutpostError('request_invalid', `${what} is not JSON: ${(e as Error).message}`);
  }
}

/** Commander's argument parser for a repeatable flag: every value given, in order. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `HOST=USER:VAR` of hub --helm-login: a user at a chart registry, its password in the variable VAR. */
export function helmLogin(text: string): { host: string; username: string; passwordEnv: string } {
  const m = /^([^=\s]+)=([^:\s]+):([A-Za-z_][A-Za-z0-9_]*)$/.exec(text);
  if (!m) {
    throw new OutpostError(
      'request_invalid',
      `--helm-login takes HOST=USER:VARIABLE (the password is read from the hub's environment), got "${text}"`,
    );
  }
  return { host: m[1]!, username: m[2]!, passwordEnv: m[3]! };
}
