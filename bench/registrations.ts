// Registrations per second, CSR verification and certificate signing included (target ≥ 500/s on
// this 2-core machine). The hub runs in its own process; this process pre-generates every key pair
// and CSR before the clock starts, then registers sites over HTTPS with bounded concurrency.
// Run: node bench/registrations.ts [sites=2000] [concurrency=16]

import { decodeJoinToken } from '../src/model/join-token.ts';
import { HttpClient } from '../src/net/http-client.ts';
import { createCsr } from '../src/pki/csr.ts';
import { generateKeyPair } from '../src/pki/keys.ts';
import { appendResults } from './results.ts';
import { cpuSeconds, generatorCore, percentile, pinSelf, rssMiB, startHubProcess } from './support.ts';

const sites = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 16);

pinSelf(generatorCore);
const hub = await startHubProcess();
const operator = new HttpClient(hub.url, { ca: hub.caPem }, () => ({
  authorization: `Bearer ${hub.adminToken}`,
}));
const created = await operator.request('POST', '/api/v1/bootstrap-tokens', {
  body: { autoApprove: true, maxUses: sites, labels: { bench: 'yes' } },
});
const token = decodeJoinToken((created.body as { joinToken: string }).joinToken)!.token;

const csrs = Array.from({ length: sites }, (_, i) =>
  createCsr({ commonName: `m${i}`, keyPem: generateKeyPair().privateKeyPem }),
);
// one connection per registration in flight, as that many boxes calling home would have (the client's
// default of 8 connections made "16 at a time" 8)
const client = new HttpClient(hub.url, { ca: hub.caPem }, undefined, concurrency);
const latencies: number[] = [];
let next = 0;
let failures = 0;

const hubCpu0 = await cpuSeconds(hub.pid);
const genCpu0 = process.cpuUsage();
const started = performance.now();
const profileFrom = hub.uptime();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < sites; i = next++) {
      const t = performance.now();
      const res = await client.request('POST', '/agent/v1/register', {
        body: {
          token,
          machineId: `bench-machine-${i.toString().padStart(8, '0')}`,
          name: `bench-${i}`,
          csr: csrs[i],
        },
      });
      latencies.push(performance.now() - t);
      if (res.status !== 200) failures++;
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
const profileTo = hub.uptime();
const hubCpu = (await cpuSeconds(hub.pid)) - hubCpu0;
const gen = process.cpuUsage(genCpu0);
const hubRss = await rssMiB(hub.pid);
latencies.sort((a, b) => a - b);

console.log(
  JSON.stringify(
    {
      benchmark: 'registrations',
      sites,
      concurrency,
      failures,
      seconds: Number(seconds.toFixed(2)),
      registrationsPerSecond: Math.round(sites / seconds),
      target: '>= 500/s',
      latencyMs: {
        p50: Number(percentile(latencies, 50).toFixed(1)),
        p99: Number(percentile(latencies, 99).toFixed(1)),
      },
      hubCpuSeconds: Number(hubCpu.toFixed(2)),
      hubCpuCores: Number((hubCpu / seconds).toFixed(2)),
      generatorCpuCores: Number(((gen.user + gen.system) / 1e6 / seconds).toFixed(2)),
      hubRssMiB: Math.round(hubRss),
      hubProfileWindowSeconds: { from: Number(profileFrom.toFixed(1)), to: Number(profileTo.toFixed(1)) },
    },
    null,
    2,
  ),
);
operator.close();
client.close();
await hub.stop();
await appendResults([
  { name: 'registrations-per-s', value: Math.round(sites / seconds), unit: '1/s', target: 500, op: '>=' },
  {
    name: 'registrations-per-hub-cpu-s',
    value: Math.round(sites / hubCpu),
    unit: '1/s',
  },
]);
