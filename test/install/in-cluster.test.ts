// The in-cluster install for real: `outpost agent manifest`'s objects applied to the fixture
// kube-apiserver with the project's own server-side apply, its pod admitted under the "restricted" Pod
// Security level, and the built agent run as its pod would run it: the service account's token from
// the TokenRequest API and the API server's CA in a service-account folder, KUBERNETES_SERVICE_HOST/PORT,
// the join token from the environment, no kubeconfig. With rights narrowed to what a store's bundles
// need, a bundle holding a ClusterRole fails with the API server's Forbidden in its status and nothing
// half-applied, the agent keeps running; with the manifest's default rights the same bundle (CRD, CR,
// ClusterRole, Namespace, Deployment) applies.

import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { clusterInstallObjects } from '../../src/agent/install/core/cluster-manifest.ts';
import { agentNodeFlags } from '../../src/agent/install/core/node-flags.ts';
import { KubeCluster } from '../../src/agent/kube/client.ts';
import { kubeConfigFromFile } from '../../src/agent/kube/config.ts';
import type { KubeObject } from '../../src/model/manifest.ts';
import { eventually } from '../support/eventually.ts';
import { bundleFile, startTestHub, type TestHub } from '../support/fleet.ts';
import { type KubeFixture, startKube } from '../support/kube.ts';

const root = resolve(import.meta.dirname, '..', '..');
let kube: KubeFixture;
let fleet: TestHub;
let admin: KubeCluster;
let work: string;
let agent: ChildProcess | undefined;
let passed = false;

before(async () => {
  execFileSync('bash', [join(root, 'scripts/build-app.sh')], { stdio: 'inherit' });
  work = await mkdtemp(join(tmpdir(), 'outpost-in-cluster-'));
  [kube, fleet] = await Promise.all([startKube(), startTestHub()]);
  admin = new KubeCluster(kubeConfigFromFile(kube.kubeconfigPath));
});

after(async () => {
  if (!passed) {
    const log = await readFile(join(work, 'agent.log'), 'utf8').catch(() => '');
    process.stderr.write(`--- agent log (last 80 lines) ---\n${log.split('\n').slice(-80).join('\n')}\n`);
  }
  agent?.kill('SIGTERM');
  if (agent && agent.exitCode === null) await new Promise((r) => agent!.once('exit', r));
  admin?.close();
  await fleet?.stop();
  await kube?.stop();
  await rm(work, { recursive: true, force: true });
});

async function applyAll(objects: readonly KubeObject[]): Promise<void> {
  for (const o of objects) await admin.apply(o, { fieldManager: 'kubectl', force: true });
}

/** What bundles for a store may hold once narrowed: everything of the test bundle but RBAC. */
const storeBundlesRole: KubeObject = {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRole',
  metadata: { name: 'store-bundles' },
  rules: [
    { apiGroups: [''], resources: ['namespaces', 'configmaps'], verbs: ['*'] },
    { apiGroups: ['apps'], resources: ['deployments'], verbs: ['*'] },
    { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['*'] },
    { apiGroups: ['example.com'], resources: ['widgets'], verbs: ['*'] },
  ],
} as KubeObject;

/** A bundle of many kinds, cluster-scoped ones and RBAC included. */
function storeBundle(lanes: string) {
  return bundleFile(
    'store',
    {},
    [
      {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'widgets.example.com' },
        spec: {
          group: 'example.com',
          names: { kind: 'Widget', plural: 'widgets', singular: 'widget' },
          scope: 'Namespaced',
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: { spec: { type: 'object', properties: { lanes: { type: 'string' } } } },
                },
              },
            },
          ],
        },
      },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'store' } },
      {
        apiVersion: 'example.com/v1',
        kind: 'Widget',
        metadata: { name: 'till', namespace: 'store' },
        spec: { lanes },
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'store-reader' },
        rules: [{ apiGroups: ['example.com'], resources: ['widgets'], verbs: ['get', 'list'] }],
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'till', namespace: 'store' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'till' } },
          template: {
            metadata: { labels: { app: 'till' } },
            spec: { containers: [{ name: 'till', image: 'registry.example/till:1.4.3' }] },
          },
        },
      },
    ],
    { apply: { readiness: 'Optimistic' } },
  );
}

