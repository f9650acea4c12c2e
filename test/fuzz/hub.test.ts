// The hub's HTTP boundaries fuzzed with a few hundred inputs each, in the normal test run, on one hub
// (in-memory SQLite, listening on HTTPS for the mTLS target); `node test/fuzz/run.ts` feeds each 100,000.

import { after, before, test } from 'node:test';
import { assertTarget, type FuzzSuite } from './harness.ts';
import { hubTargets } from './hub-targets.ts';

let suite: FuzzSuite;
before(async () => {
  suite = await hubTargets();
});
after(() => suite?.close());

// the names are known before the hub starts, so each target is its own test
const names = [
  'query-route',
  'query-cursor',
  'report-route',
  'telemetry-route',
  'telemetry-gzip',
  'agent-mtls',
  'event-stream',
  'webhook',
  'register-route',
];
for (const name of names) {
  test(name, { timeout: 60_000 }, async () => {
    const target = suite.targets.find((t) => t.name === name);
    if (!target) throw new Error(`no hub fuzz target ${name}`);
    await assertTarget(target);
  });
}

test('every hub target is run', () => {
  const missing = suite.targets.map((t) => t.name).filter((n) => !names.includes(n));
  if (missing.length > 0) throw new Error(`hub fuzz targets not in this file: ${missing.join(', ')}`);
});
