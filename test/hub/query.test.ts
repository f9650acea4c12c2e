// The query language against a real hub on real SQLite: the SQL it compiles to must agree with the
// reference semantics (Kubernetes label selectors, select/where.ts) on every site, groups and
// aggregates must equal a brute-force count, and pages must stay stable while the fleet changes.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { QueryGroup, QueryResult, QuerySite } from '../../src/model/wire.ts';
import { type LabelSelector, matchesSelector } from '../../src/select/labels.ts';
import { evaluateWhere, type FieldRef, type FieldValue, type Where } from '../../src/select/where.ts';
import { type MemoryHub, memoryHub, operator, type SiteHandle } from '../support/hub.ts';

interface SiteRecord {
  name: string;
  labels: Record<string, string>;
  properties: Record<string, unknown>;
  connectivity: string;
  lifecycle: string;
  state: string | null;
  /** the profile a site follows and its kept conformance, from profile_targets */
  profile?: string;
  conformance?: string;
}

const regions = ['west', 'east', 'north'];
const formats = ['mini', 'max'];
const propertyValues: unknown[] = [0, 1, 4, -2.5, 1e6, '4', 'Lyon', '', true, false, null, { a: 1 }, [1, 2]];

let hub: MemoryHub;
let records: SiteRecord[];

async function loadRecords(): Promise<SiteRecord[]> {
  const rows = await hub.ctx.store.db
    .selectFrom('sites')
    .select(['name', 'labels', 'properties', 'connectivity', 'lifecycle', 'worst_state'])
    .execute();
  const targets = await hub.ctx.store.db
    .selectFrom('profile_targets')
    .innerJoin('sites', 'sites.id', 'profile_targets.site_id')
    .select(['sites.name', 'profile_targets.profile', 'profile_targets.state'])
    .execute();
  const targetOf = new Map(targets.map((t) => [t.name, t]));
  return rows.map((r) => {
    const target = targetOf.get(r.name);
    return {
      name: r.name,
      labels: JSON.parse(r.labels),
      properties: JSON.parse(r.properties),
      connectivity: r.connectivity,
      lifecycle: r.lifecycle,
      state: r.worst_state,
      ...(target ? { profile: target.profile, conformance: target.state } : {}),
    };
  });
}

function lookupOf(r: SiteRecord) {
  return (f: FieldRef): FieldValue => {
    switch (f.kind) {
      case 'label':
        return Object.hasOwn(r.labels, f.key) ? r.labels[f.key] : undefined;
      case 'property':
        return Object.hasOwn(r.properties, f.key) ? (r.properties[f.key] as FieldValue) : undefined;
      case 'connectivity':
        return r.connectivity;
      case 'lifecycle':
        return r.lifecycle;
      case 'name':
        return r.name;
      case 'state':
        return r.state ?? undefined;
      case 'profile':
        return r.profile;
      case 'conformance':
        return r.conformance;
      default:
        return undefined;
    }
  };
}

