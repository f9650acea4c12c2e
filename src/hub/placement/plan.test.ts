import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { KubeObject } from '../../model/manifest.ts';
import { renderForSite } from '../../render/rendered.ts';
import { type LabelSelector, matchesSelector } from '../../select/labels.ts';
import {
  compileBundle,
  type ExistingDeployment,
  outcomeFor,
  type PlacementBundle,
  type PlacementPlan,
  type PlacementSite,
  pinKey,
  planPlacement,
} from './plan.ts';

function configMap(name: string, value = 'v'): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { value } };
}

function bundle(
  name: string,
  selector: LabelSelector,
  objects: KubeObject[] = [configMap(name)],
): PlacementBundle {
  return { name, revision: 1, selector, objects };
}

function site(id: string, labels: Record<string, string>, active = true): PlacementSite {
  return { id, labels, active };
}

function digestFor(b: PlacementBundle): string {
  return renderForSite({ bundle: b.name, namespace: b.namespace, objects: b.objects }).digest;
}

function placed(plan: PlacementPlan): string[] {
  return plan.place.map((p) => `${p.siteId}/${p.bundle}`).sort();
}

function unplaced(plan: PlacementPlan): string[] {
  return plan.unplace.map((p) => `${p.siteId}/${p.bundle}`).sort();
}

const west = bundle('pos', { matchLabels: { region: 'west' } });

describe('planPlacement', () => {
  test('a new matching site gets the bundle, with its rendered blob', () => {
    const plan = planPlacement([site('s1', { region: 'west' })], [west], []);
    assert.deepEqual(placed(plan), ['s1/pos']);
    const entry = plan.place[0]!;
    assert.equal(entry.revision, 1);
    assert.equal(entry.blob.digest, digestFor(west));
    assert.deepEqual([...plan.blobs.keys()], [digestFor(west)]);
    assert.equal(plan.blobs.get(entry.blob.digest), entry.blob);
    assert.deepEqual(plan.unplace, []);
  });

  test('a site that does not match gets nothing', () => {
    const plan = planPlacement([site('s1', { region: 'east' })], [west], []);
    assert.deepEqual(plan.place, []);
    assert.deepEqual(plan.unplace, []);
    assert.equal(plan.blobs.size, 0);
  });

  test('a site whose labels no longer match is unplaced', () => {
    const plan = planPlacement(
      [site('s1', { region: 'east' })],
      [west],
      [{ siteId: 's1', bundle: 'pos', desiredDigest: digestFor(west) }],
    );
    assert.deepEqual(plan.place, []);
    assert.deepEqual(unplaced(plan), ['s1/pos']);
  });

  test('a bundle gone from the list but still deployed is unplaced', () => {
    const plan = planPlacement(
      [site('s1', { region: 'west' })],
      [],
      [{ siteId: 's1', bundle: 'deleted', desiredDigest: 'sha256:old' }],
    );
    assert.deepEqual(unplaced(plan), ['s1/deleted']);
  });

  test('a deleted bundle on a site outside this plan is left to that site’s plan', () => {
    const plan = planPlacement(
      [site('s1', { region: 'west' })],
      [],
      [{ siteId: 'elsewhere', bundle: 'deleted', desiredDigest: 'sha256:old' }],
    );
    assert.deepEqual(plan.unplace, []);
  });

  test('an inactive site gets nothing, and what it had is unplaced', () => {
    const other = bundle('metrics', {});
    const plan = planPlacement(
      [site('s1', { region: 'west' }, false)],
      [west, other],
      [{ siteId: 's1', bundle: 'pos', desiredDigest: digestFor(west) }],
    );
    assert.deepEqual(plan.place, []);
    assert.deepEqual(unplaced(plan), ['s1/pos']);
  });

  test('an unchanged digest is not placed again', () => {
    const plan = planPlacement(
      [site('s1', { region: 'west' })],
      [west],
      [{ siteId: 's1', bundle: 'pos', desiredDigest: digestFor(west) }],
    );
    assert.deepEqual(plan.place, []);
    assert.deepEqual(plan.unplace, []);
    assert.equal(plan.blobs.size, 0);
  });

  test('a new revision with changed objects is placed again', () => {
    const next = { ...west, revision: 2, objects: [configMap('pos', 'changed')] };
    const plan = planPlacement(
      [site('s1', { region: 'west' })],
      [next],
      [{ siteId: 's1', bundle: 'pos', desiredDigest: digestFor(west) }],
    );
    assert.deepEqual(placed(plan), ['s1/pos']);
    assert.equal(plan.place[0]!.revision, 2);
    assert.equal(plan.place[0]!.blob.digest, digestFor(next));
  });

  test('a pinned site keeps the pinned revision while the others get the current one', () => {
    const v2 = { ...west, revision: 2, objects: [configMap('pos', 'v2')] };
    const existing = ['s1', 's2'].map((id) => ({
      siteId: id,
      bundle: 'pos',
      desiredDigest: digestFor(west),
    }));
    const plan = planPlacement(
      [site('s1', { region: 'west' }), site('s2', { region: 'west' })],
      [v2],
      existing,
      new Map([[pinKey('s1', 'pos'), west]]),
    );
    assert.deepEqual(placed(plan), ['s2/pos']);
    assert.equal(plan.place[0]!.revision, 2);
    assert.equal(plan.place[0]!.blob.digest, digestFor(v2));
    // the pin lifted, s1 moves too
    assert.deepEqual(placed(planPlacement([site('s1', { region: 'west' })], [v2], existing)), ['s1/pos']);
  });

  test('a row already unplaced (no digest) is not unplaced twice', () => {
    const plan = planPlacement(
      [site('s1', { region: 'east' })],
      [west],
      [{ siteId: 's1', bundle: 'pos', desiredDigest: null }],
    );
    assert.deepEqual(plan.unplace, []);
  });

  test('many sites share one blob per bundle', () => {
    const sites = ['a', 'b', 'c'].map((id) => site(id, { region: 'west' }));
    const plan = planPlacement(sites, [west, bundle('all', {})], []);
    assert.equal(plan.place.length, 6);
    assert.equal(plan.blobs.size, 2);
  });
});

