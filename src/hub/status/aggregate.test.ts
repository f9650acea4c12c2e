import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type DeploymentState, deploymentStates } from '../../model/deployment.ts';
import { type Connectivity, connectivities, type Lifecycle, lifecycles } from '../../model/site.ts';
import {
  addDeltas,
  aggregateDeltas,
  attentionOf,
  type CellCounts,
  cellId,
  contributions,
  type DeploymentFacts,
  type SiteFacts,
  transitionEvents,
} from './aggregate.ts';

const labelKeys = ['region', 'format'];

const deploymentArb: fc.Arbitrary<DeploymentFacts> = fc.record({
  bundle: fc.constantFrom('web', 'pos', 'cam'),
  revision: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }),
  state: fc.constantFrom(...deploymentStates),
  placed: fc.boolean(),
  stateSince: fc.constantFrom('2025-01-01T00:00:00.000Z', '2025-01-02T00:00:00.000Z'),
  message: fc.constantFrom('', 'boom', 'rolled back to r1'),
});

const siteArb: fc.Arbitrary<SiteFacts> = fc.record({
  name: fc.constant('s'),
  lifecycle: fc.constantFrom(...lifecycles),
  connectivity: fc.constantFrom(...connectivities),
  connectivitySince: fc.constant('2025-01-01T00:00:00.000Z'),
  labels: fc.record(
    {
      region: fc.constantFrom('west', 'east'),
      format: fc.constantFrom('mini', 'max'),
      tier: fc.constant('x'),
    },
    { requiredKeys: [] },
  ),
  deployments: fc.uniqueArray(deploymentArb, { selector: (d) => d.bundle, maxLength: 3 }),
});

/** The counts written out longhand from the definition, to hold the delta machinery to. */
function recount(sites: readonly SiteFacts[]): CellCounts {
  const out: CellCounts = new Map();
  const inc = (id: string) => out.set(id, (out.get(id) ?? 0) + 1);
  for (const s of sites) {
    inc(cellId('fleet', '', 'sites'));
    inc(cellId('fleet', '', `lifecycle:${s.lifecycle}`));
    const active = s.lifecycle === 'Active';
    if (active) inc(cellId('fleet', '', `connectivity:${s.connectivity}`));
    for (const k of labelKeys) {
      const v = s.labels[k];
      if (v === undefined) continue;
      inc(cellId('label', `${k}=${v}`, 'sites'));
      if (active) inc(cellId('label', `${k}=${v}`, `connectivity:${s.connectivity}`));
      for (const d of s.deployments) if (d.placed) inc(cellId('label', `${k}=${v}`, `state:${d.state}`));
    }
    for (const d of s.deployments) {
      if (!d.placed) continue;
      inc(cellId('fleet', '', `state:${d.state}`));
      inc(cellId('bundle', d.bundle, `state:${d.state}`));
      if (active) inc(cellId('bundle', d.bundle, `connectivity:${s.connectivity}`));
      if (d.revision !== null) {
        inc(cellId('revision', `${d.bundle}@${d.revision}`, `state:${d.state}`));
        if (active) inc(cellId('revision', `${d.bundle}@${d.revision}`, `connectivity:${s.connectivity}`));
      }
    }
  }
  return out;
}

function sorted(m: CellCounts): Array<[string, number]> {
  return [...m].filter(([, n]) => n !== 0).sort(([a], [b]) => (a < b ? -1 : 1));
}

