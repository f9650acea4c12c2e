// Benchmark: how long the apply engine takes to apply a 200-object bundle to a local kube-apiserver
// (target < 5 s): discovery, a dry-run of every object, server-side apply of every object, prune. A new
// bundle is measured twice: into a namespace it creates (objects inside it cannot be dry-run first) and
// into one that exists (all 200 dry-run first). Also an unchanged re-apply, a re-apply with 20 objects
// changed, one read-back (readiness + drift) of all 200, and pruning all 200 (which also hands the
// Services' cluster IPs back: the fixture's service range holds about 250).
//
//   node bench/agent-apply.ts [--runs 5]
//
// Needs the kube-apiserver and etcd the tests use (scripts/k8s-fixture.sh builds them once).

import { parseArgs } from 'node:util';
import { applyBundle, desiredObjects, inspect, prune } from '../src/agent/apply/engine.ts';
import { KubeCluster } from '../src/agent/kube/client.ts';
import { kubeConfigFromFile } from '../src/agent/kube/config.ts';
import type { KubeObject, ObjectRef } from '../src/model/manifest.ts';
import type { RenderedBundle } from '../src/render/rendered.ts';
import { startKube } from '../test/support/kube.ts';
import { describeMachine, median } from './machine.ts';
import { appendResults } from './results.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);

/** 200 objects of the kinds a store bundle has: per app a Deployment, Service, ConfigMap, Secret, ServiceAccount. */
function storeBundle(ns: string, version: string, changed = 0): RenderedBundle {
  const objects: KubeObject[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }];
  for (let i = 0; objects.length < 200; i++) {
    const app = `app-${i}`;
    const v = i < changed ? `${version}-changed` : version;
    objects.push(
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: app }, data: { version: v, mode: 'store' } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: app }, stringData: { token: `t-${i}` } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: app } },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: app },
        spec: { selector: { app }, ports: [{ port: 80, targetPort: 8080 }] },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: app },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app } },
          template: {
            metadata: { labels: { app } },
            spec: {
              serviceAccountName: app,
              containers: [
                {
                  name: 'app',
                  image: `registry.example/${app}:1`,
                  env: [{ name: 'VERSION', value: v }],
                  resources: { requests: { cpu: '50m', memory: '64Mi' } },
                },
              ],
            },
          },
        },
      },
    );
  }
  return { bundle: 'store', namespace: ns, objects: objects.slice(0, 200) };
}

const kube = await startKube();
const cluster = new KubeCluster(kubeConfigFromFile(kube.kubeconfigPath));
const time = async <T>(fn: () => Promise<T>): Promise<[number, T]> => {
  const t = performance.now();
  const v = await fn();
  return [performance.now() - t, v];
};

const cold: number[] = [];
const coldExisting: number[] = [];
const unchanged: number[] = [];
const partial: number[] = [];
const readBack: number[] = [];
const pruned: number[] = [];
try {
  for (let run = 0; run < runs; run++) {
    const ns = `bench-${run}`;
    let inventory: ObjectRef[] = [];
    const apply = async (b: RenderedBundle) => {
      const outcome = await applyBundle(cluster, b, inventory, { saveInventory: async () => {} });
      if (!outcome.ok) throw new Error(outcome.message);
      inventory = outcome.inventory;
    };
    cold.push((await time(() => apply(storeBundle(ns, 'v1'))))[0]);
    unchanged.push((await time(() => apply(storeBundle(ns, 'v1'))))[0]);
    // 10 apps changed: their ConfigMap and Deployment, 20 objects
    partial.push((await time(() => apply(storeBundle(ns, 'v2', 10))))[0]);
    const { objects } = await desiredObjects(cluster, storeBundle(ns, 'v2', 10));
    readBack.push((await time(() => inspect(cluster, objects)))[0]);
    pruned.push((await time(() => prune(cluster, 'store', inventory)))[0]);

    const existing = `bench-existing-${run}`;
    await kube.request('POST', '/api/v1/namespaces', { metadata: { name: existing } });
    inventory = [];
    coldExisting.push((await time(() => apply(storeBundle(existing, 'v1'))))[0]);
    await prune(cluster, 'store', inventory);
  }
} finally {
  cluster.close();
  await kube.stop();
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const machine = await describeMachine();
console.log(`## Agent apply (bench/agent-apply.ts)

${machine}; median of ${runs} runs, each on a fresh namespace.

| what | result | target |
|---|---|---|
| apply a new 200-object bundle that creates its namespace | ${s(median(cold))} | < 5 s |
| apply a new 200-object bundle into an existing namespace (dry-run all, then apply all) | ${s(median(coldExisting))} | < 5 s |
| re-apply it unchanged | ${s(median(unchanged))} | — |
| re-apply with 20 objects changed | ${s(median(partial))} | — |
| read back all 200 (readiness + drift) | ${s(median(readBack))} | — |
| prune all 200 | ${s(median(pruned))} | — |
`);
console.log(
  `raw (ms): cold ${cold.map(Math.round)}, into existing ${coldExisting.map(Math.round)}, unchanged ${unchanged.map(Math.round)}, changed ${partial.map(Math.round)}, read-back ${readBack.map(Math.round)}, prune ${pruned.map(Math.round)}`,
);
// the slower of the two first applies is the headline: a new bundle into an existing namespace
await appendResults([
  {
    name: 'apply-200-objects-s',
    value: Number((median(coldExisting) / 1000).toFixed(2)),
    unit: 's',
    target: 5,
    op: '<',
  },
  {
    name: 'apply-200-objects-new-namespace-s',
    value: Number((median(cold) / 1000).toFixed(2)),
    unit: 's',
    target: 5,
    op: '<',
  },
]);