// Small label alphabets so that selectors and sites match often enough to be interesting.
const key = fc.constantFrom('region', 'format', 'tier');
const value = fc.constantFrom('west', 'east', 'mini');
const labelsArb = fc.dictionary(key, value, { maxKeys: 3 });
const requirementArb = fc.oneof(
  fc.record({
    key,
    operator: fc.constantFrom('In' as const, 'NotIn' as const),
    values: fc.uniqueArray(value, { minLength: 1, maxLength: 2 }),
  }),
  fc.record({ key, operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const) }),
);
const selectorArb: fc.Arbitrary<LabelSelector> = fc.record(
  {
    matchLabels: fc.dictionary(key, value, { maxKeys: 2 }),
    matchExpressions: fc.array(requirementArb, { maxLength: 2 }),
  },
  { requiredKeys: [] },
);

const worldArb = fc
  .record({
    sites: fc.uniqueArray(
      fc.record({ id: fc.constantFrom('s1', 's2', 's3', 's4'), labels: labelsArb, active: fc.boolean() }),
      {
        selector: (s) => s.id,
        maxLength: 4,
      },
    ),
    bundles: fc.uniqueArray(
      fc.record({
        name: fc.constantFrom('pos', 'metrics', 'vpn'),
        revision: fc.nat({ max: 5 }),
        selector: selectorArb,
        objects: fc.array(
          fc.constantFrom('a', 'b').map((n) => configMap(n)),
          { maxLength: 2 },
        ),
      }),
      { selector: (b) => b.name, maxLength: 3 },
    ),
    // Existing rows may name bundles that were deleted ('gone') and carry stale or absent digests.
    existingPicks: fc.array(
      fc.record({
        site: fc.nat(),
        bundle: fc.constantFrom('pos', 'metrics', 'vpn', 'gone'),
        digest: fc.constantFrom<string | null>(null, 'sha256:stale', 'current'),
      }),
      { maxLength: 8 },
    ),
  })
  .map(({ sites, bundles, existingPicks }) => {
    const byName = new Map<string, PlacementBundle>(bundles.map((b) => [b.name, b]));
    const seen = new Set<string>();
    const existing: ExistingDeployment[] = [];
    for (const pick of existingPicks) {
      if (sites.length === 0) break;
      const siteId = sites[pick.site % sites.length]!.id;
      if (seen.has(`${siteId}/${pick.bundle}`)) continue;
      seen.add(`${siteId}/${pick.bundle}`);
      const b = byName.get(pick.bundle);
      const desiredDigest = pick.digest === 'current' ? (b ? digestFor(b) : 'sha256:old') : pick.digest;
      existing.push({ siteId, bundle: pick.bundle, desiredDigest });
    }
    return { sites, bundles, existing };
  });

/** What the store would hold after carrying out the plan: placed rows take the digest, unplaced rows go. */
function apply(existing: readonly ExistingDeployment[], plan: PlacementPlan): ExistingDeployment[] {
  const rows = new Map(existing.map((d) => [`${d.siteId}\u0000${d.bundle}`, { ...d }]));
  for (const u of plan.unplace) rows.delete(`${u.siteId}\u0000${u.bundle}`);
  for (const p of plan.place) {
    rows.set(`${p.siteId}\u0000${p.bundle}`, {
      siteId: p.siteId,
      bundle: p.bundle,
      desiredDigest: p.blob.digest,
    });
  }
  return [...rows.values()];
}

