import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideReport, ForwardedReports, reportContentText, type SiteReports } from './report-forwarding.ts';

const minute = 60_000;
const site = (content: string, at: number, lastSeq: number): SiteReports => ({
  forwarded: { content, at, itemId: 7 },
  lastSeq,
});

test('a site the relay has forwarded nothing for yet has its report sent up', () => {
  assert.equal(decideReport(undefined, { seq: 40, content: 'a' }, 0, 5 * minute), 'forward');
});

test('the next report repeating the forwarded content is kept back until the refresh is due', () => {
  const s = site('a', 0, 10);
  assert.equal(decideReport(s, { seq: 11, content: 'a' }, 4 * minute, 5 * minute), 'unchanged');
  assert.equal(decideReport(s, { seq: 11, content: 'a' }, 5 * minute, 5 * minute), 'forward');
});

test('a changed report goes up at once', () => {
  assert.equal(decideReport(site('a', 0, 10), { seq: 11, content: 'b' }, 1, 5 * minute), 'forward');
});

test('a gap in the sequence sends the report up: the missing ones may have reached the hub directly', () => {
  assert.equal(decideReport(site('a', 0, 10), { seq: 13, content: 'a' }, 1, 5 * minute), 'forward');
  assert.equal(decideReport(site('a', 0, 10), { seq: 9, content: 'a' }, 1, 5 * minute), 'forward');
});

test('the same report sent again is kept back', () => {
  assert.equal(decideReport(site('a', 0, 10), { seq: 10, content: 'a' }, 1, 5 * minute), 'unchanged');
});

test('a refresh interval of 0 forwards every report', () => {
  assert.equal(decideReport(site('a', 0, 10), { seq: 11, content: 'a' }, 0, 0), 'forward');
});

test('reports kept back are counted and keep the sequence going; forwarded ones reset the refresh', () => {
  const reports = new ForwardedReports(5 * minute);
  assert.equal(reports.take('s1', { seq: 1, content: 'a' }, 0), true);
  reports.remember('s1', { seq: 1, content: 'a' }, 100, 0);
  for (let seq = 2; seq <= 5; seq++)
    assert.equal(reports.take('s1', { seq, content: 'a' }, seq * 1000), false);
  assert.equal(reports.take('s1', { seq: 6, content: 'a' }, 5 * minute), true, 'refresh due');
  reports.remember('s1', { seq: 6, content: 'a' }, 101, 5 * minute);
  assert.equal(reports.take('s1', { seq: 7, content: 'a' }, 5 * minute + 1), false);
  assert.deepEqual(reports.counts(), { forwarded: 2, keptBack: 5 });
});

test('a forwarded report whose item will not reach the hub is forgotten: the next one goes up', () => {
  const reports = new ForwardedReports(5 * minute);
  reports.remember('s1', { seq: 1, content: 'a' }, 100, 0);
  reports.remember('s1', { seq: 2, content: 'a' }, 101, 0);
  reports.forget('s1', 100);
  assert.equal(reports.take('s1', { seq: 3, content: 'a' }, 1), false, 'an older item changes nothing');
  reports.forget('s1', 101);
  assert.equal(reports.take('s1', { seq: 4, content: 'a' }, 2), true);
  assert.equal(reports.take('s2', { seq: 1, content: 'a' }, 2), true, 'sites are apart');
});

interface Report {
  seq: number;
  deployments: { bundle: string; state: string }[];
}
const deployment = {
  bundle: 'web',
  state: 'Ready',
};

test("a report's content leaves out its seq, whether seq comes first in its text or not", () => {
  const at = (seq: number): Report => ({ seq, deployments: [deployment] });
  const first = reportContentText(JSON.stringify(at(1)), at(1));
  assert.equal(reportContentText(JSON.stringify(at(2)), at(2)), first);
  assert.equal(first, '"deployments":[{"bundle":"web","state":"Ready"}]}');
  const seqLast = (seq: number) => JSON.stringify({ deployments: [deployment], seq });
  const pretty = JSON.stringify(at(5), null, 2);
  assert.equal(reportContentText(seqLast(3), at(3)), reportContentText(seqLast(4), at(4)));
  assert.equal(reportContentText(pretty, at(5)), reportContentText(seqLast(4), at(4)));
});

test('a report whose content changed has another content text', () => {
  const before: Report = { seq: 1, deployments: [deployment] };
  const after: Report = { seq: 2, deployments: [{ ...deployment, state: 'NotReady' }] };
  assert.notEqual(
    reportContentText(JSON.stringify(before), before),
    reportContentText(JSON.stringify(after), after),
  );
});
