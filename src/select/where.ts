// `where` expressions: a small, safe predicate form over a site's labels, properties and status,
// written as JSON so it needs no parser, cannot run code and compiles to SQL with bound values.
// This module defines the form, validates it and evaluates it (the reference the SQL must agree with).
//
// Grammar (JSON):
//   {"all": [W, …]} | {"any": [W, …]} | {"not": W}
//   {"field": F, "op": "=" | "!=", "value": string | number | boolean}
//   {"field": F, "op": "<" | "<=" | ">" | ">=", "value": number}
//   {"field": F, "op": "in" | "notIn", "values": [string | number, …]}
//   {"field": F, "op": "exists" | "notExists"}
// F is `label:KEY`, `property:KEY`, or one of connectivity, state, revision, bundle, lifecycle, name.
// Semantics: a missing field equals nothing and orders nothing, so `=`, `<`…, `in` are false on it and
// `!=`, `notIn` true (like Kubernetes NotIn); order comparisons hold only between numbers; a property
// holding an object or array equals nothing; `exists` is true for any present key, JSON null included.

export type Scalar = string | number | boolean;
export type FieldValue = Scalar | null | object | undefined;

export type Where =
  | { all: Where[] }
  | { any: Where[] }
  | { not: Where }
  | { field: string; op: '=' | '!='; value: Scalar }
  | { field: string; op: '<' | '<=' | '>' | '>='; value: number }
  | { field: string; op: 'in' | 'notIn'; values: Array<string | number> }
  | { field: string; op: 'exists' | 'notExists' };

/** profile and conformance: the profile a site follows and its conformance to the revision it is given. */
export const statusFields = [
  'connectivity',
  'state',
  'revision',
  'bundle',
  'lifecycle',
  'name',
  'profile',
  'conformance',
] as const;
export type StatusField = (typeof statusFields)[number];

/** A field reference, parsed: a label or property key, or a status field. */
export type FieldRef =
  | { kind: 'label'; key: string }
  | { kind: 'property'; key: string }
  | { kind: StatusField };

/** Keys stay within this alphabet so they can travel inside a JSON path unquoted by anyone. */
const KEY_RE = /^[A-Za-z0-9_.\-/]{1,253}$/;

export function parseField(field: string): FieldRef | string {
  const colon = field.indexOf(':');
  if (colon > 0) {
    const kind = field.slice(0, colon);
    const key = field.slice(colon + 1);
    if (kind !== 'label' && kind !== 'property') {
      return `unknown field "${field}": use label:KEY, property:KEY or one of ${statusFields.join(', ')}`;
    }
    if (!KEY_RE.test(key)) {
      return `field "${field}": a key is 1 to 253 letters, digits, "_", ".", "-" or "/"`;
    }
    return { kind, key };
  }
  if ((statusFields as readonly string[]).includes(field)) return { kind: field as StatusField };
  return `unknown field "${field}": use label:KEY, property:KEY or one of ${statusFields.join(', ')}`;
}

export interface WhereProblem {
  path: string;
  message: string;
}

const MAX_DEPTH = 16;
const MAX_NODES = 256;

