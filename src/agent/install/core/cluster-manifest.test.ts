import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { OutpostError } from '../../../model/errors.ts';
import type { KubeObject } from '../../../model/manifest.ts';
import { type ClusterInstallOptions, clusterInstallObjects, clusterInstallYaml } from './cluster-manifest.ts';

const joinToken = 'outpost-join-v1.eyJodWIiOiJodHRwczovL2h1Yi5leGFtcGxlIn0';
const base: ClusterInstallOptions = {
  joinToken,
  image: 'registry.example/outpost-agent:0.2.0',
  storage: 'pvc',
};

// biome-ignore lint/suspicious/noExplicitAny: the test reads into arbitrary manifest fields
const find = (objects: KubeObject[], kind: string, name?: string): any =>
  objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));

test('the manifest holds a namespace, an account with its rights, the join token and one agent', () => {
  const objects = clusterInstallObjects({ ...base, name: 'store-7', labels: { region: 'west' } });
  assert.deepEqual(
    objects.map((o) => `${o.kind}/${o.metadata.name}`),
    [
      'Namespace/outpost-system',
      'ServiceAccount/outpost-agent',
      'ClusterRole/outpost-agent',
      'ClusterRoleBinding/outpost-agent',
      'ClusterRole/outpost-agent-bundles',
      'ClusterRoleBinding/outpost-agent-bundles',
      'Role/outpost-agent-self',
      'RoleBinding/outpost-agent-self',
      'Secret/outpost-agent',
      'PersistentVolumeClaim/outpost-agent-state',
      'Deployment/outpost-agent',
    ],
  );
  assert.equal(find(objects, 'Secret').stringData['join-token'], joinToken);
  assert.deepEqual(find(objects, 'ClusterRole', 'outpost-agent-bundles').rules[0], {
    apiGroups: ['*'],
    resources: ['*'],
    verbs: ['*'],
  });
  // host-layer upgrades: the agent follows the nodes and drives system-upgrade-controller's Plans
  const own = find(objects, 'ClusterRole', 'outpost-agent').rules;
  assert.deepEqual(own[0], { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] });
  assert.deepEqual(own[1], {
    apiGroups: ['upgrade.cattle.io'],
    resources: ['plans'],
    verbs: ['get', 'list', 'create', 'patch', 'delete'],
  });
  const deployment = find(objects, 'Deployment');
  assert.equal(deployment.spec.replicas, 1);
  assert.deepEqual(deployment.spec.strategy.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 });
  const pod = deployment.spec.template.spec;
  const agent = pod.containers[0];
  assert.equal(agent.image, base.image);
  assert.deepEqual(agent.args, [
    'agent',
    '--state-dir',
    '/var/lib/outpost-agent',
    '--local-page',
    '0.0.0.0:7071',
    '--label',
    'region=west',
  ]);
  assert.deepEqual(
    agent.env.find((e: { name: string }) => e.name === 'OUTPOST_SITE'),
    { name: 'OUTPOST_SITE', value: 'store-7' },
  );
  assert.deepEqual(agent.env.find((e: { name: string }) => e.name === 'OUTPOST_JOIN_TOKEN').valueFrom, {
    secretKeyRef: { name: 'outpost-agent', key: 'join-token' },
  });
  assert.equal(agent.livenessProbe.httpGet.path, '/healthz');
  assert.equal(agent.readinessProbe.httpGet.path, '/readyz');
  assert.deepEqual(agent.resources.limits, { cpu: '500m', memory: '256Mi' });
  assert.deepEqual(agent.securityContext, {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    privileged: false,
    capabilities: { drop: ['ALL'] },
  });
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.volumes[0].persistentVolumeClaim.claimName, 'outpost-agent-state');
  assert.equal(pod.initContainers, undefined, 'a claim needs no hand-over of its folder');
  assert.equal(
    find(objects, 'Namespace').metadata.labels['pod-security.kubernetes.io/enforce'],
    'restricted',
  );
});

test('without a name the site is named after its node', () => {
  const agent = find(clusterInstallObjects(base), 'Deployment').spec.template.spec.containers[0];
  assert.deepEqual(agent.env.find((e: { name: string }) => e.name === 'OUTPOST_SITE').valueFrom, {
    fieldRef: { fieldPath: 'spec.nodeName' },
  });
});

test('hostPath keeps the state on the node, handed to the agent user by an init container', () => {
  const objects = clusterInstallObjects({ ...base, storage: 'hostPath', hostPath: '/data/outpost' });
  assert.equal(find(objects, 'PersistentVolumeClaim'), undefined);
  const pod = find(objects, 'Deployment').spec.template.spec;
  assert.deepEqual(pod.volumes[0].hostPath, { path: '/data/outpost', type: 'DirectoryOrCreate' });
  assert.equal(pod.initContainers[0].securityContext.runAsUser, 0);
  assert.deepEqual(pod.initContainers[0].securityContext.capabilities, {
    drop: ['ALL'],
    add: ['CHOWN', 'FOWNER'],
  });
  assert.equal(
    find(objects, 'Namespace').metadata.labels['pod-security.kubernetes.io/enforce'],
    'privileged',
  );
});

test('--cluster-role binds an existing role for bundle content instead of the broad one', () => {
  const objects = clusterInstallObjects({ ...base, clusterRole: 'store-bundles', namespace: 'edge' });
  assert.equal(find(objects, 'ClusterRole', 'outpost-agent-bundles'), undefined);
  const binding = find(objects, 'ClusterRoleBinding', 'outpost-agent-bundles');
  assert.equal(binding.roleRef.name, 'store-bundles');
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'outpost-agent', namespace: 'edge' }]);
  assert.equal(find(objects, 'Deployment').metadata.namespace, 'edge');
});

test('the YAML parses back into exactly the objects', () => {
  const opts: ClusterInstallOptions = { ...base, labels: { 'example.com/tier': 'gold' } };
  const docs = parseAllDocuments(clusterInstallYaml(opts));
  const parsed = (Array.isArray(docs) ? docs : [docs]).map((d) => d.toJS());
  assert.deepEqual(parsed, clusterInstallObjects(opts));
});

test('bad options are refused with a clear error before anything is printed', () => {
  const cases: Array<[Partial<ClusterInstallOptions>, RegExp]> = [
    [{ joinToken: 'abc' }, /not a join token/],
    [{ image: '' }, /--image/],
    [{ name: 'Store 7' }, /--name/],
    [{ labels: { 'bad key!': 'x' } }, /--label/],
    [{ namespace: 'Outpost' }, /--namespace/],
    [{ storageSize: 'lots' }, /--storage-size/],
    [{ storage: 'hostPath', hostPath: 'relative/dir' }, /--host-path/],
  ];
  for (const [over, message] of cases) {
    assert.throws(
      () => clusterInstallYaml({ ...base, ...over }),
      (e: unknown) => e instanceof OutpostError && e.code === 'request_invalid' && message.test(e.message),
      JSON.stringify(over),
    );
  }
});