describe('aggregate deltas', () => {
  test('property: after any sequence of site changes, summed deltas equal a recount of the final sites', () => {
    // Each step replaces, adds or removes one of up to 5 sites.
    const stepArb = fc.record({ slot: fc.nat({ max: 4 }), next: fc.option(siteArb, { nil: undefined }) });
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 40 }), (steps) => {
        const slots: Array<SiteFacts | undefined> = [undefined, undefined, undefined, undefined, undefined];
        const counts: CellCounts = new Map();
        for (const { slot, next } of steps) {
          addDeltas(counts, aggregateDeltas(slots[slot], next, labelKeys));
          slots[slot] = next;
        }
        assert.deepEqual(sorted(counts), sorted(recount(slots.filter((s) => s !== undefined))));
      }),
    );
  });

  test('a change that moves nothing yields no deltas', () => {
    fc.assert(
      fc.property(siteArb, (s) => {
        assert.equal(aggregateDeltas(s, structuredClone(s), labelKeys).size, 0);
      }),
    );
  });

  test('property: the deltas between two sites are what the second adds less what the first adds', () => {
    // the second site is often the first with a few facts moved, so both the short cut for changes that
    // count nowhere and the full difference are exercised
    const variantArb = fc.tuple(siteArb, siteArb, fc.nat({ max: 8 })).map(([a, b, pick]) => {
      const other = b.deployments[0] ?? { state: 'Failed', revision: null, placed: false };
      const first = (change: Partial<DeploymentFacts>) =>
        a.deployments.map((d, i) => (i === 0 ? { ...d, ...change } : d));
      const moved: SiteFacts = [
        { ...a, connectivity: b.connectivity },
        { ...a, deployments: first({ state: other.state }) },
        { ...a, deployments: first({ revision: other.revision }) },
        { ...a, deployments: first({ placed: other.placed }) },
        { ...a, labels: b.labels },
        { ...a, deployments: b.deployments },
        { ...a, lifecycle: b.lifecycle, connectivitySince: b.connectivitySince },
        { ...a, deployments: a.deployments.map((d) => ({ ...d, message: 'later', stateSince: '' })) },
        b,
      ][pick]!;
      return [a, moved] as const;
    });
    fc.assert(
      fc.property(variantArb, ([a, b]) => {
        const expected = contributions(b, labelKeys);
        addDeltas(expected, new Map([...contributions(a, labelKeys)].map(([id, n]) => [id, -n])));
        assert.deepEqual(sorted(aggregateDeltas(a, b, labelKeys)), sorted(expected));
      }),
    );
  });

  test('an Offline site moving Online moves one count from Offline to Online per dimension it is in', () => {
    const site: SiteFacts = {
      name: 'a',
      lifecycle: 'Active',
      connectivity: 'Offline',
      connectivitySince: '2025-01-01T00:00:00.000Z',
      labels: { region: 'west' },
      deployments: [
        { bundle: 'web', revision: 2, state: 'Ready', placed: true, stateSince: '', message: '' },
      ],
    };
    const deltas = aggregateDeltas(site, { ...site, connectivity: 'Online' }, labelKeys);
    assert.deepEqual(
      sorted(deltas),
      sorted(
        new Map([
          [cellId('fleet', '', 'connectivity:Offline'), -1],
          [cellId('fleet', '', 'connectivity:Online'), 1],
          [cellId('label', 'region=west', 'connectivity:Offline'), -1],
          [cellId('label', 'region=west', 'connectivity:Online'), 1],
          [cellId('bundle', 'web', 'connectivity:Offline'), -1],
          [cellId('bundle', 'web', 'connectivity:Online'), 1],
          [cellId('revision', 'web@2', 'connectivity:Offline'), -1],
          [cellId('revision', 'web@2', 'connectivity:Online'), 1],
        ]),
      ),
    );
  });

  test('labels that are not aggregated, and inherited keys, count nowhere', () => {
    const site: SiteFacts = {
      name: 'a',
      lifecycle: 'Active',
      connectivity: 'Online',
      connectivitySince: '',
      labels: { tier: 'gold' },
      deployments: [],
    };
    const ids = [...contributions(site, ['region', 'constructor']).keys()];
    assert.ok(
      ids.every((id) => !id.startsWith('label')),
      ids.join(' '),
    );
  });
});

function facts(
  connectivity: Connectivity,
  deployments: Array<[string, DeploymentState, string]>,
  lifecycle: Lifecycle = 'Active',
): SiteFacts {
  return {
    name: 'store-1',
    lifecycle,
    connectivity,
    connectivitySince: '2025-01-05T00:00:00.000Z',
    labels: {},
    deployments: deployments.map(([bundle, state, since]) => ({
      bundle,
      revision: 1,
      state,
      placed: true,
      stateSince: since,
      message: '',
    })),
  };
}