function isScalar(v: unknown): v is Scalar {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

/** Problems with an untrusted expression; an empty list means it is a valid Where. */
export function validateWhere(input: unknown, path = 'where'): WhereProblem[] {
  const problems: WhereProblem[] = [];
  let nodes = 0;
  const visit = (w: unknown, at: string, depth: number): void => {
    nodes++;
    if (nodes > MAX_NODES) {
      if (nodes === MAX_NODES + 1) problems.push({ path: at, message: `at most ${MAX_NODES} nodes` });
      return;
    }
    if (depth > MAX_DEPTH) {
      problems.push({ path: at, message: `nested deeper than ${MAX_DEPTH}` });
      return;
    }
    if (typeof w !== 'object' || w === null || Array.isArray(w)) {
      problems.push({ path: at, message: 'must be an object: {all}, {any}, {not} or {field, op, …}' });
      return;
    }
    const o = w as Record<string, unknown>;
    const keys = Object.keys(o);
    if ('all' in o || 'any' in o) {
      const k = 'all' in o ? 'all' : 'any';
      if (keys.length !== 1) problems.push({ path: at, message: `{${k}} takes no other keys` });
      const list = o[k];
      if (!Array.isArray(list) || list.length === 0) {
        problems.push({ path: `${at}.${k}`, message: 'must be a non-empty array' });
        return;
      }
      list.forEach((c, i) => {
        visit(c, `${at}.${k}[${i}]`, depth + 1);
      });
      return;
    }
    if ('not' in o) {
      if (keys.length !== 1) problems.push({ path: at, message: '{not} takes no other keys' });
      visit(o.not, `${at}.not`, depth + 1);
      return;
    }
    if (typeof o.field !== 'string') {
      problems.push({ path: `${at}.field`, message: 'must be a string such as "label:region"' });
      return;
    }
    const field = parseField(o.field);
    if (typeof field === 'string') problems.push({ path: `${at}.field`, message: field });
    const op = o.op;
    const allowed = (extra: string[]) => {
      for (const k of keys) {
        if (k !== 'field' && k !== 'op' && !extra.includes(k))
          problems.push({ path: `${at}.${k}`, message: `unexpected with op ${String(op)}` });
      }
    };
    switch (op) {
      case '=':
      case '!=':
        allowed(['value']);
        if (!isScalar(o.value))
          problems.push({ path: `${at}.value`, message: 'must be a string, a finite number or a boolean' });
        return;
      case '<':
      case '<=':
      case '>':
      case '>=':
        allowed(['value']);
        if (typeof o.value !== 'number' || !Number.isFinite(o.value))
          problems.push({
            path: `${at}.value`,
            message: `op ${op} compares numbers: value must be a number`,
          });
        return;
      case 'in':
      case 'notIn':
        allowed(['values']);
        if (
          !Array.isArray(o.values) ||
          o.values.length === 0 ||
          o.values.length > 1000 ||
          !o.values.every((v) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)))
        )
          problems.push({ path: `${at}.values`, message: 'must be 1 to 1000 strings or numbers' });
        return;
      case 'exists':
      case 'notExists':
        allowed([]);
        return;
      default:
        problems.push({
          path: `${at}.op`,
          message: `unknown op ${JSON.stringify(op)}; use =, !=, <, <=, >, >=, in, notIn, exists or notExists`,
        });
    }
  };
  visit(input, path, 0);
  return problems;
}

/** Fields of the record a Where is evaluated on; `undefined` means absent. */
export type FieldLookup = (field: FieldRef) => FieldValue;

function equals(actual: FieldValue, expected: Scalar): boolean {
  if (actual === null || actual === undefined || typeof actual === 'object') return false;
  return actual === expected;
}

/** Evaluates a valid Where (see validateWhere) against one record. */
export function evaluateWhere(w: Where, lookup: FieldLookup): boolean {
  if ('all' in w) return w.all.every((c) => evaluateWhere(c, lookup));
  if ('any' in w) return w.any.some((c) => evaluateWhere(c, lookup));
  if ('not' in w) return !evaluateWhere(w.not, lookup);
  const ref = parseField(w.field);
  if (typeof ref === 'string') return false;
  const actual = lookup(ref);
  switch (w.op) {
    case '=':
      return equals(actual, w.value);
    case '!=':
      return !equals(actual, w.value);
    case '<':
      return typeof actual === 'number' && actual < w.value;
    case '<=':
      return typeof actual === 'number' && actual <= w.value;
    case '>':
      return typeof actual === 'number' && actual > w.value;
    case '>=':
      return typeof actual === 'number' && actual >= w.value;
    case 'in':
      return w.values.some((v) => equals(actual, v));
    case 'notIn':
      return !w.values.some((v) => equals(actual, v));
    case 'exists':
      return actual !== undefined;
    case 'notExists':
      return actual === undefined;
  }
}
