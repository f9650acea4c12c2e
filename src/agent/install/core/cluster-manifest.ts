// What `outpost agent manifest` prints for `kubectl apply -f -`: everything an agent needs to run inside
// the site's own cluster (namespace, service account and its RBAC, the join token, a single-replica
// workload with its state on a volume). Pure: options in, objects and YAML out.

import { stringify } from 'yaml';
import { OutpostError } from '../../../model/errors.ts';
import type { KubeObject } from '../../../model/manifest.ts';
import { siteNameProblem } from '../../../model/site.ts';
import { validateLabels } from '../../../select/labels.ts';

export interface ClusterInstallOptions {
  /** from `outpost token create`; kept in a Secret, read once to register */
  joinToken: string;
  /** the agent image (see Containerfile.agent); a digest (`…@sha256:…`) pins it */
  image: string;
  /** the site name to ask for; default: the name of the node the agent runs on */
  name?: string;
  /** labels the site asks for at registration */
  labels?: Record<string, string>;
  /** where the state directory lives: a PersistentVolumeClaim (survives the node), or the node's disk */
  storage: 'pvc' | 'hostPath';
  /** default outpost-system */
  namespace?: string;
  /** the claim's storage class; default: the cluster's default class */
  storageClass?: string;
  /** default 1Gi: the telemetry buffer (64 MiB), cached manifests, the report outbox */
  storageSize?: string;
  /** the node folder for storage hostPath; default /var/lib/outpost-agent */
  hostPath?: string;
  /**
   * an existing ClusterRole that says what bundles may contain; without one the agent gets every verb
   * on every resource, because a bundle may hold any kind (README: "Narrowing the agent's rights")
   */
  clusterRole?: string;
}

export const defaultAgentNamespace = 'outpost-system';
/** The Deployment, ServiceAccount and Secret name; the agent finds its own workload by it to upgrade. */
export const agentWorkloadName = 'outpost-agent';
export const agentStateMount = '/var/lib/outpost-agent';
export const agentPagePort = 7071;
/** The pinned Node runtime inside the agent image (Containerfile.agent). */
export const imageNodePath = '/opt/outpost/node/bin/node';
/** The user the agent runs as in its image (distroless' "nonroot"). */
export const agentUid = 65532;

/**
 * Requests and limits from bench/agent-footprint.ts: ~68 MiB resident at rest with 5 bundles (about 45
 * MiB of it the node executable's shared pages, which the container's memory cgroup is charged for too)
 * and well under 1% of a core. The limit leaves room for applying a large bundle.
 */
export const agentResources = {
  requests: { cpu: '20m', memory: '96Mi' },
  limits: { cpu: '500m', memory: '256Mi' },
};

const labelsOf = { 'app.kubernetes.io/name': 'outpost-agent', 'app.kubernetes.io/part-of': 'outpost' };
const dns1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const quantity = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/;

function invalid(message: string): never {
  throw new OutpostError('request_invalid', message);
}

