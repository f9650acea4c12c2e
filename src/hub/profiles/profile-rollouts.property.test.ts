// Random strategies and conformance histories driven through rollout/core the way a profile rollout
// is: whatever the strategy says on failure and however sites fare, nothing is ever sent back.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { validateStrategy } from '../../model/rollout-strategy.ts';
import { decide } from '../rollout/core/decide.ts';
import { applyTransitions, planRollout, type SiteProgress } from '../rollout/core/state.ts';
import type { ConformanceState } from './core/conformance.ts';
import { profileStrategy, progressStateOf } from './core/rollout-progress.ts';

const states: ConformanceState[] = ['Conformant', 'Upgrading', 'Behind', 'Ahead', 'Unknown'];

test('a profile rollout never rolls a site back, whatever its strategy and its sites’ conformance', () => {
  fc.assert(
    fc.property(
      fc.record({
        sites: fc.integer({ min: 1, max: 12 }),
        onFailure: fc.constantFrom('pause', 'rollback'),
        maxFailures: fc.integer({ min: 0, max: 3 }),
        deadline: fc.integer({ min: 60, max: 7200 }),
        steps: fc.array(fc.array(fc.constantFrom(...states), { minLength: 12, maxLength: 12 }), {
          minLength: 1,
          maxLength: 15,
        }),
      }),
      ({ sites, onFailure, maxFailures, deadline, steps }) => {
        const checked = validateStrategy({ onFailure, maxFailures, bakeSeconds: 0, maxConcurrent: '100%' });
        assert.ok('strategy' in checked);
        const strategy = profileStrategy(checked.strategy, deadline);
        const fleet = Array.from({ length: sites }, (_, i) => ({
          id: `s${i}`,
          name: `site-${i}`,
          labels: {},
        }));
        let { state, rows } = planRollout(strategy, fleet);
        let now = Date.parse('2026-06-01T00:00:00Z');
        for (const step of steps) {
          const progress: SiteProgress[] = rows.map((row, i) => ({
            ...row,
            name: `site-${i}`,
            connectivity: 'Online',
            // only a started site is judged against the new revision
            ...(row.startedAt ? { deploymentState: progressStateOf({ state: step[i]!, layers: [] }) } : {}),
          }));
          const decision = decide({ strategy, state, sites: progress, now: new Date(now) });
          assert.deepEqual(decision.rollback, []);
          assert.notEqual(decision.state.phase, 'RollingBack');
          assert.ok(decision.transitions.every((t) => t.to !== 'RolledBack'));
          state = decision.state;
          rows = applyTransitions(rows, decision.transitions);
          now += 60_000;
        }
      },
    ),
  );
});
