// Chaos: an `outpost agent` process is SIGKILLed in the middle of applying a 200-object bundle, and in
// the middle of pruning one, then started again with the hub gone. From its saved desired state alone it
// finishes the work, and the objects of the site's other bundle are not written to at all (their
// resourceVersions do not move). One agent dies by its own hand at the exact step between its dry-run
// pass and its first write, the others are killed from outside mid-step.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { bundleFile, startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';
import { recordChaos } from './support.ts';

const cli = resolve(import.meta.dirname, '../../src/cli/main.ts');
const bigCount = 200;

let kube: KubeFixture;
const cleanup: Array<() => Promise<void>> = [];

before(async () => {
  kube = await startKube();
});

after(async () => {
  for (const step of cleanup.reverse()) await step();
  await kube?.stop();
});

/** An agent process for one site, with its own state directory, that can be killed and started again. */
async function agentForSite(name: string) {
  const stateDir = await mkdtemp(join(tmpdir(), `outpost-chaos-${name}-`));
  let child: ChildProcess | undefined;
  const kill = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };
  cleanup.push(async () => {
    await kill();
    await rm(stateDir, { recursive: true, force: true });
  });
  return {
    /** starts the agent process; `env` adds to its environment (OUTPOST_AGENT_CRASH_AT) */
    start(joinToken: string, env: Record<string, string> = {}) {
      child = spawn(
        process.execPath,
        [
          cli,
          'agent',
          ...(joinToken ? ['--join-token', joinToken] : []),
          '--name',
          name,
          '--machine-id',
          `machine-${name}`,
          '--label',
          `site=${name}`,
          '--state-dir',
          stateDir,
          '--kubeconfig',
          kube.kubeconfigPath,
          '--no-local-page',
        ],
        {
          stdio: ['ignore', 'ignore', process.env.OUTPOST_CHAOS_LOG ? 'inherit' : 'ignore'],
          env: { ...process.env, ...env },
        },
      );
    },
    /** resolves with the signal that ended the process, or null if it exited by itself */
    async exited(): Promise<NodeJS.Signals | null> {
      if (!child) return null;
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      return child.signalCode;
    },
    kill,
  };
}

async function hubForTest(): Promise<TestHub> {
  const fleet = await startTestHub();
  let stopped = false;
  const stop = fleet.stop;
  fleet.stop = async () => {
    if (stopped) return;
    stopped = true;
    await stop();
  };
  cleanup.push(() => fleet.stop());
  return fleet;
}

const configMap = (name: string, bundle: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default', labels: { 'chaos-bundle': bundle } },
  data: { v: '1' },
});

/** name → resourceVersion of the ConfigMaps of one bundle on the site */
async function objectsOf(bundle: string): Promise<Map<string, string>> {
  const r = await kube.request(
    'GET',
    `/api/v1/namespaces/default/configmaps?labelSelector=chaos-bundle%3D${bundle}`,
  );
  assert.equal(r.status, 200);
  const items = r.body.items as { metadata: { name: string; resourceVersion: string } }[];
  return new Map(items.map((i) => [i.metadata.name, i.metadata.resourceVersion]));
}

