import assert from 'node:assert/strict';
import { test } from 'node:test';
import { upgradePlans } from '../agent/host-layers/core/upgrade-plans.ts';
import {
  type NodeUpgradeJob,
  storeNodes,
  type UpgradePlan,
  upgradeControllerStep,
  upgradePlanOf,
} from './nodes.ts';

const target = 'v1.32.1+k3s1';
/** The Plans the agent applies, read back as the controller reads them. */
function plans(concurrency = 1): UpgradePlan[] {
  const p = upgradePlans(
    { distribution: 'k3s', version: target, upgrade: { concurrency, cordon: true, drain: false } },
    '2026-12-05T20:00:00.000Z',
  );
  return [upgradePlanOf(p.server)!, upgradePlanOf(p.agent)!];
}

/** Runs the controller on a clock ticking by `tickMs` until nothing moves; the order nodes finished in. */
function run(
  nodes: ReturnType<typeof storeNodes>,
  upgradeMs: (node: string) => number | null,
  opts: { concurrency?: number; untilMs?: number } = {},
) {
  const finished: Array<{ node: string; at: number }> = [];
  let jobs: NodeUpgradeJob[] = [];
  const versions = new Map(nodes.map((n) => [n.name, n.kubeletVersion]));
  for (let now = 0; now <= (opts.untilMs ?? 100_000); now += 100) {
    const step = upgradeControllerStep({
      nodes: nodes.map((n) => ({ ...n, kubeletVersion: versions.get(n.name)! })),
      plans: plans(opts.concurrency),
      jobs,
      now,
      upgradeMs,
    });
    for (const u of step.upgraded) {
      versions.set(u.node, u.version);
      finished.push({ node: u.node, at: now });
    }
    jobs = step.jobs;
  }
  return { finished, jobs, versions };
}

test('a store has one server and up to two agents, the same ones for the same seed', () => {
  const counts = new Set<number>();
  for (let i = 1; i <= 40; i++) {
    const nodes = storeNodes(3, `store-${i}`);
    assert.deepEqual(storeNodes(3, `store-${i}`), nodes);
    assert.equal(nodes[0]!.name, `store-${i}-server`);
    assert.equal(nodes.filter((n) => n.labels['node-role.kubernetes.io/control-plane']).length, 1);
    assert.equal(nodes[0]!.kubeletVersion, 'v1.31.4+k3s1');
    counts.add(nodes.length);
  }
  assert.deepEqual([...counts].sort(), [1, 2, 3], 'every store size occurs in a fleet of 40');
});

test('the Plans move nodes one at a time, the server before any agent', () => {
  const server = storeNodes(3, 'store-a')[0]!;
  const agent = (n: number) => ({ ...server, name: `store-a-agent-${n}`, labels: {} });
  const { finished, jobs, versions } = run([agent(2), server, agent(1)], () => 1000);
  assert.deepEqual(
    finished.map((f) => f.node),
    ['store-a-server', 'store-a-agent-1', 'store-a-agent-2'],
  );
  assert.ok(finished[1]!.at - finished[0]!.at >= 1000, 'the first agent starts after the server is done');
  assert.ok(finished[2]!.at - finished[1]!.at >= 1000, 'one node at a time');
  assert.deepEqual(jobs, []);
  assert.deepEqual([...new Set(versions.values())], [target]);
});

test('with concurrency 2 the agents move together', () => {
  const server = storeNodes(3, 'store-b')[0]!;
  const agent = (n: number) => ({ ...server, name: `store-b-agent-${n}`, labels: {} });
  const { finished } = run([server, agent(1), agent(2)], () => 1000, { concurrency: 2 });
  assert.equal(finished[1]!.at, finished[2]!.at);
});

test('a node whose upgrade never succeeds stays behind and holds its Plan; the others finish', () => {
  const server = storeNodes(3, 'store-c')[0]!;
  const agent = (n: number) => ({ ...server, name: `store-c-agent-${n}`, labels: {} });
  const { finished, jobs, versions } = run([server, agent(1), agent(2)], (node) =>
    node === 'store-c-agent-1' ? null : 1000,
  );
  assert.deepEqual(
    finished.map((f) => f.node),
    ['store-c-server'],
    'agent-1 never finishes, and with concurrency 1 agent-2 waits behind it',
  );
  assert.deepEqual(
    jobs.map((j) => j.node),
    ['store-c-agent-1'],
  );
  assert.equal(versions.get('store-c-agent-1'), 'v1.31.4+k3s1');
});

test('a failing server keeps every agent where it was: kubelets never outrun the API server', () => {
  const server = storeNodes(3, 'store-d')[0]!;
  const { finished } = run([server, { ...server, name: 'store-d-agent-1', labels: {} }], (node) =>
    node === 'store-d-server' ? null : 1000,
  );
  assert.deepEqual(finished, []);
});

test('a Plan that changes version or goes away stops the jobs it started', () => {
  const [server] = storeNodes(3, 'store-e');
  const started = upgradeControllerStep({
    nodes: [server!],
    plans: plans(),
    jobs: [],
    now: 0,
    upgradeMs: () => 1000,
  });
  assert.equal(started.jobs.length, 1);
  const gone = upgradeControllerStep({
    nodes: [server!],
    plans: [],
    jobs: started.jobs,
    now: 5000,
    upgradeMs: () => 1000,
  });
  assert.deepEqual(gone, { upgraded: [], jobs: [] });
});

test('a Plan object without a version is not one the controller acts on', () => {
  assert.equal(upgradePlanOf({ metadata: { name: 'p' }, spec: {} }), undefined);
  assert.deepEqual(upgradePlanOf({ metadata: { name: 'p' }, spec: { version: 'v1.32.0+k3s1' } }), {
    name: 'p',
    version: 'v1.32.0+k3s1',
    concurrency: 1,
    nodeSelector: {},
  });
});