async function storeDeployment() {
  const site = await fleet.api.site('store-9').catch(() => undefined);
  return site?.deployments.find((d) => d.bundle === 'store');
}

test('the manifest installs an agent that runs on its service account alone, within the rights it was given', {
  timeout: 300_000,
}, async () => {
  const options = {
    joinToken: fleet.joinToken,
    image: 'registry.example/outpost-agent:test',
    name: 'store-9',
    storage: 'pvc' as const,
  };
  // Narrowed first: the bundles' rights come from the operator's own ClusterRole.
  await applyAll([storeBundlesRole, ...clusterInstallObjects({ ...options, clusterRole: 'store-bundles' })]);
  const ns = 'outpost-system';
  const read = async (path: string) => (await kube.request('GET', path)).status;
  assert.equal(await read(`/api/v1/namespaces/${ns}/serviceaccounts/outpost-agent`), 200);
  assert.equal(await read(`/api/v1/namespaces/${ns}/persistentvolumeclaims/outpost-agent-state`), 200);
  assert.equal(await read(`/apis/apps/v1/namespaces/${ns}/deployments/outpost-agent`), 200);
  assert.equal(await read('/apis/rbac.authorization.k8s.io/v1/clusterroles/outpost-agent-bundles'), 404);
  // Narrowed bundles or not, the agent may do what its host-layer upgrades do: follow the nodes and
  // drive system-upgrade-controller's Plans; the API server's own authorizer says so.
  const may = async (verb: string, resource: string, group = '', namespace?: string) => {
    const review = await kube.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: `system:serviceaccount:${ns}:outpost-agent`,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
        resourceAttributes: { verb, resource, group, ...(namespace ? { namespace } : {}) },
      },
    });
    assert.equal(review.status, 201, JSON.stringify(review.body));
    return review.body.status.allowed === true;
  };
  for (const verb of ['get', 'list', 'watch']) assert.ok(await may(verb, 'nodes'), `nodes: ${verb}`);
  for (const verb of ['get', 'create', 'patch', 'delete'])
    assert.ok(await may(verb, 'plans', 'upgrade.cattle.io', 'system-upgrade'), `plans: ${verb}`);
  assert.ok(!(await may('patch', 'nodes')), 'the agent never changes a node itself');

  // The agent's pod is admitted where the namespace enforces the "restricted" Pod Security level; a pod
  // that may run as root is not, so the check is live.
  const deployment = (await kube.request('GET', `/apis/apps/v1/namespaces/${ns}/deployments/outpost-agent`))
    .body;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'agent-probe', namespace: ns },
    spec: deployment.spec.template.spec,
  };
  const admitted = await kube.request('POST', `/api/v1/namespaces/${ns}/pods?dryRun=All`, pod);
  assert.equal(admitted.status, 201, JSON.stringify(admitted.body));
  const rootly = structuredClone(pod);
  delete rootly.spec.securityContext.runAsNonRoot;
  delete rootly.spec.securityContext.runAsUser;
  const refused = await kube.request('POST', `/api/v1/namespaces/${ns}/pods?dryRun=All`, rootly);
  assert.equal(refused.status, 403);
  assert.match(refused.body.message, /violates PodSecurity "restricted/);

  // What the kubelet gives the pod: a token of its service account (TokenRequest) and the cluster's CA.
  const tokenRequest = await kube.request(
    'POST',
    `/api/v1/namespaces/${ns}/serviceaccounts/outpost-agent/token`,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 3600 },
    },
  );
  assert.equal(tokenRequest.status, 201, JSON.stringify(tokenRequest.body));
  const serviceAccount = join(work, 'serviceaccount');
  await mkdir(serviceAccount);
  await writeFile(join(serviceAccount, 'token'), tokenRequest.body.status.token);
  await writeFile(join(serviceAccount, 'ca.crt'), kube.ca);
  await writeFile(join(serviceAccount, 'namespace'), ns);
  const server = new URL(kube.server);
  const container = deployment.spec.template.spec.containers[0];
  const { KUBECONFIG: _kubeconfig, ...env } = process.env;
  const log = openSync(join(work, 'agent.log'), 'a');
  // the container's command: the image's entrypoint (node, its flags, the build) and the manifest's args,
  // but the local page on a free loopback port
  const args = container.args.map((a: string) => (a.startsWith('0.0.0.0:') ? '127.0.0.1:0' : a));
  args[args.indexOf('--state-dir') + 1] = join(work, 'state');
  agent = spawn(process.execPath, [...agentNodeFlags, join(root, 'dist/app/outpost.mjs'), ...args], {
    env: {
      ...env,
      HOME: work,
      KUBERNETES_SERVICE_HOST: server.hostname,
      KUBERNETES_SERVICE_PORT: server.port,
      OUTPOST_SERVICE_ACCOUNT_DIR: serviceAccount,
      OUTPOST_JOIN_TOKEN: fleet.joinToken,
      OUTPOST_SITE: 'store-9',
    },
    stdio: ['ignore', log, log],
  });
  await eventually('the agent to register', async () => (await fleet.api.sites()).length === 1, {
    timeoutMs: 60_000,
  });
  assert.match(await readFile(join(work, 'agent.log'), 'utf8'), /cluster=in-cluster service account/);

  // Narrowed: the ClusterRole in the bundle is forbidden; the deployment says so, nothing is applied.
  await fleet.api.applyBundle(storeBundle('4'));
  const forbidden = await eventually(
    'the bundle to fail on its missing right',
    async () => {
      const d = await storeDeployment();
      return d?.state === 'Failed' ? d : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  assert.match(forbidden.message, /ClusterRole store-reader/);
  assert.match(forbidden.message, /forbidden/i);
  assert.match(forbidden.message, /system:serviceaccount:outpost-system:outpost-agent/);
  assert.match(forbidden.message, /clusterroles/);
  assert.equal(await read('/api/v1/namespaces/store'), 404, 'nothing half-applied');
  // still running and still reporting: no crash loop
  const seen = (await fleet.api.site('store-9')).lastReport;
  await eventually(
    'another report from the same process',
    async () => {
      assert.equal(agent!.exitCode, null, 'the agent keeps running');
      return (await fleet.api.site('store-9')).lastReport !== seen;
    },
    { timeoutMs: 60_000, intervalMs: 1000 },
  );

  // The operator gives the default rights back (a binding's role cannot change in place: replaced).
  await kube.request(
    'DELETE',
    '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/outpost-agent-bundles',
  );
  await applyAll(clusterInstallObjects(options));
  await fleet.api.applyBundle(storeBundle('5'));
  const ready = await eventually(
    'the multi-kind bundle to be Ready',
    async () => {
      const d = await storeDeployment();
      return d?.state === 'Ready' && d.desiredRevision === 2 ? d : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 500 },
  );
  // every object applied; the Deployment alone is not available, as no controller runs here
  assert.deepEqual(ready.counts, { total: 5, applied: 5, ready: 4 });
  assert.equal(
    (await kube.request('GET', '/apis/example.com/v1/namespaces/store/widgets/till')).body.spec.lanes,
    '5',
  );
  assert.equal(await read('/apis/rbac.authorization.k8s.io/v1/clusterroles/store-reader'), 200);
  assert.equal(await read('/apis/apps/v1/namespaces/store/deployments/till'), 200);
  passed = true;
});
