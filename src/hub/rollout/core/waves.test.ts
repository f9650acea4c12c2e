import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { defaultWaves, type WaveSpec } from '../../../model/rollout-strategy.ts';
import { assignWaves, type WaveSite } from './waves.ts';

function fleet(n: number, labels: (i: number) => Record<string, string> = () => ({})): WaveSite[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `id-${i}`,
    name: `store-${String(i).padStart(3, '0')}`,
    labels: labels(i),
  }));
}

function sizes(waves: WaveSpec[], sites: WaveSite[]): [string, number][] {
  return assignWaves({ waves }, sites).waves.map((w) => [w.name, w.siteIds.length]);
}

describe('the default waves', () => {
  const cases: [number, [string, number][]][] = [
    [0, []],
    [1, [['canary', 1]]],
    [
      2,
      [
        ['canary', 1],
        ['10%', 1],
      ],
    ],
    [
      3,
      [
        ['canary', 1],
        ['10%', 1],
        ['rest', 1],
      ],
    ],
    [
      11,
      [
        ['canary', 1],
        ['10%', 1],
        ['rest', 9],
      ],
    ],
    [
      101,
      [
        ['canary', 1],
        ['10%', 10],
        ['rest', 90],
      ],
    ],
    [
      1000,
      [
        ['canary', 1],
        ['10%', 99],
        ['rest', 900],
      ],
    ],
  ];
  for (const [n, want] of cases) {
    test(`${n} sites split as ${JSON.stringify(want)}`, () => {
      assert.deepEqual(sizes([...defaultWaves], fleet(n)), want);
    });
  }

  test('the canary is the first site by name, whatever order the sites come in', () => {
    const sites = fleet(5).reverse();
    assert.deepEqual(assignWaves({ waves: [...defaultWaves] }, sites).waves[0], {
      name: 'canary',
      siteIds: ['id-0'],
    });
  });
});

describe('assignWaves', () => {
  test('named canaries first, by site name; names that match no site are reported', () => {
    const got = assignWaves(
      { waves: [{ name: 'pilots', sites: ['store-002', 'store-000', 'ghost'] }] },
      fleet(4),
    );
    assert.deepEqual(got.waves, [
      { name: 'pilots', siteIds: ['id-0', 'id-2'] },
      { name: 'remaining', siteIds: ['id-1', 'id-3'] },
    ]);
    assert.deepEqual(got.unknownSites, ['ghost']);
  });

  test('sites no wave picks go to a final "remaining" wave, never left out', () => {
    const sites = fleet(4, (i): Record<string, string> => (i < 2 ? { region: 'west' } : {}));
    assert.deepEqual(
      assignWaves({ waves: [{ selector: { matchLabels: { region: 'west' } } }] }, sites).waves,
      [
        { name: 'wave 1', siteIds: ['id-0', 'id-1'] },
        { name: 'remaining', siteIds: ['id-2', 'id-3'] },
      ],
    );
  });

  test('a site matched by two waves belongs to the first', () => {
    const sites = fleet(3, () => ({ region: 'west' }));
    assert.deepEqual(sizes([{ count: 1 }, { selector: { matchLabels: { region: 'west' } } }], sites), [
      ['wave 1', 1],
      ['wave 2', 2],
    ]);
  });

  test('groupBy makes one wave per value, values sorted, sites lacking the label last', () => {
    const regions = ['west', undefined, 'east', 'north', 'east', undefined];
    const sites = fleet(6, (i): Record<string, string> => (regions[i] ? { region: regions[i]! } : {}));
    assert.deepEqual(
      assignWaves({ waves: [{ count: 1 }, { name: 'by region', groupBy: 'region' }] }, sites).waves,
      [
        { name: 'wave 1', siteIds: ['id-0'] },
        { name: 'by region region=east', siteIds: ['id-2', 'id-4'] },
        { name: 'by region region=north', siteIds: ['id-3'] },
        { name: 'by region region unset', siteIds: ['id-1', 'id-5'] },
      ],
    );
  });

  test('groupBy keeps an empty label value as a group of its own, apart from a missing label', () => {
    const sites = fleet(2, (i): Record<string, string> => (i === 0 ? { tier: '' } : {}));
    assert.deepEqual(sizes([{ groupBy: 'tier' }], sites), [
      ['tier=', 1],
      ['tier unset', 1],
    ]);
  });

  test('waves that pick nothing are dropped, and repeated names get a suffix', () => {
    assert.deepEqual(
      sizes([{ name: 'x', sites: ['ghost'] }, { count: 1 }, { name: 'remaining', count: 1 }], fleet(3)),
      [
        ['wave 2', 1],
        ['remaining', 1],
        ['remaining #2', 1],
      ],
    );
  });

  test('percent takes a share of the sites still unassigned', () => {
    assert.deepEqual(sizes([{ count: 10 }, { percent: 50 }, { percent: 50 }], fleet(20)), [
      ['wave 1', 10],
      ['wave 2', 5],
      ['wave 3', 2],
      ['remaining', 3],
    ]);
  });

  const spec: fc.Arbitrary<WaveSpec> = fc.oneof(
    fc.record({
      sites: fc.uniqueArray(
        fc.integer({ min: 0, max: 40 }).map((i) => `store-${String(i).padStart(3, '0')}`),
        { minLength: 1 },
      ),
    }),
    fc.record({ selector: fc.record({ matchLabels: fc.record({ region: fc.constantFrom('a', 'b') }) }) }),
    fc.record({ count: fc.integer({ min: 1, max: 10 }) }),
    fc.record({ percent: fc.integer({ min: 1, max: 100 }) }),
    fc.record({ groupBy: fc.constantFrom('region', 'tier') }),
  );
  const sitesArb = fc
    .array(
      fc.record({
        region: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }),
        tier: fc.option(fc.constantFrom('x', 'y'), { nil: undefined }),
      }),
      { maxLength: 40 },
    )
    .map((ls) =>
      fleet(ls.length, (i) => {
        const l = ls[i]!;
        return Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined)) as Record<
          string,
          string
        >;
      }),
    );

  test('property: every site is in exactly one wave, no wave is empty, and input order does not matter', () => {
    fc.assert(
      fc.property(
        fc.array(spec, { minLength: 1, maxLength: 5 }),
        sitesArb,
        fc.infiniteStream(fc.double()),
        (waves, sites, rnd) => {
          const got = assignWaves({ waves }, sites);
          const all = got.waves.flatMap((w) => w.siteIds);
          assert.deepEqual([...all].sort(), sites.map((s) => s.id).sort());
          assert.equal(new Set(all).size, all.length);
          assert.ok(got.waves.every((w) => w.siteIds.length > 0));
          assert.equal(new Set(got.waves.map((w) => w.name)).size, got.waves.length);
          const shuffled = [...sites]
            .map((s) => ({ s, k: rnd.next().value }))
            .sort((a, b) => a.k - b.k)
            .map((x) => x.s);
          assert.deepEqual(assignWaves({ waves }, shuffled), got);
        },
      ),
    );
  });
});
