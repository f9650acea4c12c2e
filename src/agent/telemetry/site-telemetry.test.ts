import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TransportError } from '../../net/http-client.ts';
import { SiteTelemetry } from './site-telemetry.ts';
import type { TelemetrySource } from './source.ts';

const offline = { send: () => Promise.reject(new TransportError('the hub is out of reach')) };

async function open(t: { after: (fn: () => Promise<void>) => void }, sources: TelemetrySource[] = []) {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-site-telemetry-'));
  const telemetry = await SiteTelemetry.open({
    dir,
    uplink: offline,
    sources,
    flushMs: 20,
    selfMetricsMs: 60_000,
  });
  t.after(() => rm(dir, { recursive: true, force: true }));
  return telemetry;
}

test('a record that breaks the wire contract is counted as dropped, never buffered', async (t) => {
  const telemetry = await open(t);
  await telemetry.record({ class: 'sli', name: 'not a metric name', bundle: 'pos', t: 1, v: 1 });
  await telemetry.record({ class: 'sli', name: 'saturation', bundle: 'pos', t: 2, v: 0.3 });
  const s = telemetry.status();
  assert.equal(s.buffer.dropped.sli, 1);
  assert.equal(s.buffer.classes.sli.records, 1);
  assert.match(s.buffer.problems.at(-1)!.message, /invalid sli record \(not a metric name\)/);
  assert.deepEqual(s.slis, [{ bundle: 'pos', name: 'saturation', t: 2, v: 0.3 }]);
  await telemetry.buffer.close();
});

test('a TelemetrySource (as the simulator feeds one) fills the buffer and the recent SLIs for each bundle', async (t) => {
  const seen: string[][] = [];
  const simulated: TelemetrySource = {
    name: 'simulated',
    intervalMs: 10,
    async collect(now, bundles) {
      seen.push(bundles.map((b) => b.bundle));
      return {
        samples: bundles.map((b) => ({
          class: 'sli' as const,
          name: 'errors_total',
          bundle: b.bundle,
          t: now,
          d: 10,
          v: 3,
        })),
        events: [],
      };
    },
  };
  const telemetry = await open(t, [simulated]);
  telemetry.setBundles([
    { bundle: 'pos', namespaces: ['pos'] },
    { bundle: 'kiosk', namespaces: ['kiosk'] },
  ]);
  const abort = new AbortController();
  const running = telemetry.run(abort.signal);
  for (let i = 0; i < 200 && telemetry.status().slis.length < 2; i++)
    await new Promise((r) => setTimeout(r, 10));
  abort.abort();
  await running;
  assert.deepEqual(seen[0], ['pos', 'kiosk']);
  assert.deepEqual(
    telemetry.status().slis.map((s) => [s.bundle, s.name, s.v]),
    [
      ['kiosk', 'errors_total', 3],
      ['pos', 'errors_total', 3],
    ],
  );
  assert.ok(telemetry.status().buffer.classes.sli.records >= 2, 'kept on disk while the hub is out of reach');
});

test('after a restart with the hub still out of reach, the latest SLIs and events come back from the buffer', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-site-telemetry-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const first = await SiteTelemetry.open({ dir, uplink: offline, sources: [] });
  await first.record({ class: 'sli', name: 'errors_total', bundle: 'pos', t: 1, d: 30_000, v: 4 });
  await first.record({ class: 'sli', name: 'errors_total', bundle: 'pos', t: 2, d: 30_000, v: 9 });
  await first.record({
    t: 3,
    type: 'Warning',
    object: 'Pod pos/till-0',
    reason: 'BackOff',
    message: 'again',
  });
  await first.buffer.close();
  const again = await SiteTelemetry.open({ dir, uplink: offline, sources: [] });
  const s = again.status();
  // counts over the last quarter hour are summed: 4 + 9
  assert.deepEqual(s.slis, [{ bundle: 'pos', name: 'errors_total', t: 2, v: 13 }]);
  assert.deepEqual(
    s.events.map((e) => e.reason),
    ['BackOff'],
  );
  await again.buffer.close();
});