async function until(what: string, seconds: number, probe: () => Promise<boolean>): Promise<number> {
  const start = performance.now();
  while (!(await probe())) {
    if (performance.now() - start > seconds * 1000) throw new Error(`${what}: not within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return performance.now() - start;
}

/**
 * A site running a 5-object bundle `${site}-steady` (Ready), and whatever `more` applies next; returns
 * the steady objects' resourceVersions.
 */
async function siteWithSteadyBundle(
  fleet: TestHub,
  site: string,
  agent: { start(t: string, env?: Record<string, string>): void },
  env: Record<string, string> = {},
) {
  const selector = { matchLabels: { site } };
  const steady = `${site}-steady`;
  await fleet.api.applyBundle(
    bundleFile(
      steady,
      selector,
      Array.from({ length: 5 }, (_, i) => configMap(`${steady}-${i}`, steady)),
    ),
  );
  agent.start(fleet.joinToken, env);
  await until('the steady bundle on the site', 120, async () => (await objectsOf(steady)).size === 5);
  await until('the steady bundle reported Ready', 60, async () => {
    const detail = await fleet.api.site(site).catch(() => undefined);
    return detail?.deployments.find((d) => d.bundle === steady)?.state === 'Ready';
  });
  return { selector, steady, before: await objectsOf(steady) };
}

async function touchedSince(bundle: string, before: Map<string, string>): Promise<number> {
  const now = await objectsOf(bundle);
  return [...before].filter(([name, rv]) => now.get(name) !== rv).length;
}

test('an agent killed mid-apply and restarted without the hub converges and touches no other bundle', {
  timeout: 600_000,
}, async () => {
  const fleet = await hubForTest();
  const agent = await agentForSite('chaos-apply');
  const { selector, steady, before } = await siteWithSteadyBundle(fleet, 'chaos-apply', agent);

  const big = 'chaos-apply-big';
  await fleet.api.applyBundle(
    bundleFile(
      big,
      selector,
      Array.from({ length: bigCount }, (_, i) => configMap(`${big}-${i}`, big)),
    ),
  );
  await until('the big apply under way', 120, async () => (await objectsOf(big)).size >= bigCount / 4);
  await agent.kill();
  const atKill = (await objectsOf(big)).size;

  // the hub goes away for good: the agent has only what it saved
  await fleet.stop();
  agent.start('');
  const convergeMs = await until('the big bundle complete without the hub', 180, async () => {
    return (await objectsOf(big)).size === bigCount;
  });
  // a few more seconds of the agent running: a later pass must not touch the other bundle either
  await new Promise((r) => setTimeout(r, 5000));
  const touched = await touchedSince(steady, before);
  const bigAfter = (await objectsOf(big)).size;
  await agent.kill();

  await recordChaos({
    scenario: 'agent-killed-apply',
    checked: `agent process SIGKILLed with ${atKill} of a ${bigCount}-object bundle applied, then started again with the hub stopped; it finishes the bundle from its saved desired state, and the 5 objects of the site's other bundle keep their resourceVersions`,
    figures: [
      { name: 'objects-at-kill', value: atKill, unit: 'objects' },
      { name: 'objects-after-restart', value: bigAfter, unit: 'objects', op: '>=', target: bigCount },
      { name: 'converge-after-restart-ms', value: Math.round(convergeMs), unit: 'ms' },
      { name: 'other-bundle-objects-touched', value: touched, unit: 'objects', op: '<=', target: 0 },
    ],
  });
  assert.ok(atKill < bigCount, `the agent was killed mid-apply (${atKill} of ${bigCount} applied)`);
  assert.equal(bigAfter, bigCount);
  assert.equal(touched, 0, 'the other bundle is not written to');
});

