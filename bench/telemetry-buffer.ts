// Benchmark: the agent's telemetry buffer. Appends SLI samples of the shape the agent writes (bundle,
// name, interval, value) into a fresh buffer on the disk under $TMPDIR, then drains it through the real
// sender (gzip, mTLS over loopback) to a receiver that decodes and validates every batch like the hub.
// Reports append throughput, send throughput, bytes on disk and on the wire per sample, and how much of
// the 64 MiB budget a day at a realistic rate takes (target: a 24 h outage fits and loses nothing).
//
//   node bench/telemetry-buffer.ts [--samples 200000] [--sync-every 1000]

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TelemetryBuffer } from '../src/agent/telemetry/buffer.ts';
import { TelemetrySender } from '../src/agent/telemetry/sender.ts';
import { sliNames, type TelemetrySample } from '../src/model/telemetry.ts';
import { telemetryReceiver } from '../test/support/telemetry-receiver.ts';
import { describeMachine } from './machine.ts';
import { appendResults } from './results.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '200000' },
    'sync-every': { type: 'string', default: '1000' },
  },
});
const total = Number(values.samples);
const syncEvery = Number(values['sync-every']);
const names = Object.values(sliNames);
const bundles = ['pos', 'kiosk', 'scale', 'cameras'];

function sample(i: number): TelemetrySample {
  return {
    class: 'sli',
    name: names[i % names.length]!,
    bundle: bundles[Math.floor(i / names.length) % bundles.length]!,
    t: 1_763_700_000_000 + Math.floor(i / 20) * 30_000,
    d: 30_000,
    v: Math.round(Math.random() * 1e4) / 100,
  };
}

const dir = await mkdtemp(join(tmpdir(), 'outpost-bench-telemetry-'));
const hub = await telemetryReceiver();
try {
  const buffer = await TelemetryBuffer.open(dir);
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    await buffer.append('sli', sample(i));
    if ((i + 1) % syncEvery === 0) await buffer.sync();
  }
  await buffer.sync();
  const appendMs = performance.now() - t0;
  const onDisk = buffer.stats().bytes;

  const abort = new AbortController();
  const sender = new TelemetrySender(
    buffer,
    { send: (gz, signal) => hub.client.telemetry(gz, signal) },
    { flushMs: 50 },
  );
  const t1 = performance.now();
  const running = sender.run(abort.signal);
  while (buffer.stats().bytes > 0) await new Promise((r) => setTimeout(r, 5));
  const sendMs = performance.now() - t1;
  abort.abort();
  await running;
  const sent = sender.stats();
  const delivered = [...hub.batches.values()].reduce((n, b) => n + b.samples.length, 0);
  if (delivered !== total) throw new Error(`delivered ${delivered} of ${total}`);
  await buffer.close();

  const perSample = onDisk / total;
  // a day at the rate of the 24-hour outage test: 3 bundles × 5 SLIs every 30 s, 24 agent metrics and
  // one event a minute (events are larger; counted at 2× a sample)
  const perDay = (3 * 5 * 2880 + 24 * 1440 + 2 * 1440) * perSample;

  console.log(await describeMachine());
  console.log(
    `samples ${total}, fsync every ${syncEvery} appends, load average ${(await loadAverage()).toFixed(1)}`,
  );
  console.log('| measure | value | target |');
  console.log('|---|---|---|');
  console.log(
    `| append throughput | ${Math.round(total / (appendMs / 1000)).toLocaleString('en')} samples/s | – |`,
  );
  console.log(
    `| send throughput (gzip, mTLS, loopback, one batch at a time) | ${Math.round(total / (sendMs / 1000)).toLocaleString('en')} samples/s, ${sent.batchesSent} batches | – |`,
  );
  console.log(`| bytes on disk per sample | ${perSample.toFixed(1)} B | – |`);
  console.log(
    `| bytes on the wire per sample (gzip) | ${(sent.bytesSent / total).toFixed(1)} B (${(sent.rawBytesSent / sent.bytesSent).toFixed(1)}× smaller than JSON) | – |`,
  );
  console.log(
    `| a day at the realistic rate | ${(perDay / 2 ** 20).toFixed(1)} MiB of 64 MiB | 24 h outage fits: ${perDay < 64 * 2 ** 20 ? 'met' : 'missed'} |`,
  );
  await appendResults([
    {
      name: 'telemetry-buffer-day-mib',
      value: Number((perDay / 2 ** 20).toFixed(1)),
      unit: 'MiB',
      target: 64,
      op: '<',
    },
    { name: 'telemetry-buffer-append-per-s', value: Math.round(total / (appendMs / 1000)), unit: '1/s' },
  ]);
} finally {
  await hub.close();
  await rm(dir, { recursive: true, force: true });
}

async function loadAverage(): Promise<number> {
  const { loadavg } = await import('node:os');
  return loadavg()[0]!;
}
