import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SiteConformanceView } from '../model/profile-wire.ts';
import { layerRank, offProfile, pageOf, revisionLayers } from './profile-view.ts';

test('a revision reads as its layers in upgrade order, pinned bundles with their revision', () => {
  assert.equal(
    revisionLayers({
      apps: [{ bundle: 'pos' }],
      kubernetes: { distribution: 'k3s', version: 'v1.32.1+k3s1' },
      addons: [{ bundle: 'monitoring', revision: 4 }, { bundle: 'ingress' }],
      os: { image: 'Ubuntu', version: '24.04' },
      upgradeDeadlineSeconds: 600,
    }),
    'OS Ubuntu 24.04 · Kubernetes k3s v1.32.1+k3s1 · add-ons monitoring@4, ingress · apps pos',
  );
  assert.equal(revisionLayers({ upgradeDeadlineSeconds: 600 }), 'no layers');
});

const site = (
  name: string,
  state: SiteConformanceView['state'],
  layers: SiteConformanceView['layers'] = [],
): SiteConformanceView => ({ site: name, revision: 2, state, layers });

test('sites off the profile: worst first, by name within a state, only the layers that are off', () => {
  const rows = offProfile([
    site('store-3', 'Upgrading', [
      { layer: 'kubernetes', state: 'Upgrading', behind: ['store-3-agent-1'], detail: '1 of 2 nodes' },
    ]),
    site('store-1', 'Conformant', [{ layer: 'kubernetes', state: 'Conformant', behind: [], detail: '' }]),
    site('store-4', 'Behind', [
      { layer: 'os', state: 'Conformant', behind: [], detail: '' },
      { layer: 'apps', state: 'Upgrading', behind: ['pos'], detail: 'pos runs 3' },
      { layer: 'kubernetes', state: 'Behind', behind: ['store-4-agent-2'], detail: 'missed the deadline' },
    ]),
    site('store-2', 'Behind', [
      { layer: 'kubernetes', state: 'Behind', behind: ['store-2-server'], detail: 'x' },
    ]),
    site('store-5', 'Unknown', [{ layer: 'kubernetes', state: 'Unknown', behind: [], detail: 'no nodes' }]),
  ]);
  assert.deepEqual(
    rows.map((r) => `${r.site} ${r.state}`),
    ['store-2 Behind', 'store-4 Behind', 'store-3 Upgrading', 'store-5 Unknown'],
  );
  assert.deepEqual(
    rows[1]!.layers.map((l) => `${l.layer} ${l.state} ${l.behind.join(',')}`),
    ['kubernetes Behind store-4-agent-2', 'apps Upgrading pos'],
    'the Conformant OS layer is left out, the Behind layer leads',
  );
});

test('layers rank in upgrade order; one the dashboard does not know comes last', () => {
  assert.deepEqual(
    ['apps', 'future', 'kubernetes', 'os'].sort((a, b) => layerRank(a) - layerRank(b)),
    ['os', 'kubernetes', 'apps', 'future'],
  );
});

test('a whole list pages by offset cursors, the last page without a next one', () => {
  const items = Array.from({ length: 7 }, (_, i) => i);
  assert.deepEqual(pageOf(items, undefined, 3), { items: [0, 1, 2], nextCursor: '3' });
  assert.deepEqual(pageOf(items, '3', 3), { items: [3, 4, 5], nextCursor: '6' });
  assert.deepEqual(pageOf(items, '6', 3), { items: [6], nextCursor: null });
  assert.deepEqual(pageOf(items, 'junk', 3), { items: [0, 1, 2], nextCursor: '3' });
});
