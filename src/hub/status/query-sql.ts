// Fleet queries, the store half: compiles a plan to one SQL statement (every value bound, every JSON
// path built from validated keys) and runs it. Label selectors keep Kubernetes semantics and `where`
// keeps the semantics of select/where.ts; tests hold the SQL to both, on SQLite and PostgreSQL (whose
// differences, JSON access and sort keys, come from the store's StoreSql).

import { type RawBuilder, sql } from 'kysely';
import type { DeploymentState } from '../../model/deployment.ts';
import type { Connectivity, Lifecycle } from '../../model/site.ts';
import type { QueryGroup, QueryResult, QuerySite } from '../../model/wire.ts';
import type { LabelSelector } from '../../select/labels.ts';
import { type FieldRef, parseField, type Scalar, type Where } from '../../select/where.ts';
import type { HubContext } from '../context.ts';
import type { SortKind, StoreSql } from '../store/dialect.ts';
import {
  type Cursor,
  encodeCursor,
  type Group,
  type GroupValue,
  pageGroups,
  type QueryPlan,
  type SortField,
} from './query-plan.ts';

type Sql = RawBuilder<unknown>;
/** A plan with the store's engine-specific SQL fragments. */
type Plan = QueryPlan & { sql: StoreSql };
const TRUE = sql`true`;
const FALSE = sql`false`;

/** The SQL value of a field for the plan's scope (status fields come from the site or its deployment). */
function fieldSql(f: FieldRef | SortField, plan: Plan): Sql {
  const d = plan.sql;
  switch (f.kind) {
    case 'label':
      return d.label(f.key);
    case 'property':
      return d.property(f.key);
    case 'connectivity':
      return sql`s.connectivity`;
    case 'lifecycle':
      return sql`s.lifecycle`;
    case 'name':
      return sql`s.name`;
    case 'state':
      return plan.scope === 'sites' ? sql`s.worst_state` : sql`d.state`;
    case 'revision':
      return plan.scope === 'sites' ? sql`null` : sql`d.desired_revision`;
    case 'bundle':
      return plan.scope === 'sites' ? sql`null` : sql`d.bundle`;
    case 'profile':
      return sql`(select pt.profile from profile_targets pt where pt.site_id = s.id)`;
    case 'conformance':
      return sql`(select pt.state from profile_targets pt where pt.site_id = s.id)`;
    case 'lastSeen':
      return sql`s.last_seen_at`;
    case 'lastReport':
      return sql`s.last_report_at`;
  }
}

/** Never NULL, so NOT and the connectives keep two-valued logic. */
const truth = (x: Sql): Sql => sql`coalesce((${x}), false)`;

function equalsSql(f: FieldRef, value: Scalar, plan: Plan): Sql {
  if (f.kind === 'property') {
    const d = plan.sql;
    if (typeof value === 'boolean') return truth(sql`${d.propertyBoolean(f.key)} = ${value}`);
    if (typeof value === 'number') return truth(sql`${d.propertyNumber(f.key)} = ${value}`);
    return truth(sql`${d.propertyText(f.key)} = ${value}`);
  }
  // labels and status fields are strings, except revision (a number)
  const numeric = f.kind === 'revision';
  if (typeof value === 'boolean' || numeric !== (typeof value === 'number')) return FALSE;
  return truth(sql`${fieldSql(f, plan)} = ${value}`);
}

function orderSql(f: FieldRef, op: string, value: number, plan: Plan): Sql {
  const cmp = sql.raw(op);
  if (f.kind === 'property') return truth(sql`${plan.sql.propertyNumber(f.key)} ${cmp} ${value}`);
  if (f.kind === 'revision') return truth(sql`${fieldSql(f, plan)} ${cmp} ${value}`);
  return FALSE;
}

function existsSql(f: FieldRef, plan: Plan): Sql {
  if (f.kind === 'label') return plan.sql.hasLabel(f.key);
  if (f.kind === 'property') return plan.sql.hasProperty(f.key);
  return sql`(${fieldSql(f, plan)} is not null)`;
}