function check(opts: ClusterInstallOptions): void {
  if (!opts.joinToken.startsWith('outpost-join-v1.'))
    invalid('--join-token is not a join token (outpost token create prints one)');
  if (!opts.image || /\s/.test(opts.image)) invalid(`--image is not an image reference: "${opts.image}"`);
  if (opts.name !== undefined) {
    const problem = siteNameProblem(opts.name);
    if (problem) invalid(`--name: ${problem}`);
  }
  const problems = validateLabels(opts.labels ?? {}, '--label');
  if (problems.length > 0) invalid(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  const ns = opts.namespace ?? defaultAgentNamespace;
  if (ns.length > 63 || !dns1123.test(ns)) invalid(`--namespace "${ns}" is not a valid namespace name`);
  if (opts.storageSize !== undefined && !quantity.test(opts.storageSize))
    invalid(`--storage-size "${opts.storageSize}" is not a quantity like 1Gi`);
  if (opts.hostPath !== undefined && !opts.hostPath.startsWith('/'))
    invalid(`--host-path must be absolute, got "${opts.hostPath}"`);
  if (opts.clusterRole !== undefined && !/^[a-z0-9][-a-z0-9.:]*$/.test(opts.clusterRole))
    invalid(`--cluster-role "${opts.clusterRole}" is not a ClusterRole name`);
}

/** The objects, in the order `kubectl apply` should create them. */
export function clusterInstallObjects(opts: ClusterInstallOptions): KubeObject[] {
  check(opts);
  const namespace = opts.namespace ?? defaultAgentNamespace;
  const name = agentWorkloadName;
  const meta = (n: string, namespaced = true) => ({
    name: n,
    ...(namespaced ? { namespace } : {}),
    labels: { ...labelsOf },
  });
  const bundlesRole = opts.clusterRole ?? `${name}-bundles`;
  // A claim lets the pod meet the "restricted" Pod Security level, and the namespace enforces it; a node
  // folder (hostPath) is allowed only at "privileged".
  const podSecurity = opts.storage === 'pvc' ? 'restricted' : 'privileged';
  const objects: KubeObject[] = [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: namespace,
        labels: { ...labelsOf, 'pod-security.kubernetes.io/enforce': podSecurity },
      },
    },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(name) },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: meta(name, false),
      // What the agent needs for itself whatever its bundles hold: the site's facts, Kubernetes events
      // and annotated pods for telemetry, CRDs it waits on, the DaemonSets that pre-pull images, and the
      // system-upgrade-controller Plans that move a k3s or RKE2 site to its profile's version (cluster-wide:
      // their namespace may come after the agent). No host hooks here: a pod cannot run the host's programs.
      rules: [
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
        {
          apiGroups: ['upgrade.cattle.io'],
          resources: ['plans'],
          verbs: ['get', 'list', 'create', 'patch', 'delete'],
        },
        { apiGroups: [''], resources: ['events', 'pods'], verbs: ['get', 'list', 'watch'] },
        {
          apiGroups: ['apiextensions.k8s.io'],
          resources: ['customresourcedefinitions'],
          verbs: ['get', 'list', 'watch'],
        },
        {
          apiGroups: ['apps'],
          resources: ['daemonsets'],
          verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(name, false),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  ];
  if (!opts.clusterRole) {
    objects.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: meta(bundlesRole, false),
      // A bundle may hold any kind, cluster-scoped ones and RBAC included, and creating a Role needs every
      // right it grants: so by default everything. Narrow it with --cluster-role (README).
      rules: [
        { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
        { nonResourceURLs: ['*'], verbs: ['*'] },
      ],
    });
  }
  objects.push(
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(`${name}-bundles`, false),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: bundlesRole },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta(`${name}-self`, true),
      // An in-cluster upgrade changes the agent's own Deployment's image, and watches its pods come up.
      rules: [
        {
          apiGroups: ['apps'],
          resources: ['deployments'],
          resourceNames: [name],
          verbs: ['get', 'watch', 'patch'],
        },
        { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(`${name}-self`, true),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${name}-self` },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta(name),
      type: 'Opaque',
      stringData: { 'join-token': opts.joinToken },
    },
  );
  if (opts.storage === 'pvc') {
    objects.push({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: meta(`${name}-state`),
      spec: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: opts.storageSize ?? '1Gi' } },
        ...(opts.storageClass ? { storageClassName: opts.storageClass } : {}),
      },
    });
  }
  objects.push(workload(opts, namespace));
  return objects;
}

function workload(opts: ClusterInstallOptions, namespace: string): KubeObject {
  const name = agentWorkloadName;
  const args = ['agent', '--state-dir', agentStateMount, '--local-page', `0.0.0.0:${agentPagePort}`];
  for (const [k, v] of Object.entries(opts.labels ?? {})) args.push('--label', `${k}=${v}`);
  const stateVolume =
    opts.storage === 'pvc'
      ? { name: 'state', persistentVolumeClaim: { claimName: `${name}-state` } }
      : {
          name: 'state',
          hostPath: { path: opts.hostPath ?? '/var/lib/outpost-agent', type: 'DirectoryOrCreate' },
        };
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: agentPagePort },
    periodSeconds,
    timeoutSeconds: 5,
    failureThreshold,
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { ...labelsOf } },
    spec: {
      replicas: 1,
      // An upgrade starts the new pod beside the old one, which keeps the site until the new one is
      // Ready (it reached the hub, loaded the state and reported); a lock in the state directory lets
      // only one of them work at a time. A new pod not Ready by the deadline is rolled back.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      progressDeadlineSeconds: 600,
      revisionHistoryLimit: 3,
      selector: { matchLabels: { 'app.kubernetes.io/name': 'outpost-agent' } },
      template: {
        metadata: { labels: { ...labelsOf } },
        spec: {
          serviceAccountName: name,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: agentUid,
            runAsGroup: agentUid,
            fsGroup: agentUid,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          ...(opts.storage === 'hostPath' ? { initContainers: [stateOwner(opts.image)] } : {}),
          // Old and new pod of an upgrade share the state volume (a ReadWriteOnce claim or a node
          // folder), so they must share a node; a lone pod matches its own term and goes anywhere.
          affinity: {
            podAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [
                {
                  labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'outpost-agent' } },
                  topologyKey: 'kubernetes.io/hostname',
                },
              ],
            },
          },
          // single-node sites often run everything on a tainted control-plane node
          tolerations: [
            { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
          ],
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: 'agent',
              image: opts.image,
              args,
              env: [
                {
                  name: 'OUTPOST_JOIN_TOKEN',
                  valueFrom: { secretKeyRef: { name, key: 'join-token' } },
                },
                opts.name
                  ? { name: 'OUTPOST_SITE', value: opts.name }
                  : { name: 'OUTPOST_SITE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                { name: 'OUTPOST_POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                {
                  name: 'OUTPOST_POD_NAMESPACE',
                  valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
                },
                { name: 'OUTPOST_AGENT_WORKLOAD', value: name },
              ],
              ports: [{ name: 'page', containerPort: agentPagePort }],
              livenessProbe: probe('/healthz', 20, 3),
              readinessProbe: probe('/readyz', 5, 1),
              resources: agentResources,
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                privileged: false,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                { name: 'state', mountPath: agentStateMount },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [stateVolume, { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
        },
      },
    },
  };
}

/**
 * A node folder is made by the kubelet as root, and fsGroup does not apply to it: this hands it to the
 * agent's user once, with the one capability that takes, before the agent starts.
 */
function stateOwner(image: string) {
  return {
    name: 'state-owner',
    image,
    command: [
      imageNodePath,
      '-e',
      `const fs = require('node:fs'); fs.chownSync(${JSON.stringify(agentStateMount)}, ${agentUid}, ${agentUid}); fs.chmodSync(${JSON.stringify(agentStateMount)}, 0o700);`,
    ],
    securityContext: {
      runAsUser: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'], add: ['CHOWN', 'FOWNER'] },
    },
    volumeMounts: [{ name: 'state', mountPath: agentStateMount }],
  };
}

/**
 * The objects as one multi-document YAML stream, headed by how to use it.
 * @example clusterInstallYaml({ joinToken, image: 'registry.example/outpost-agent:0.2.0', storage: 'pvc' })
 */
export function clusterInstallYaml(opts: ClusterInstallOptions): string {
  const docs = clusterInstallObjects(opts).map((o) => stringify(o, { lineWidth: 0 }));
  return `# Outpost agent, in-cluster: kubectl apply -f THIS_FILE (the Secret holds the join token: keep it private)\n${docs.join('---\n')}`;
}
