// How the report batcher groups reports into transactions. The ingest it drives is a recording function
// here: grouping is the batcher's own logic; the real store behind it is tested in test/hub/status.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Report } from '../../model/wire.ts';
import type { AgentSite } from '../sites/sites.ts';
import { ReportBatcher } from './report-batcher.ts';

const site: AgentSite = {
  id: 's1',
  name: 'store-1',
  labels: {},
  lifecycle: 'Active',
  connectivity: 'Online',
  desiredDigest: null,
};

/** A batcher whose ingest records each batch's sequence numbers; a wide window keeps timing out of it. */
function recording(): { batcher: ReportBatcher; batches: number[][] } {
  const batches: number[][] = [];
  const batcher = new ReportBatcher(
    async (reports) => {
      batches.push(reports.map((r) => r.report.seq));
      return reports.map((r) => ({ accepted: true, lastSeq: r.report.seq }));
    },
    { gatherMs: 1000 },
  );
  return { batcher, batches };
}

const report = (seq: number): Report => ({ seq, deployments: [] });
const nextTurn = () => new Promise((r) => setImmediate(r));

test('reports submitted in one turn are ingested in one batch, in order', async () => {
  const { batcher, batches } = recording();
  const acks = await Promise.all([1, 2, 3].map((seq) => batcher.submit(site, report(seq))));
  assert.deepEqual(batches, [[1, 2, 3]]);
  assert.deepEqual(
    acks.map((a) => a.lastSeq),
    [1, 2, 3],
  );
});

test('after a quiet spell a report is ingested at the end of its own turn', async () => {
  const { batcher, batches } = recording();
  const done = batcher.submit(site, report(1));
  await nextTurn();
  assert.deepEqual(batches, [[1]]);
  await done;
});

test('while reports keep coming, a batch also takes the next turns’ reports', async () => {
  const { batcher, batches } = recording();
  await batcher.submit(site, report(1));
  await nextTurn();
  // soon after a batch: the next one waits for company
  const second = batcher.submit(site, report(2));
  await nextTurn();
  const third = batcher.submit(site, report(3));
  await Promise.all([second, third]);
  assert.deepEqual(batches, [[1], [2, 3]]);
});

test('a batch that fails is retried report by report, so only the bad report fails', async () => {
  const batches: number[][] = [];
  const batcher = new ReportBatcher(async (reports) => {
    batches.push(reports.map((r) => r.report.seq));
    if (reports.some((r) => r.report.seq === 2)) throw new Error('bad report');
    return reports.map((r) => ({ accepted: true, lastSeq: r.report.seq }));
  });
  const results = await Promise.allSettled([1, 2, 3].map((seq) => batcher.submit(site, report(seq))));
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  assert.deepEqual(batches, [[1, 2, 3], [1], [2], [3]]);
});