export function whereSql(w: Where, plan: Plan): Sql {
  if ('all' in w)
    return sql`(${sql.join(
      w.all.map((c) => whereSql(c, plan)),
      sql` and `,
    )})`;
  if ('any' in w)
    return sql`(${sql.join(
      w.any.map((c) => whereSql(c, plan)),
      sql` or `,
    )})`;
  if ('not' in w) return sql`(not ${whereSql(w.not, plan)})`;
  const f = parseField(w.field);
  if (typeof f === 'string') return FALSE;
  switch (w.op) {
    case '=':
      return equalsSql(f, w.value, plan);
    case '!=':
      return sql`(not ${equalsSql(f, w.value, plan)})`;
    case '<':
    case '<=':
    case '>':
    case '>=':
      return orderSql(f, w.op, w.value, plan);
    case 'in':
      return sql`(${sql.join(
        w.values.map((v) => equalsSql(f, v, plan)),
        sql` or `,
      )})`;
    case 'notIn':
      return sql`(not (${sql.join(
        w.values.map((v) => equalsSql(f, v, plan)),
        sql` or `,
      )}))`;
    case 'exists':
      return existsSql(f, plan);
    case 'notExists':
      return sql`(not ${existsSql(f, plan)})`;
  }
}

/** Kubernetes label-selector semantics (select/labels.ts matchesSelector) in SQL. */
export function selectorSql(sel: LabelSelector, d: StoreSql): Sql {
  const parts: Sql[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) parts.push(truth(sql`${d.label(k)} = ${v}`));
  for (const e of sel.matchExpressions ?? []) {
    const values = e.values ?? [];
    const isIn = values.length > 0 ? truth(sql`${d.label(e.key)} in (${sql.join(values)})`) : FALSE;
    switch (e.operator) {
      case 'In':
        parts.push(isIn);
        break;
      case 'NotIn':
        parts.push(sql`(not ${isIn})`);
        break;
      case 'Exists':
        parts.push(d.hasLabel(e.key));
        break;
      case 'DoesNotExist':
        parts.push(sql`(not ${d.hasLabel(e.key)})`);
        break;
      default:
        parts.push(FALSE);
    }
  }
  return parts.length > 0 ? sql`(${sql.join(parts, sql` and `)})` : TRUE;
}

/**
 * Sites any of these selectors picks: the reach of a scoped token (scope/reach.ts), compiled into every
 * read that counts or lists sites so nothing outside it is counted.
 */
export function withinSql(selectors: readonly LabelSelector[], d: StoreSql): Sql {
  if (selectors.length === 0) return FALSE;
  return sql`(${sql.join(
    selectors.map((s) => selectorSql(s, d)),
    sql` or `,
  )})`;
}

function fromSql(plan: Plan): Sql {
  if (plan.scope === 'sites') return sql`sites s`;
  const bundle = plan.scope === 'bundle' ? sql` and d.bundle = ${plan.bundle}` : sql``;
  return sql`sites s join deployments d on d.site_id = s.id and d.desired_digest is not null${bundle}`;
}

function filtersSql(plan: Plan): Sql[] {
  const out: Sql[] = [];
  if (plan.within) out.push(withinSql(plan.within, plan.sql));
  if (plan.selector) out.push(selectorSql(plan.selector, plan.sql));
  if (plan.connectivity) out.push(sql`s.connectivity in (${sql.join(plan.connectivity)})`);
  if (plan.lifecycle) out.push(sql`s.lifecycle in (${sql.join(plan.lifecycle)})`);
  if (plan.state) out.push(sql`${fieldSql({ kind: 'state' }, plan)} in (${sql.join(plan.state)})`);
  if (plan.revision) out.push(sql`d.desired_revision in (${sql.join(plan.revision)})`);
  if (plan.where) out.push(whereSql(plan.where, plan));
  return out;
}

function whereClause(parts: Sql[]): Sql {
  return parts.length > 0 ? sql`where ${sql.join(parts, sql` and `)}` : sql``;
}

function sortKind(plan: Plan): SortKind {
  const kind = plan.sort.field!.kind;
  return kind === 'property' ? 'json' : kind === 'revision' ? 'number' : 'text';
}

/** Missing sort values get a stand-in so the keyset comparison never meets NULL. */
function sortKeySql(plan: Plan): Sql {
  return plan.sql.sortKey(fieldSql(plan.sort.field!, plan), sortKind(plan));
}

