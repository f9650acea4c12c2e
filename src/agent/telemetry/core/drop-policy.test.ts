import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { telemetryClasses } from '../../../model/telemetry.ts';
import { planBatch, planRoom, type SegmentQueues, totalBytes } from './drop-policy.ts';

const seg = (no: number, bytes = 100, records = 1) => ({ no, bytes, records });
const empty: SegmentQueues = { sli: [], event: [], metric: [], debug: [] };

test('nothing is dropped while the record fits in the budget', () => {
  const queues = { ...empty, debug: [seg(1), seg(2)] };
  assert.deepEqual(planRoom(queues, 300, 'sli', 100), { drops: [], fits: true });
});

test('room is made from the oldest segment of the lowest class first, skipping the one on the wire', () => {
  const queues: SegmentQueues = {
    sli: [seg(1)],
    event: [],
    metric: [seg(4), seg(5)],
    debug: [seg(7), seg(8)],
  };
  assert.deepEqual(planRoom(queues, 500, 'sli', 200, [{ cls: 'debug', no: 7 }]), {
    drops: [
      { cls: 'debug', no: 8 },
      { cls: 'metric', no: 4 },
    ],
    fits: true,
  });
});

test('a record never displaces data of a higher class: then it is the one that goes', () => {
  const queues: SegmentQueues = { ...empty, sli: [seg(1), seg(2)] };
  assert.deepEqual(planRoom(queues, 250, 'debug', 100), { drops: [], fits: false });
  assert.deepEqual(planRoom(queues, 250, 'sli', 100), { drops: [{ cls: 'sli', no: 1 }], fits: true });
});

test('a batch takes the highest class first, oldest first, and stops at the first segment that does not fit', () => {
  const queues: SegmentQueues = {
    sli: [],
    event: [seg(3), seg(4)],
    metric: [seg(1, 300), seg(2)],
    debug: [seg(9)],
  };
  assert.deepEqual(planBatch(queues, 250), [
    { cls: 'event', no: 3 },
    { cls: 'event', no: 4 },
  ]);
  assert.deepEqual(
    planBatch(queues, 10_000).map((r) => `${r.cls}.${r.no}`),
    ['event.3', 'event.4', 'metric.1', 'metric.2', 'debug.9'],
  );
  assert.deepEqual(
    planBatch({ ...empty, metric: [seg(1, 5000)] }, 100),
    [{ cls: 'metric', no: 1 }],
    'at least one',
  );
  assert.deepEqual(planBatch(empty, 100), []);
});

test('any plan that fits ends within the budget and drops lower classes before higher ones', () => {
  const queue = fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 6 });
  fc.assert(
    fc.property(
      fc.tuple(queue, queue, queue, queue),
      fc.integer({ min: 100, max: 2000 }),
      fc.constantFrom(...telemetryClasses),
      fc.integer({ min: 1, max: 300 }),
      (sizes, budget, incoming, size) => {
        let no = 0;
        const queues = Object.fromEntries(
          telemetryClasses.map((cls, i) => [cls, sizes[i]!.map((b) => seg(++no, b))]),
        ) as unknown as SegmentQueues;
        const plan = planRoom(queues, budget, incoming, size);
        const dropped = plan.drops.reduce((n, d) => n + queues[d.cls].find((s) => s.no === d.no)!.bytes, 0);
        if (plan.fits) assert.ok(totalBytes(queues) - dropped + size <= budget);
        const ranks = plan.drops.map((d) => telemetryClasses.indexOf(d.cls));
        assert.deepEqual(
          ranks,
          [...ranks].sort((a, b) => b - a),
          'lowest class first',
        );
        assert.ok(ranks.every((r) => r >= telemetryClasses.indexOf(incoming)));
        for (const cls of telemetryClasses) {
          const nos = plan.drops.filter((d) => d.cls === cls).map((d) => d.no);
          assert.deepEqual(
            nos,
            queues[cls].slice(0, nos.length).map((s) => s.no),
            'oldest first',
          );
        }
      },
    ),
  );
});
