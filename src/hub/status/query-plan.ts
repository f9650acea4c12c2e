// Fleet queries, the pure half: check a request and turn it into a plan (which rows, which filters,
// groups, aggregates, order), encode and decode keyset cursors, and order and page grouped results.
// query-sql.ts runs a plan against the store.

import { OutpostError } from '../../model/errors.ts';
import type { QueryRequest } from '../../model/wire.ts';
import { type LabelSelector, validateSelector } from '../../select/labels.ts';
import { type FieldRef, parseField, validateWhere, type Where } from '../../select/where.ts';

/** Which rows a query counts: sites, or (site, deployment) pairs when a bundle is named or grouped on. */
export type Scope = 'sites' | 'bundle' | 'deployments';

export type AggregateOp = 'count' | 'sum' | 'avg' | 'min' | 'max';

export interface PlannedAggregate {
  /** as requested and as returned, e.g. `avg(property:lat)` */
  name: string;
  op: AggregateOp;
  field?: FieldRef;
}

export type SortField = FieldRef | { kind: 'lastSeen' } | { kind: 'lastReport' };

export interface QueryPlan {
  scope: Scope;
  /** only sites one of these picks (a scoped token's reach); every site when absent */
  within?: LabelSelector[];
  selector?: LabelSelector;
  connectivity?: string[];
  lifecycle?: string[];
  state?: string[];
  bundle?: string;
  revision?: number[];
  where?: Where;
  groupBy: Array<{ name: string; field: FieldRef }>;
  aggregates: PlannedAggregate[];
  /** list queries sort by a field; grouped ones by `count`, `key` or an aggregate name */
  sort: { spec: string; name: string; desc: boolean; field?: SortField };
  limit: number;
  cursor?: Cursor;
}

export interface Cursor {
  /** the sort spec the cursor was made under */
  s: string;
  /** the last row's sort value */
  v: string | number | null;
  /** the last row's tiebreak: a site id, or a group's key as JSON */
  k: string;
}

function invalid(message: string): never {
  throw new OutpostError('query_invalid', message);
}

function field(text: string, at: string): FieldRef {
  const ref = parseField(text);
  if (typeof ref === 'string') invalid(`${at}: ${ref}`);
  return ref;
}

function fieldsOf(w: Where, out: FieldRef[]): void {
  if ('all' in w) for (const c of w.all) fieldsOf(c, out);
  else if ('any' in w) for (const c of w.any) fieldsOf(c, out);
  else if ('not' in w) fieldsOf(w.not, out);
  else {
    const ref = parseField(w.field);
    if (typeof ref !== 'string') out.push(ref);
  }
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

export function decodeCursor(text: string, spec: string): Cursor {
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    invalid('cursor: not a cursor this hub made');
  }
  const o = c as Partial<Cursor>;
  if (
    typeof o !== 'object' ||
    o === null ||
    typeof o.s !== 'string' ||
    typeof o.k !== 'string' ||
    !(o.v === null || typeof o.v === 'string' || typeof o.v === 'number')
  ) {
    invalid('cursor: not a cursor this hub made');
  }
  if (o.s !== spec) invalid(`cursor: made for sort "${o.s}", not "${spec}"; start again without a cursor`);
  return o as Cursor;
}

const AGG_RE = /^(sum|avg|min|max)\((.+)\)$/;
const listSortFields = new Set(['lastSeen', 'lastReport']);