test('an agent killed mid-prune and restarted without the hub finishes the prune and touches no other bundle', {
  timeout: 600_000,
}, async () => {
  const fleet = await hubForTest();
  const agent = await agentForSite('chaos-prune');
  const { selector, steady, before } = await siteWithSteadyBundle(fleet, 'chaos-prune', agent);

  const doomed = 'chaos-prune-doomed';
  await fleet.api.applyBundle(
    bundleFile(
      doomed,
      selector,
      Array.from({ length: bigCount }, (_, i) => configMap(`${doomed}-${i}`, doomed)),
    ),
  );
  await until('the doomed bundle applied', 180, async () => {
    const detail = await fleet.api.site('chaos-prune').catch(() => undefined);
    return detail?.deployments.find((d) => d.bundle === doomed)?.state === 'Ready';
  });
  const steadyBefore = await touchedSince(steady, before);
  await fleet.api.deleteBundle(doomed);
  await until('the prune under way', 120, async () => (await objectsOf(doomed)).size <= (bigCount * 3) / 4);
  await agent.kill();
  const atKill = (await objectsOf(doomed)).size;

  await fleet.stop();
  agent.start('');
  const convergeMs = await until('the prune complete without the hub', 180, async () => {
    return (await objectsOf(doomed)).size === 0;
  });
  await new Promise((r) => setTimeout(r, 5000));
  const left = (await objectsOf(doomed)).size;
  const touched = await touchedSince(steady, before);
  await agent.kill();

  await recordChaos({
    scenario: 'agent-killed-prune',
    checked: `agent process SIGKILLed with ${atKill} of a deleted ${bigCount}-object bundle's objects still on the site, then started again with the hub stopped; it finishes the prune from its saved desired state (and does not apply the bundle back), and the 5 objects of the site's other bundle keep their resourceVersions`,
    figures: [
      { name: 'objects-left-at-kill', value: atKill, unit: 'objects' },
      { name: 'objects-left-after-restart', value: left, unit: 'objects', op: '<=', target: 0 },
      { name: 'converge-after-restart-ms', value: Math.round(convergeMs), unit: 'ms' },
      { name: 'other-bundle-objects-touched', value: touched, unit: 'objects', op: '<=', target: 0 },
    ],
  });
  assert.equal(steadyBefore, 0, 'applying another bundle does not touch the steady one');
  assert.ok(atKill > 0, `the agent was killed mid-prune (${atKill} left)`);
  assert.equal(left, 0);
  assert.equal(touched, 0, 'the other bundle is not written to');
});

/** Server-side applies of ConfigMaps the apiserver has answered, dry runs and real ones apart (its /metrics). */
async function configMapApplies(): Promise<{ dryRuns: number; writes: number }> {
  const r = await kube.request('GET', '/metrics');
  assert.equal(r.status, 200);
  let dryRuns = 0;
  let writes = 0;
  for (const line of String(r.body).split('\n')) {
    if (!line.startsWith('apiserver_request_total{') || !line.includes('resource="configmaps"')) continue;
    if (!/verb="(APPLY|PATCH)"/.test(line)) continue;
    const n = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.includes('dry_run="All"')) dryRuns += n;
    else writes += n;
  }
  return { dryRuns, writes };
}

async function countWithValue(bundle: string, v: string): Promise<number> {
  const r = await kube.request(
    'GET',
    `/api/v1/namespaces/default/configmaps?labelSelector=chaos-bundle%3D${bundle}`,
  );
  return (r.body.items as { data?: { v?: string } }[]).filter((i) => i.data?.v === v).length;
}

test('an agent killed between the dry run and the apply, restarted without the hub, applies the update whole', {
  timeout: 600_000,
}, async () => {
  const fleet = await hubForTest();
  const agent = await agentForSite('chaos-dry');
  const { selector, steady, before } = await siteWithSteadyBundle(fleet, 'chaos-dry', agent);

  const big = 'chaos-dry-big';
  const version = (v: string) =>
    bundleFile(
      big,
      selector,
      Array.from({ length: bigCount }, (_, i) => ({ ...configMap(`${big}-${i}`, big), data: { v } })),
    );
  await fleet.api.applyBundle(version('1'));
  await until('the first version Ready', 180, async () => {
    const detail = await fleet.api.site('chaos-dry').catch(() => undefined);
    return detail?.deployments.find((d) => d.bundle === big)?.state === 'Ready';
  });

  // an update of objects that exist is dry-run whole before anything is written: kill inside that pass
  const start = await configMapApplies();
  await fleet.api.applyBundle(version('2'));
  await until('the dry run under way', 120, async () => {
    return (await configMapApplies()).dryRuns - start.dryRuns >= bigCount / 4;
  });
  await agent.kill();
  const atKill = await configMapApplies();
  const updatedAtKill = await countWithValue(big, '2');

  await fleet.stop();
  agent.start('');
  const convergeMs = await until('the update complete without the hub', 180, async () => {
    return (await countWithValue(big, '2')) === bigCount;
  });
  await new Promise((r) => setTimeout(r, 5000));
  const updatedAfter = await countWithValue(big, '2');
  const touched = await touchedSince(steady, before);
  await agent.kill();

  await recordChaos({
    scenario: 'agent-killed-dry-run',
    checked: `agent process SIGKILLed after the apiserver answered ${atKill.dryRuns - start.dryRuns} of the ${bigCount} dry-run applies of an update of a ${bigCount}-object bundle (counted from kube-apiserver's apiserver_request_total), before it wrote any, then started again with the hub stopped; it applies the update whole from its saved desired state, and the 5 objects of the site's other bundle keep their resourceVersions`,
    figures: [
      { name: 'dry-runs-at-kill', value: atKill.dryRuns - start.dryRuns, unit: 'requests' },
      { name: 'written-at-kill', value: updatedAtKill, unit: 'objects', op: '<=', target: 0 },
      { name: 'updated-after-restart', value: updatedAfter, unit: 'objects', op: '>=', target: bigCount },
      { name: 'converge-after-restart-ms', value: Math.round(convergeMs), unit: 'ms' },
      { name: 'other-bundle-objects-touched', value: touched, unit: 'objects', op: '<=', target: 0 },
    ],
  });
  assert.ok(atKill.dryRuns > start.dryRuns, 'the agent was killed during the dry run');
  assert.equal(updatedAtKill, 0, 'nothing was written before the dry run ended');
  assert.equal(updatedAfter, bigCount);
  assert.equal(touched, 0, 'the other bundle is not written to');
});