describe('attention', () => {
  test('a healthy, connected site needs no attention', () => {
    assert.equal(attentionOf(facts('Online', [['web', 'Ready', '2025-01-01']])), undefined);
  });

  test('a failed deployment outranks being offline, and offline outranks not ready', () => {
    const failed = attentionOf(
      facts('Offline', [
        ['web', 'Failed', '2025-01-03'],
        ['pos', 'NotReady', ''],
      ]),
    );
    assert.equal(failed?.reason, 'Failed');
    const offline = attentionOf(facts('Offline', [['pos', 'NotReady', '2025-01-01']]));
    assert.equal(offline?.reason, 'Offline');
    assert.equal(offline?.since, '2025-01-05T00:00:00.000Z');
    const stale = attentionOf(facts('Stale', [['pos', 'NotReady', '2025-01-01']]));
    assert.equal(stale?.reason, 'NotReady');
    assert.ok(failed!.rank > offline!.rank && offline!.rank > stale!.rank);
  });

  test('between two failures the older one is the reason, so the list shows the oldest first', () => {
    const a = attentionOf(
      facts('Online', [
        ['web', 'Failed', '2025-01-03'],
        ['pos', 'Failed', '2025-01-02'],
      ]),
    );
    assert.equal(a?.since, '2025-01-02');
    assert.match(a!.detail, /^pos/);
  });

  test('a decommissioned site that went quiet needs no attention', () => {
    assert.equal(attentionOf(facts('Offline', [], 'Decommissioned')), undefined);
  });
});

describe('transition events', () => {
  test('connectivity moves of an active site are events; the same connectivity is none', () => {
    const types = (from: Connectivity, to: Connectivity) =>
      transitionEvents(facts(from, []), facts(to, [])).map((e) => e.type);
    assert.deepEqual(types('Online', 'Stale'), ['became_stale']);
    assert.deepEqual(types('Stale', 'Offline'), ['went_offline']);
    assert.deepEqual(types('Offline', 'Online'), ['came_back']);
    assert.deepEqual(types('Online', 'Online'), []);
  });

  test('a deployment failing, drifting and recovering are events; staying failed is not', () => {
    const at = (state: DeploymentState) => facts('Online', [['web', state, '']]);
    assert.deepEqual(
      transitionEvents(at('Ready'), at('Failed')).map((e) => [e.type, e.bundle]),
      [['failed', 'web']],
    );
    assert.deepEqual(transitionEvents(at('Failed'), at('Failed')), []);
    assert.deepEqual(
      transitionEvents(at('Failed'), at('Ready')).map((e) => e.type),
      ['recovered'],
    );
    assert.deepEqual(
      transitionEvents(at('Ready'), at('Drifted')).map((e) => e.type),
      ['drifted'],
    );
    assert.deepEqual(transitionEvents(at('NotReady'), at('Ready')), []);
  });

  test('a message saying the agent rolled back is one rolled_back event, not one per report', () => {
    const before = facts('Online', [['web', 'Failed', '']]);
    const after = structuredClone(before);
    (after.deployments[0] as { message: string }).message = 'health check failed; rolled back to r1';
    assert.deepEqual(
      transitionEvents(before, after).map((e) => e.type),
      ['rolled_back'],
    );
    assert.deepEqual(transitionEvents(after, structuredClone(after)), []);
  });

  test('the agent bundle saying an upgrade was reverted is one agent_upgrade_reverted event', () => {
    const before = facts('Online', [['outpost-agent', 'Applying', '']]);
    const after = structuredClone(before);
    Object.assign(after.deployments[0]!, {
      state: 'Failed',
      message: 'agent upgrade to 0.3.0 reverted: not ready within 300s; running 0.2.0',
    });
    const events = transitionEvents(before, after);
    assert.deepEqual(
      events.map((e) => e.type),
      ['failed', 'agent_upgrade_reverted'],
    );
    assert.match(events[1]!.message, /reverted: not ready within 300s; running 0.2.0/);
    assert.deepEqual(transitionEvents(after, structuredClone(after)), []);
    const other = structuredClone(after);
    Object.assign(other.deployments[0]!, { bundle: 'pos' });
    assert.deepEqual(
      transitionEvents(facts('Online', [['pos', 'Applying', '']]), other).map((e) => e.type),
      ['failed'],
      'only the agent bundle speaks for the agent',
    );
  });
});