describe('planPlacement properties', () => {
  test('property: after the plan, exactly the active matching pairs carry the right digest', () => {
    fc.assert(
      fc.property(worldArb, ({ sites, bundles, existing }) => {
        const after = apply(existing, planPlacement(sites, bundles, existing));
        const got = after
          .filter((d) => d.desiredDigest !== null)
          .map((d) => `${d.siteId}/${d.bundle}=${d.desiredDigest}`)
          .sort();
        const want = sites
          .filter((s) => s.active)
          .flatMap((s) =>
            bundles
              .filter((b) => matchesSelector(b.selector, s.labels))
              .map((b) => `${s.id}/${b.name}=${digestFor(b)}`),
          )
          .sort();
        assert.deepEqual(got, want);
      }),
    );
  });

  test('property: planning again from the result changes nothing', () => {
    fc.assert(
      fc.property(worldArb, ({ sites, bundles, existing }) => {
        const after = apply(existing, planPlacement(sites, bundles, existing));
        const again = planPlacement(sites, bundles, after);
        assert.deepEqual(again.place, []);
        assert.deepEqual(again.unplace, []);
        assert.equal(again.blobs.size, 0);
      }),
    );
  });

  test('property: every placed blob is listed in blobs, and no pair is both placed and unplaced', () => {
    fc.assert(
      fc.property(worldArb, ({ sites, bundles, existing }) => {
        const plan = planPlacement(sites, bundles, existing);
        for (const p of plan.place) assert.equal(plan.blobs.get(p.blob.digest), p.blob);
        const placedPairs = new Set(placed(plan));
        for (const u of unplaced(plan)) assert.ok(!placedPairs.has(u), `${u} is both placed and unplaced`);
        assert.equal(new Set(unplaced(plan)).size, plan.unplace.length);
      }),
    );
  });
});

describe('per-site customization in placement', () => {
  const templated: PlacementBundle = {
    name: 'pos',
    revision: 2,
    selector: {},
    objects: [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'till' },
        data: { lanes: '${site.properties.lanes}', region: '${site.labels.region}' },
      },
    ],
  };
  const withProps = (id: string, labels: Record<string, string>, properties: Record<string, unknown>) => ({
    id,
    name: id,
    labels,
    properties,
    active: true,
  });

  test('one bad site fails alone; the others are placed with their own renderings', () => {
    const plan = planPlacement(
      [
        withProps('s1', { region: 'west' }, { lanes: 4 }),
        withProps('s2', { region: 'east' }, { lanes: 2 }),
        withProps('s3', { region: 'west' }, {}),
      ],
      [templated],
      [],
    );
    assert.deepEqual(placed(plan), ['s1/pos', 's2/pos']);
    assert.equal(plan.blobs.size, 2);
    assert.deepEqual(
      plan.fail.map((f) => [f.siteId, f.error.site, f.error.code]),
      [['s3', 's3', 'render_failed']],
    );
    assert.match(plan.fail[0]!.error.message, /site s3 has no property "lanes"/);
  });

  test('a failing site keeps what it runs: no unplace, and the same failure is not written twice', () => {
    const existing = [{ siteId: 's3', bundle: 'pos', desiredDigest: 'sha256:old' }];
    const plan = planPlacement([withProps('s3', { region: 'west' }, {})], [templated], existing);
    assert.deepEqual(plan.unplace, []);
    assert.equal(plan.fail.length, 1);
    const again = planPlacement(
      [withProps('s3', { region: 'west' }, {})],
      [templated],
      [{ ...existing[0]!, renderError: plan.fail[0]!.error.message }],
    );
    assert.deepEqual([again.fail, again.place, again.unplace], [[], [], []]);
  });

  test('a fixed site is placed again even when its digest did not change', () => {
    const site = withProps('s1', { region: 'west' }, { lanes: 4 });
    const digest = planPlacement([site], [templated], []).place[0]!.blob.digest;
    const plan = planPlacement(
      [site],
      [templated],
      [{ siteId: 's1', bundle: 'pos', desiredDigest: digest, renderError: 'earlier failure' }],
    );
    assert.deepEqual(placed(plan), ['s1/pos']);
  });

  test('a failure-only row of a site no longer targeted is forgotten', () => {
    const narrowed = { ...templated, selector: { matchLabels: { region: 'north' } } };
    const plan = planPlacement(
      [withProps('s3', { region: 'west' }, {})],
      [narrowed],
      [{ siteId: 's3', bundle: 'pos', desiredDigest: null, renderError: 'x' }],
    );
    assert.deepEqual(plan.forget, [{ siteId: 's3', bundle: 'pos' }]);
    assert.deepEqual(plan.unplace, []);
  });

  test('a CEL error is that site’s placement failure, never a silent "not placed"', () => {
    const cel = { ...bundle('gated', {}), placement: { cel: 'properties.lanes > 2' } };
    const plan = planPlacement(
      [withProps('s1', {}, { lanes: 4 }), withProps('s2', {}, { lanes: 1 }), withProps('s3', {}, {})],
      [cel],
      [],
    );
    assert.deepEqual(placed(plan), ['s1/gated']);
    assert.deepEqual(
      plan.fail.map((f) => f.siteId),
      ['s3'],
    );
    assert.match(plan.fail[0]!.error.message, /placement: CEL/);
  });

  test('include and exclude by name override the selector', () => {
    const b = {
      ...bundle('pos', { matchLabels: { region: 'west' } }),
      placement: { include: ['s2'], exclude: ['s1'] },
    };
    const plan = planPlacement(
      [withProps('s1', { region: 'west' }, {}), withProps('s2', { region: 'east' }, {})],
      [b],
      [],
    );
    assert.deepEqual(placed(plan), ['s2/pos']);
  });

  test('10,000 sites render once per distinct set of the inputs the bundle reads', () => {
    const reads: PlacementBundle = {
      ...templated,
      objects: [
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'till' },
          data: { r: '${site.labels.region}' },
        },
      ],
    };
    const sites = Array.from({ length: 10_000 }, (_, i) =>
      withProps(`s${i}`, { region: ['west', 'east', 'north'][i % 3]!, shard: String(i) }, { storeId: i }),
    );
    const compiled = compileBundle(reads);
    const digests = new Set(
      sites.map((s) => {
        const o = outcomeFor(compiled, s);
        return o.kind === 'targeted' ? o.blob.digest : o.kind;
      }),
    );
    assert.equal(compiled.cache.size, 3, 'one render per region');
    assert.equal(digests.size, 3);
    const started = performance.now();
    const plan = planPlacement(sites, [reads], []);
    const ms = performance.now() - started;
    assert.equal(plan.place.length, 10_000);
    assert.equal(plan.blobs.size, 3);
    assert.ok(ms < 5000, `planning took ${ms} ms`);
  });
});

