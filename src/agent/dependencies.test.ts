import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReportedState } from '../model/deployment.ts';
import { inDependencyOrder, waitingFor } from './dependencies.ts';

test('a bundle waits for each dependency not Ready here, saying its state', () => {
  const states = new Map<string, ReportedState>([
    ['pos-crds', 'NotReady'],
    ['base', 'Ready'],
  ]);
  const placed = new Set(['pos-crds', 'base', 'new']);
  const of = (b: string) => states.get(b);
  assert.equal(waitingFor(['pos-crds'], of, placed), 'waiting for pos-crds (NotReady)');
  assert.equal(waitingFor(['base'], of, placed), undefined);
  assert.equal(waitingFor([], of, placed), undefined);
  assert.equal(
    waitingFor(['base', 'new', 'elsewhere'], of, placed),
    'waiting for new (not applied yet), elsewhere (not placed on this site)',
  );
});

test('deployments are worked through dependencies first', () => {
  const deps: Record<string, string[]> = { pos: ['pos-crds'], 'pos-crds': [] };
  const order = inDependencyOrder(
    [{ bundle: 'pos' }, { bundle: 'hello' }, { bundle: 'pos-crds' }],
    (b) => deps[b] ?? [],
  );
  assert.deepEqual(
    order.map((d) => d.bundle),
    ['pos-crds', 'pos', 'hello'],
  );
});