async function query(body: object): Promise<QueryResult> {
  const r = await hub.post<QueryResult>('/api/v1/query', body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

async function allSites(body: object): Promise<QuerySite[]> {
  const out: QuerySite[] = [];
  let cursor: string | null = null;
  do {
    const page: QueryResult = await query({ ...body, limit: 1000, ...(cursor ? { cursor } : {}) });
    out.push(...(page.sites ?? []));
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

before(async () => {
  hub = await memoryHub({ aggregateLabels: ['region'] });
  const creds: SiteHandle[] = [];
  for (let i = 0; i < 36; i++) {
    const labels: Record<string, string> = { format: formats[i % 2]! };
    if (i % 5 !== 0) labels.region = regions[i % 3]!;
    if (i % 4 === 0) labels.tier = 'gold';
    const properties: Record<string, unknown> = { lanes: i % 7, city: i % 3 === 0 ? 'Lyon' : 'Porto' };
    properties.misc = propertyValues[i % propertyValues.length];
    if (i % 6 === 0) delete properties.lanes;
    creds.push(await hub.register(`store-${String(i).padStart(2, '0')}`, labels, properties));
  }
  await hub.applyBundle('web', { matchExpressions: [{ key: 'region', operator: 'Exists' }] });
  await hub.applyBundle('pos', { matchLabels: { format: 'mini' } });
  // some sites report, some fall silent
  for (let i = 0; i < 36; i += 1) {
    if (i % 3 === 2) continue;
    const desired = await hub.desired(creds[i]!);
    await hub.report(creds[i]!, {
      seq: 1,
      deployments: desired.map((d, j) => ({
        bundle: d.bundle,
        digest: d.digest,
        state: (['Ready', 'Failed', 'NotReady', 'Drifted'] as const)[(i + j) % 4],
        counts: { total: 1, applied: 1, ready: 1 },
      })),
    });
  }
  const profile = `apiVersion: outpost.dev/v1
kind: Profile
metadata: {name: stores}
spec:
  placement: {selector: {matchLabels: {format: mini}}}
  kubernetes: {distribution: k3s, version: v1.31.4+k3s1}
`;
  const applied = await hub.post('/api/v1/profiles', { files: [{ path: 'stores.yaml', content: profile }] });
  assert.equal(applied.status, 200, JSON.stringify(applied.body));
  hub.advance(200_000);
  for (let i = 0; i < 36; i += 2) await hub.desired(creds[i]!);
  await hub.sweep();
  records = await loadRecords();
});

after(() => hub.close());

const fieldArb = fc.oneof(
  fc.constantFrom('label:region', 'label:format', 'label:tier', 'label:none'),
  fc.constantFrom('property:lanes', 'property:city', 'property:misc', 'property:none'),
  fc.constantFrom('connectivity', 'lifecycle', 'name', 'state', 'profile', 'conformance'),
);
const scalarArb = fc.oneof(
  fc.constantFrom(
    ...regions,
    ...formats,
    'gold',
    'Lyon',
    'Porto',
    '4',
    '',
    'Online',
    'Stale',
    'Failed',
    'Ready',
    'stores',
    'Unknown',
    'Behind',
  ),
  fc.constantFrom(0, 1, 4, 6, -2.5, 1e6),
  fc.boolean(),
);
const leafArb: fc.Arbitrary<Where> = fc.oneof(
  fc.record({ field: fieldArb, op: fc.constantFrom('=' as const, '!=' as const), value: scalarArb }),
  fc.record({
    field: fieldArb,
    op: fc.constantFrom('<' as const, '<=' as const, '>' as const, '>=' as const),
    value: fc.constantFrom(-3, 0, 1, 3.5, 4, 10),
  }),
  fc.record({
    field: fieldArb,
    op: fc.constantFrom('in' as const, 'notIn' as const),
    values: fc.array(
      fc.oneof(fc.constantFrom(...regions, 'Lyon', '4', 'Online'), fc.constantFrom(0, 4, 1e6)),
      {
        minLength: 1,
        maxLength: 3,
      },
    ),
  }),
  fc.record({ field: fieldArb, op: fc.constantFrom('exists' as const, 'notExists' as const) }),
);
const whereArb: fc.Arbitrary<Where> = fc.letrec<{ w: Where }>((tie) => ({
  w: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb,
    fc.record({ all: fc.array(tie('w'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ any: fc.array(tie('w'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ not: tie('w') }),
  ),
})).w;

const selectorArb: fc.Arbitrary<LabelSelector> = fc.record(
  {
    matchLabels: fc.dictionary(
      fc.constantFrom('region', 'format', 'tier'),
      fc.constantFrom(...regions, 'mini', 'gold'),
      {
        maxKeys: 2,
      },
    ),
    matchExpressions: fc.array(
      fc.oneof(
        fc.record({
          key: fc.constantFrom('region', 'format', 'tier', 'none'),
          operator: fc.constantFrom('In' as const, 'NotIn' as const),
          values: fc.array(fc.constantFrom(...regions, ...formats, 'gold'), { minLength: 1, maxLength: 3 }),
        }),
        fc.record({
          key: fc.constantFrom('region', 'format', 'tier', 'none'),
          operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const),
        }),
      ),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: [] },
);

const names = (sites: readonly { name: string }[]) => sites.map((s) => s.name).sort();

describe('filters agree with the reference semantics', () => {
  test('property: `where` selects exactly the sites the reference evaluator selects', async () => {
    await fc.assert(
      fc.asyncProperty(whereArb, async (where) => {
        const got = names(await allSites({ where }));
        const want = names(records.filter((r) => evaluateWhere(where, lookupOf(r))));
        assert.deepEqual(got, want);
      }),
      { numRuns: 300 },
    );
  });

  test('property: a label selector selects exactly the sites matchesSelector selects', async () => {
    await fc.assert(
      fc.asyncProperty(selectorArb, async (selector) => {
        const got = names(await allSites({ selector }));
        assert.deepEqual(got, names(records.filter((r) => matchesSelector(selector, r.labels))));
      }),
      { numRuns: 200 },
    );
  });

  test('connectivity and state filters combine with the selector', async () => {
    const got = await allSites({
      selector: { matchLabels: { format: 'mini' } },
      connectivity: ['Online'],
      state: ['Failed', 'Drifted'],
    });
    const want = records.filter(
      (r) =>
        r.labels.format === 'mini' &&
        r.connectivity === 'Online' &&
        (r.state === 'Failed' || r.state === 'Drifted'),
    );
    assert.ok(want.length > 0, 'the fixture has such sites');
    assert.deepEqual(names(got), names(want));
  });
});

describe('profile conformance in queries', () => {
  test('the sites a profile places are found by profile and conformance, the others by their absence', async () => {
    const followers = records.filter((r) => r.labels.format === 'mini');
    assert.ok(followers.length > 0 && followers.every((r) => r.profile === 'stores'));
    assert.deepEqual(
      names(await allSites({ where: { field: 'profile', op: '=', value: 'stores' } })),
      names(followers),
    );
    assert.deepEqual(
      names(await allSites({ where: { field: 'conformance', op: 'notExists' } })),
      names(records.filter((r) => r.labels.format !== 'mini')),
    );
    const result = await query({ groupBy: ['profile', 'conformance'], aggregates: ['count'] });
    const want = new Map<string, number>();
    for (const r of records) {
      const k = JSON.stringify([r.profile ?? null, r.conformance ?? null]);
      want.set(k, (want.get(k) ?? 0) + 1);
    }
    const got = new Map(
      result.groups!.map((g) => [JSON.stringify([g.key.profile, g.key.conformance]), g.count]),
    );
    assert.deepEqual(got, want);
  });
});

describe('groups and aggregates', () => {
  test('group by a label and connectivity with numeric aggregates equals a brute-force count', async () => {
    const result = await query({
      groupBy: ['label:region', 'connectivity'],
      aggregates: [
        'count',
        'sum(property:lanes)',
        'avg(property:lanes)',
        'min(property:lanes)',
        'max(property:misc)',
      ],
    });
    const want = new Map<string, { count: number; lanes: number[]; misc: number[] }>();
    for (const r of records) {
      const k = JSON.stringify([r.labels.region ?? null, r.connectivity]);
      const g = want.get(k) ?? { count: 0, lanes: [], misc: [] };
      g.count++;
      if (typeof r.properties.lanes === 'number') g.lanes.push(r.properties.lanes);
      if (typeof r.properties.misc === 'number') g.misc.push(r.properties.misc);
      want.set(k, g);
    }
    const groups = result.groups!;
    assert.equal(groups.length, want.size);
    for (const g of groups) {
      const w = want.get(JSON.stringify([g.key['label:region'], g.key.connectivity]))!;
      assert.ok(w, JSON.stringify(g.key));
      assert.equal(g.count, w.count);
      const sum = w.lanes.reduce((a, b) => a + b, 0);
      assert.equal(g.values['sum(property:lanes)'], w.lanes.length ? sum : null);
      assert.equal(g.values['avg(property:lanes)'], w.lanes.length ? sum / w.lanes.length : null);
      assert.equal(g.values['min(property:lanes)'], w.lanes.length ? Math.min(...w.lanes) : null);
      assert.equal(g.values['max(property:misc)'], w.misc.length ? Math.max(...w.misc) : null);
    }
  });

  test('naming a bundle counts its deployments: state and revision are theirs', async () => {
    const result = await query({ bundle: 'pos', groupBy: ['state', 'revision'], sort: '-count' });
    const rows = await hub.ctx.store.db
      .selectFrom('deployments')
      .select(['state'])
      .where('bundle', '=', 'pos')
      .where('desired_digest', 'is not', null)
      .execute();
    const total = result.groups!.reduce((n, g) => n + g.count, 0);
    assert.equal(total, rows.length);
    assert.ok(result.groups!.every((g) => g.key.revision === 1));
    const counts = result.groups!.map((g) => g.count);
    assert.deepEqual(
      counts,
      [...counts].sort((a, b) => b - a),
      'sorted by count, descending',
    );
  });

  test('grouping by bundle counts every placed deployment once', async () => {
    const result = await query({ groupBy: ['bundle'] });
    const placed = await hub.ctx.store.db
      .selectFrom('deployments')
      .select(['bundle'])
      .where('desired_digest', 'is not', null)
      .execute();
    assert.deepEqual(
      Object.fromEntries(result.groups!.map((g) => [g.key.bundle, g.count])),
      Object.fromEntries(['pos', 'web'].map((b) => [b, placed.filter((p) => p.bundle === b).length])),
    );
  });

  test('groups page with a keyset cursor and together make the whole answer', async () => {
    const whole = (await query({ groupBy: ['name'], sort: '-count', limit: 1000 })).groups!;
    const paged: QueryGroup[] = [];
    let cursor: string | null = null;
    do {
      const page: QueryResult = await query({
        groupBy: ['name'],
        sort: '-count',
        limit: 5,
        ...(cursor ? { cursor } : {}),
      });
      paged.push(...page.groups!);
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(paged, whole);
  });
});

describe('mistakes are refused with a stable code and a path', () => {
  const cases: Array<[string, object, string, RegExp]> = [
    ['revision without a bundle', { revision: [1] }, 'query_invalid', /name a bundle/],
    [
      'a malformed where',
      { where: { field: 'label:region', op: 'like', value: 'w%' } },
      'query_invalid',
      /where\.op/,
    ],
    ['an unknown group field', { groupBy: ['facts:os'] }, 'query_invalid', /groupBy\[0\]/],
    [
      'an aggregate over a label',
      { groupBy: ['connectivity'], aggregates: ['avg(label:region)'] },
      'query_invalid',
      /numeric property/,
    ],
    [
      'a grouped sort by a field',
      { groupBy: ['connectivity'], sort: 'name' },
      'query_invalid',
      /sorts by count/,
    ],
    [
      'an invalid selector',
      { selector: { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] } },
      'selector_invalid',
      /matchExpressions\[0\]/,
    ],
    ['a forged cursor', { cursor: 'bm90IGEgY3Vyc29y' }, 'query_invalid', /cursor/],
    ['an unknown body field', { filter: {} }, 'request_invalid', /filter|additional/],
  ];
  for (const [what, body, code, message] of cases) {
    test(`refuses ${what}`, async () => {
      const r = await hub.post<{ error: { code: string; message: string } }>('/api/v1/query', body);
      assert.equal(r.status, 400);
      assert.equal(r.body.error.code, code);
      assert.match(r.body.error.message, message);
    });
  }

  test('a cursor made under one sort is refused under another', async () => {
    const page = await query({ limit: 2 });
    const r = await hub.post<{ error: { code: string } }>('/api/v1/query', {
      limit: 2,
      sort: '-name',
      cursor: page.nextCursor,
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'query_invalid');
  });
});

describe('pagination while the fleet changes', () => {
  test('pages sorted by name never repeat a site and never skip one that was there all along', async () => {
    const before = names(records);
    const seen: string[] = [];
    let cursor: string | null = null;
    let round = 0;
    do {
      const page: QueryResult = await query({ limit: 5, ...(cursor ? { cursor } : {}) });
      seen.push(...page.sites!.map((s) => s.name));
      cursor = page.nextCursor;
      // between pages: new sites before and after the cursor, relabels, silence
      await hub.register(`store-${String(round).padStart(2, '0')}-new`, { region: 'west' });
      await hub.register(`aaa-${round}`, {});
      hub.advance(50_000);
      await hub.sweep();
      round++;
    } while (cursor);
    assert.equal(new Set(seen).size, seen.length, 'no site twice');
    for (const name of before) assert.ok(seen.includes(name), `${name} was not skipped`);
    assert.ok(!seen.some((n) => n.startsWith('aaa-')), 'sites added behind the cursor stay behind it');
  });

  test('pages sorted by a label, descending, stay stable while other sites change that label', async () => {
    records = await loadRecords();
    const stable = records.filter((r) => r.labels.format === 'max').map((r) => r.name);
    const seen: string[] = [];
    let cursor: string | null = null;
    let i = 0;
    do {
      const page: QueryResult = await query({
        sort: '-label:region',
        limit: 4,
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...page.sites!.map((s) => s.name));
      cursor = page.nextCursor;
      // relabel a site of the other format each round
      const mover = records.filter((r) => r.labels.format === 'mini')[i++];
      if (mover) {
        await hub.app.inject({
          method: 'PATCH',
          url: `/api/v1/sites/${mover.name}`,
          headers: operator,
          payload: { labels: { ...mover.labels, region: regions[i % 3]! } },
        });
      }
    } while (cursor);
    for (const name of stable) assert.equal(seen.filter((n) => n === name).length, 1, `${name} exactly once`);
    const regionsSeen = seen.map((n) => records.find((r) => r.name === n)?.labels.region ?? '');
    const stableOrder = regionsSeen.filter((_, k) => stable.includes(seen[k]!));
    assert.deepEqual(stableOrder, [...stableOrder].sort().reverse(), 'descending by region');
  });
});