describe('chart bundles in placement', () => {
  const chart: PlacementBundle = {
    name: 'kiosk',
    revision: 2,
    selector: { matchLabels: { region: 'west' } },
    objects: [],
    helm: {
      chart: 'sha256:c',
      chartPath: 'kiosk/chart',
      release: 'kiosk',
      valuesFiles: [],
      values: {},
      helm: 'v4.3.2',
      origin: { file: 'kiosk/bundle.yaml', line: 7 },
    },
  };
  const sites = [
    { ...site('s1', { region: 'west' }), kubeVersion: 'v1.33.0' },
    { ...site('s2', { region: 'west' }), kubeVersion: 'v1.31.0' },
  ];

  test('sites wait for renderings not made yet, asked for once per distinct set of inputs', () => {
    const plan = planPlacement(sites, [chart], []);
    assert.deepEqual(
      plan.wait.map((w) => w.siteId),
      ['s1', 's2'],
    );
    assert.equal(plan.wanted.size, 2, 'two Kubernetes versions, two renderings');
    assert.deepEqual(plan.place, []);
  });

  test('a site running an earlier revision keeps it while the new rendering is made', () => {
    const existing: ExistingDeployment[] = [{ siteId: 's1', bundle: 'kiosk', desiredDigest: 'sha256:old' }];
    const plan = planPlacement([sites[0]!], [chart], existing);
    assert.deepEqual(plan.wait, []);
    assert.deepEqual(plan.unplace, []);
    assert.equal(plan.wanted.size, 1);
  });

  test('made renderings are placed; a waiting row of a site no longer targeted is forgotten', () => {
    const wanted = planPlacement(sites, [chart], []).wanted;
    const renderings = new Map(
      [...wanted.keys()].map((d) => [
        d,
        { objects: [configMap('screen')], origins: [{ file: 'x', line: 1 }] },
      ]),
    );
    const plan = planPlacement(sites, [chart], [], new Map(), renderings);
    assert.deepEqual(placed(plan), ['s1/kiosk', 's2/kiosk']);
    const moved = planPlacement(
      [site('s1', { region: 'east' })],
      [chart],
      [{ siteId: 's1', bundle: 'kiosk', desiredDigest: null, waiting: true }],
    );
    assert.deepEqual(moved.forget, [{ siteId: 's1', bundle: 'kiosk' }]);
  });
});