test('an agent that dies after its last dry run and before its first write, restarted without the hub, applies the bundle whole', {
  timeout: 600_000,
}, async () => {
  const fleet = await hubForTest();
  const agent = await agentForSite('chaos-gap');
  const big = 'chaos-gap-big';
  // the agent kills itself at that exact step of this bundle (src/agent/crash-point.ts): no race
  const { selector, steady, before } = await siteWithSteadyBundle(fleet, 'chaos-gap', agent, {
    OUTPOST_AGENT_CRASH_AT: `before-first-write:${big}`,
  });

  const start = await configMapApplies();
  await fleet.api.applyBundle(
    bundleFile(
      big,
      selector,
      Array.from({ length: bigCount }, (_, i) => configMap(`${big}-${i}`, big)),
    ),
  );
  const signal = await agent.exited();
  const atKill = await configMapApplies();
  const objectsAtKill = (await objectsOf(big)).size;

  await fleet.stop();
  agent.start('');
  const convergeMs = await until('the bundle complete without the hub', 180, async () => {
    return (await objectsOf(big)).size === bigCount;
  });
  await new Promise((r) => setTimeout(r, 5000));
  const objectsAfter = (await objectsOf(big)).size;
  const touched = await touchedSince(steady, before);
  await agent.kill();

  const dryRuns = atKill.dryRuns - start.dryRuns;
  const writes = atKill.writes - start.writes;
  await recordChaos({
    scenario: 'agent-killed-before-first-write',
    checked: `agent process SIGKILLed by itself (OUTPOST_AGENT_CRASH_AT=before-first-write) after the apiserver answered all ${dryRuns} dry-run applies of a new ${bigCount}-object bundle and before its first write (both counted from kube-apiserver's apiserver_request_total), then started again with the hub stopped; it applies the bundle whole from its saved desired state, and the 5 objects of the site's other bundle keep their resourceVersions`,
    figures: [
      { name: 'dry-runs-at-kill', value: dryRuns, unit: 'requests', op: '>=', target: bigCount },
      { name: 'writes-at-kill', value: writes, unit: 'requests', op: '<=', target: 0 },
      { name: 'objects-at-kill', value: objectsAtKill, unit: 'objects', op: '<=', target: 0 },
      { name: 'objects-after-restart', value: objectsAfter, unit: 'objects', op: '>=', target: bigCount },
      { name: 'converge-after-restart-ms', value: Math.round(convergeMs), unit: 'ms' },
      { name: 'other-bundle-objects-touched', value: touched, unit: 'objects', op: '<=', target: 0 },
    ],
  });
  assert.equal(signal, 'SIGKILL', 'the agent died at the crash point');
  assert.equal(dryRuns, bigCount, 'every object was dry-run before the agent died');
  assert.equal(writes, 0, 'nothing was written before it died');
  assert.equal(objectsAtKill, 0);
  assert.equal(objectsAfter, bigCount);
  assert.equal(touched, 0, 'the other bundle is not written to');
});