/** Checks a query request and plans it; every mistake is a query_invalid (or selector_invalid) error. */
export function planQuery(req: QueryRequest): QueryPlan {
  if (req.selector) {
    const problem = validateSelector(req.selector)[0];
    if (problem) throw new OutpostError('selector_invalid', `selector.${problem.path}: ${problem.message}`);
  }
  let where: Where | undefined;
  if (req.where !== undefined) {
    const problem = validateWhere(req.where)[0];
    if (problem) invalid(`${problem.path}: ${problem.message}`);
    where = req.where as Where;
  }
  const groupBy = (req.groupBy ?? []).map((g, i) => ({ name: g, field: field(g, `groupBy[${i}]`) }));
  if (new Set(req.groupBy ?? []).size !== groupBy.length) invalid('groupBy: a field appears twice');
  const aggregates: PlannedAggregate[] = (req.aggregates ?? ['count']).map((a, i) => {
    if (a === 'count') return { name: a, op: 'count' };
    const m = AGG_RE.exec(a);
    if (!m) invalid(`aggregates[${i}]: "${a}" is not count, sum(F), avg(F), min(F) or max(F)`);
    const f = field(m[2]!, `aggregates[${i}]`);
    if (f.kind !== 'property') invalid(`aggregates[${i}]: ${m[1]} takes a numeric property:KEY field`);
    return { name: a, op: m[1] as AggregateOp, field: f };
  });
  if (groupBy.length === 0 && req.aggregates && req.aggregates.length > 0) {
    invalid('aggregates: need groupBy (a list query returns sites)');
  }

  const grouped = groupBy.length > 0;
  const scope: Scope =
    req.bundle !== undefined
      ? 'bundle'
      : groupBy.some((g) => g.field.kind === 'bundle' || g.field.kind === 'revision')
        ? 'deployments'
        : 'sites';
  const mentioned: FieldRef[] = groupBy.map((g) => g.field);
  if (where) fieldsOf(where, mentioned);
  if (scope === 'sites') {
    if (req.revision) invalid('revision: name a bundle (or group by bundle) to filter by revision');
    for (const f of mentioned) {
      if (f.kind === 'revision' || f.kind === 'bundle')
        invalid(`${f.kind}: name a bundle (or group by bundle) to use the ${f.kind} field`);
    }
  }

  const spec = req.sort ?? (grouped ? 'key' : 'name');
  const desc = spec.startsWith('-');
  const name = desc ? spec.slice(1) : spec;
  let sortField: SortField | undefined;
  if (grouped) {
    if (name !== 'count' && name !== 'key' && !aggregates.some((a) => a.name === name)) {
      invalid(`sort: a grouped query sorts by count, key or one of its aggregates, not "${name}"`);
    }
  } else if (listSortFields.has(name)) {
    sortField = { kind: name as 'lastSeen' | 'lastReport' };
  } else {
    sortField = field(name, 'sort');
    if (scope === 'sites' && (sortField.kind === 'revision' || sortField.kind === 'bundle')) {
      invalid(`sort: name a bundle to sort by ${sortField.kind}`);
    }
  }
  const plan: QueryPlan = {
    scope,
    groupBy,
    aggregates,
    sort: { spec, name, desc, ...(sortField ? { field: sortField } : {}) },
    limit: req.limit ?? 100,
  };
  if (req.selector) plan.selector = req.selector as LabelSelector;
  if (req.connectivity) plan.connectivity = req.connectivity;
  if (req.lifecycle) plan.lifecycle = req.lifecycle;
  if (req.state) plan.state = req.state;
  if (req.bundle !== undefined) plan.bundle = req.bundle;
  if (req.revision) plan.revision = req.revision;
  if (where) plan.where = where;
  if (req.cursor) {
    plan.cursor = decodeCursor(req.cursor, spec);
    if (grouped) groupKeyOf(plan.cursor, groupBy.length);
  }
  return plan;
}

export type GroupValue = string | number | null;

/** The group key a grouped query's cursor holds (JSON in `k`): one string, number or null per groupBy. */
function groupKeyOf(cursor: Cursor, width: number): GroupValue[] {
  let key: unknown;
  try {
    key = JSON.parse(cursor.k);
  } catch {
    invalid('cursor: not a cursor this hub made');
  }
  if (
    !Array.isArray(key) ||
    key.length !== width ||
    !key.every((v) => v === null || typeof v === 'string' || typeof v === 'number')
  ) {
    invalid('cursor: not a cursor this hub made');
  }
  return key as GroupValue[];
}

export interface Group {
  key: GroupValue[];
  count: number;
  values: Record<string, number | null>;
}

/** SQLite's order across types, which list queries also follow: null < numbers < strings. */
export function compareValues(a: GroupValue, b: GroupValue): number {
  const rank = (v: GroupValue) => (v === null ? 0 : typeof v === 'string' ? 2 : 1);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 0) return 0;
  if (ra === 1) return Number(a) - Number(b);
  return a! < b! ? -1 : a! > b! ? 1 : 0;
}

function compareKeys(a: GroupValue[], b: GroupValue[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = compareValues(a[i] ?? null, b[i] ?? null);
    if (c !== 0) return c;
  }
  return 0;
}

function sortValue(g: Group, name: string): GroupValue {
  if (name === 'count') return g.count;
  if (name === 'key') return null;
  return g.values[name] ?? null;
}

/**
 * Orders groups by the plan's sort (ties by key, so the order is total) and returns the page after the
 * cursor. A keyset, not an offset: groups that appear or vanish elsewhere do not shift this page.
 */
export function pageGroups(groups: Group[], plan: QueryPlan): { page: Group[]; next: Cursor | undefined } {
  const { name, desc, spec } = plan.sort;
  const dir = desc ? -1 : 1;
  const cmp = (a: { v: GroupValue; key: GroupValue[] }, b: { v: GroupValue; key: GroupValue[] }) =>
    dir * (compareValues(a.v, b.v) || compareKeys(a.key, b.key));
  const rows = groups.map((g) => ({ g, v: sortValue(g, name), key: g.key }));
  rows.sort(cmp);
  let start = 0;
  if (plan.cursor) {
    const after = { v: plan.cursor.v, key: groupKeyOf(plan.cursor, plan.groupBy.length) };
    start = rows.findIndex((r) => cmp(r, after) > 0);
    if (start < 0) start = rows.length;
  }
  const page = rows.slice(start, start + plan.limit);
  const last = page[page.length - 1];
  const next =
    last && start + plan.limit < rows.length
      ? { s: spec, v: last.v, k: JSON.stringify(last.key) }
      : undefined;
  return { page: page.map((r) => r.g), next };
}
