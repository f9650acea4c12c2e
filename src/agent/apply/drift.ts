// Drift: where a live object no longer says what the bundle says. Only the fields the bundle sets are
// compared, so whatever the API server or a controller fills in (defaults, status, server-managed
// metadata) is not drift. Pure: it reads two objects and answers.

import type { KubeObject } from '../../model/manifest.ts';

export interface FieldDrift {
  /** where, e.g. `spec.template.spec.containers[name=web].image` ('' for the whole object) */
  path: string;
  /** what the bundle sets, as JSON (shortened), or "present" for a missing object */
  want: string;
  /** what the live object has, as JSON (shortened), or "absent" */
  got: string;
}

/** Values longer than this are cut in reports; a drift entry names a field, it does not copy a file. */
const maxValueChars = 120;
/** Per object; the first few say enough and keep reports bounded. */
export const maxDriftsPerObject = 20;

/** Keys that identify the items of a list of objects Kubernetes merges item by item, in preference order. */
const mergeKeys = ['name', 'mountPath', 'containerPort', 'port', 'devicePath', 'ip', 'topologyKey'];

/** Map keys whose values are resource quantities ("500m" is 0.5, "1Gi" is 1073741824). */
const quantityMaps = new Set([
  'limits',
  'requests',
  'hard',
  'capacity',
  'overhead',
  'default',
  'defaultRequest',
  'max',
  'min',
  'maxLimitRequestRatio',
]);
const quantityFields = new Set(['sizeLimit', 'storage']);

/**
 * The fields of `desired` that `live` does not match (at most maxDriftsPerObject).
 * @example driftOf(cm({ currency: 'EUR' }), cm({ currency: 'USD' }))
 *   // → [{ path: 'data.currency', want: '"EUR"', got: '"USD"' }]
 */
export function driftOf(desired: KubeObject, live: KubeObject | undefined): FieldDrift[] {
  if (!live) return [{ path: '', want: 'present', got: 'absent' }];
  const want = comparable(desired);
  const out: FieldDrift[] = [];
  const secret = desired.kind === 'Secret';
  for (const key of Object.keys(want)) {
    // status is the controller's to write; apiVersion may differ when the server stores another version
    if (key === 'status' || key === 'apiVersion') continue;
    compare(want[key], (live as Record<string, unknown>)[key], [key], out, secret);
  }
  return out;
}

function comparable(desired: KubeObject): Record<string, unknown> {
  // The server turns a Secret's stringData into base64 data and keeps no stringData.
  if (desired.kind !== 'Secret' || !isRecord(desired.stringData)) return desired;
  const data: Record<string, unknown> = { ...(isRecord(desired.data) ? desired.data : {}) };
  for (const [k, v] of Object.entries(desired.stringData))
    data[k] = Buffer.from(String(v), 'utf8').toString('base64');
  const { stringData: _, ...rest } = desired;
  return { ...rest, data };
}

function compare(want: unknown, got: unknown, path: string[], out: FieldDrift[], secret: boolean): void {
  if (out.length >= maxDriftsPerObject) return;
  // null in an apply unsets a field; a zero value is what the server drops when it serializes (omitempty)
  if (want === null || want === undefined) return;
  if (got === undefined && isZero(want)) return;
  if (isRecord(want)) {
    if (!isRecord(got)) push(out, path, want, got, secret);
    else for (const key of Object.keys(want)) compare(want[key], got[key], [...path, key], out, secret);
  } else if (Array.isArray(want)) {
    if (!Array.isArray(got)) push(out, path, want, got, secret);
    else compareLists(want, got, path, out, secret);
  } else if (!sameScalar(want, got, path)) {
    push(out, path, want, got, secret);
  }
}

function compareLists(want: unknown[], got: unknown[], path: string[], out: FieldDrift[], secret: boolean) {
  const key = want.every(isRecord) ? mergeKeyOf(want as Record<string, unknown>[]) : undefined;
  if (key) {
    // An associative list: each of the bundle's items must be there; items others added are theirs.
    for (const item of want as Record<string, unknown>[]) {
      const id = item[key];
      const match = got.find((g) => isRecord(g) && g[key] === id);
      const at = [...path.slice(0, -1), `${path.at(-1)}[${key}=${String(id)}]`];
      if (match === undefined) push(out, at, item, undefined, secret);
      else compare(item, match, at, out, secret);
    }
    return;
  }
  // An atomic list: the bundle owns all of it, so it must match item for item.
  if (want.length !== got.length) {
    push(out, path, want, got, secret);
    return;
  }
  want.forEach((item, i) => {
    compare(item, got[i], [...path.slice(0, -1), `${path.at(-1)}[${i}]`], out, secret);
  });
}

function mergeKeyOf(items: Record<string, unknown>[]): string | undefined {
  if (items.length === 0) return undefined;
  return mergeKeys.find((k) => {
    const ids = items.map((i) => i[k]);
    return (
      ids.every((id) => typeof id === 'string' || typeof id === 'number') && new Set(ids).size === ids.length
    );
  });
}

function sameScalar(want: unknown, got: unknown, path: string[]): boolean {
  if (want === got) return true;
  const field = path.at(-1) ?? '';
  const parent = path.at(-2) ?? '';
  if (quantityMaps.has(parent) || quantityFields.has(field)) {
    const a = quantity(want);
    const b = quantity(got);
    return a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(a) * 1e-9;
  }
  return false;
}

const suffixes: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes resource quantity as a number, or undefined when it is not one. */
export function quantity(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return undefined;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/.exec(v);
  if (!m) return undefined;
  const base = Number(m[1]);
  if (m[2] !== undefined) return base * 10 ** Number(m[2]);
  return base * (suffixes[m[3] ?? ''] ?? 1);
}

function push(out: FieldDrift[], path: string[], want: unknown, got: unknown, secret: boolean): void {
  // A Secret's values never leave the site in a report.
  const hidden = secret && path[0] === 'data';
  out.push({
    path: pathText(path),
    want: hidden ? '(hidden)' : shorten(want),
    got: got === undefined ? 'absent' : hidden ? '(hidden)' : shorten(got),
  });
}

function pathText(path: string[]): string {
  return path
    .map((p, i) => {
      const plain = /^[A-Za-z_][A-Za-z0-9_-]*(\[[^\]]*\])?$/.test(p);
      return plain ? (i === 0 ? p : `.${p}`) : `[${JSON.stringify(p)}]`;
    })
    .join('');
}

function shorten(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > maxValueChars ? `${text.slice(0, maxValueChars - 1)}…` : text;
}

function isZero(v: unknown): boolean {
  if (v === false || v === 0 || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  return isRecord(v) && Object.keys(v).length === 0;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