test('an agent killed mid-rollback and restarted without the hub finishes going back to the last-known-good', {
  timeout: 600_000,
}, async () => {
  const fleet = await hubForTest();
  const agent = await agentForSite('chaos-back');
  const { selector, steady, before } = await siteWithSteadyBundle(fleet, 'chaos-back', agent);

  const big = 'chaos-back-big';
  const options = { apply: { progressDeadlineSeconds: 3, rollback: true } };
  // a Deployment nobody plays the controller for never becomes ready: revision 2 misses its deadline
  const stuck = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `${big}-app`, namespace: 'default' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: big } },
      template: {
        metadata: { labels: { app: big } },
        spec: { containers: [{ name: 'app', image: 'app:2' }] },
      },
    },
  };
  const version = (v: string, extra: unknown[] = []) =>
    bundleFile(
      big,
      selector,
      [
        ...Array.from({ length: bigCount }, (_, i) => ({ ...configMap(`${big}-${i}`, big), data: { v } })),
        ...extra,
      ],
      options,
    );
  await fleet.api.applyBundle(version('1'));
  await until('revision 1 Ready', 180, async () => {
    const detail = await fleet.api.site('chaos-back').catch(() => undefined);
    return detail?.deployments.find((d) => d.bundle === big)?.state === 'Ready';
  });
  await fleet.api.applyBundle(version('2', [stuck]));
  await until('revision 2 applied', 180, async () => (await countWithValue(big, '2')) === bigCount);
  await until('the rollback under way', 180, async () => (await countWithValue(big, '1')) >= bigCount / 4);
  await agent.kill();
  const backAtKill = await countWithValue(big, '1');

  await fleet.stop();
  agent.start('');
  const deploymentPath = `/apis/apps/v1/namespaces/default/deployments/${big}-app`;
  const convergeMs = await until('the rollback complete without the hub', 180, async () => {
    return (
      (await countWithValue(big, '1')) === bigCount &&
      (await kube.request('GET', deploymentPath)).status === 404
    );
  });
  await new Promise((r) => setTimeout(r, 5000));
  const backAfter = await countWithValue(big, '1');
  const stuckLeft = (await kube.request('GET', deploymentPath)).status === 404 ? 0 : 1;
  const touched = await touchedSince(steady, before);
  await agent.kill();

  await recordChaos({
    scenario: 'agent-killed-rollback',
    checked: `a ${bigCount}-object bundle's revision 2 (with a Deployment no controller makes ready) misses its 3 s progress deadline; the agent process is SIGKILLed with ${backAtKill} of the ${bigCount} ConfigMaps rolled back to revision 1, then started again with the hub stopped; it finishes the rollback (every ConfigMap at revision 1, revision 2's Deployment pruned) from its saved state, and the 5 objects of the site's other bundle keep their resourceVersions`,
    figures: [
      { name: 'rolled-back-at-kill', value: backAtKill, unit: 'objects' },
      { name: 'rolled-back-after-restart', value: backAfter, unit: 'objects', op: '>=', target: bigCount },
      { name: 'failed-revision-objects-left', value: stuckLeft, unit: 'objects', op: '<=', target: 0 },
      { name: 'converge-after-restart-ms', value: Math.round(convergeMs), unit: 'ms' },
      { name: 'other-bundle-objects-touched', value: touched, unit: 'objects', op: '<=', target: 0 },
    ],
  });
  assert.ok(backAtKill < bigCount, `the agent was killed mid-rollback (${backAtKill} of ${bigCount} back)`);
  assert.equal(backAfter, bigCount);
  assert.equal(stuckLeft, 0);
  assert.equal(touched, 0, 'the other bundle is not written to');
});