interface SiteRow {
  id: string;
  name: string;
  labels: string;
  properties: string;
  lifecycle: string;
  connectivity: string;
  state: string | null;
  revision: number | null;
  last_seen_at: string | null;
  last_report_at: string | null;
  attention_reason: string | null;
  sort_key: string | number;
}

async function listSites(ctx: HubContext, plan: Plan): Promise<QueryResult> {
  const key = sortKeySql(plan);
  const filters = filtersSql(plan);
  const dir = sql.raw(plan.sort.desc ? 'desc' : 'asc');
  if (plan.cursor) {
    const after = plan.sort.desc ? sql`<` : sql`>`;
    filters.push(
      sql`(${key}, s.id) ${after} (${plan.sql.cursorValue(plan.cursor.v, sortKind(plan))}, ${plan.cursor.k})`,
    );
  }
  const revision = plan.scope === 'sites' ? sql`null` : sql`d.desired_revision`;
  const { rows } = await sql<SiteRow>`select s.id, s.name, s.labels, s.properties, s.lifecycle,
      s.connectivity, ${fieldSql({ kind: 'state' }, plan)} as state, ${revision} as revision,
      s.last_seen_at, s.last_report_at, s.attention_reason, ${key} as sort_key
    from ${fromSql(plan)} ${whereClause(filters)}
    order by sort_key ${dir}, s.id ${dir} limit ${plan.limit + 1}`.execute(ctx.store.db);
  const more = rows.length > plan.limit;
  const page = rows.slice(0, plan.limit);
  const sites: QuerySite[] = page.map((r) => ({
    name: r.name,
    labels: JSON.parse(r.labels),
    properties: JSON.parse(r.properties),
    lifecycle: r.lifecycle as Lifecycle,
    connectivity: r.connectivity as Connectivity,
    state: r.state as DeploymentState | null,
    revision: r.revision === null ? null : Number(r.revision),
    lastSeen: r.last_seen_at,
    lastReport: r.last_report_at,
    attention: r.attention_reason,
  }));
  const last = page[page.length - 1];
  const next: Cursor | undefined =
    more && last ? { s: plan.sort.spec, v: last.sort_key, k: last.id } : undefined;
  return { sites, nextCursor: next ? encodeCursor(next) : null };
}

function aggregateSql(a: QueryPlan['aggregates'][number], d: StoreSql): Sql {
  if (a.op === 'count' || !a.field || a.field.kind !== 'property') return sql`count(*)`;
  return sql`${sql.raw(a.op)}(${d.propertyNumber(a.field.key)})`;
}

async function groupSites(ctx: HubContext, plan: Plan): Promise<QueryResult> {
  const keys = plan.groupBy.map((g, i) => sql`${fieldSql(g.field, plan)} as ${sql.ref(`g${i}`)}`);
  const values = plan.aggregates.map((a, i) => sql`${aggregateSql(a, plan.sql)} as ${sql.ref(`a${i}`)}`);
  const groupRefs = plan.groupBy.map((_, i) => sql.ref(`g${i}`));
  const { rows } = await sql<
    Record<string, GroupValue>
  >`select ${sql.join([...keys, sql`count(*) as n`, ...values])}
    from ${fromSql(plan)} ${whereClause(filtersSql(plan))}
    group by ${sql.join(groupRefs)}`.execute(ctx.store.db);
  const groups: Group[] = rows.map((r) => ({
    key: plan.groupBy.map((_, i) => r[`g${i}`] ?? null),
    count: Number(r.n),
    values: Object.fromEntries(
      plan.aggregates.map((a, i) => [a.name, r[`a${i}`] === null ? null : Number(r[`a${i}`])]),
    ),
  }));
  const { page, next } = pageGroups(groups, plan);
  const out: QueryGroup[] = page.map((g) => ({
    key: Object.fromEntries(plan.groupBy.map((gb, i) => [gb.name, g.key[i] ?? null])),
    count: g.count,
    values: g.values,
  }));
  return { groups: out, nextCursor: next ? encodeCursor(next) : null };
}

/** Runs a planned query (see query-plan.ts planQuery). */
export function runQuery(ctx: HubContext, query: QueryPlan): Promise<QueryResult> {
  const plan = { ...query, sql: ctx.store.sql };
  return plan.groupBy.length > 0 ? groupSites(ctx, plan) : listSites(ctx, plan);
}
