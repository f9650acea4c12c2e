// Image pre-pull: before a revision with new container images replaces a running one, a short-lived
// DaemonSet runs each new image on every node so the kubelet pulls it; the switch then costs seconds,
// not a download over a thin edge link. Pure: plans the DaemonSets and reads their progress.
//
// Why a DaemonSet with a no-op command: it is the one portable way to make every node's kubelet pull an
// image, with the node's own credentials, registry mirrors and the workload's imagePullSecrets. Each new
// image is an init container running `sh -c "exit 0"` (pulled, started, done), and the pod then idles on
// the pause image, which every node already holds as its sandbox image. Limits: an image without `sh`
// on its PATH (distroless, scratch) is still pulled, but its init container fails, so that node never
// counts as done and the agent switches when the pre-pull deadline passes; nodes that a workload's
// nodeSelector would exclude pull too; images are pulled IfNotPresent, so a moved tag is not re-pulled.

import { groupOf, type KubeObject } from '../../model/manifest.ts';

export const prePullLabel = 'outpost.dev/prepull';
export const defaultPauseImage = 'registry.k8s.io/pause:3.10';

export interface PrePullPlan {
  namespace: string;
  images: string[];
  imagePullSecrets: Array<{ name: string }>;
}

interface PodSpec {
  containers?: Array<{ image?: string }>;
  initContainers?: Array<{ image?: string }>;
  imagePullSecrets?: Array<{ name?: string }>;
}

/** The pod spec inside a workload, or undefined for objects that run no pods. */
export function podSpecOf(obj: KubeObject): PodSpec | undefined {
  const spec = obj.spec as Record<string, unknown> | undefined;
  if (!spec) return undefined;
  const group = groupOf(obj.apiVersion);
  const templateSpec = (t: unknown) => (t as { spec?: PodSpec } | undefined)?.spec;
  if (obj.kind === 'Pod' && group === '') return spec as PodSpec;
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(obj.kind) && group === 'apps')
    return templateSpec(spec.template);
  if (obj.kind === 'Job' && group === 'batch') return templateSpec(spec.template);
  if (obj.kind === 'CronJob' && group === 'batch')
    return templateSpec((spec.jobTemplate as { spec?: { template?: unknown } } | undefined)?.spec?.template);
  return undefined;
}

function imagesOfPod(pod: PodSpec): string[] {
  return [...(pod.initContainers ?? []), ...(pod.containers ?? [])]
    .map((c) => c.image)
    .filter((i): i is string => typeof i === 'string' && i !== '');
}

/** Every container image the objects run. */
export function imagesOf(objects: readonly KubeObject[]): Set<string> {
  const out = new Set<string>();
  for (const o of objects) {
    const pod = podSpecOf(o);
    if (pod) for (const image of imagesOfPod(pod)) out.add(image);
  }
  return out;
}

/**
 * What to pre-pull before switching from `running` to `next`: per namespace, the images `next` runs that
 * `running` does not, with the pull secrets the workloads name. Empty when nothing new is pulled.
 */
export function planPrePull(
  running: readonly KubeObject[],
  next: readonly KubeObject[],
  defaultNamespace: string,
): PrePullPlan[] {
  const have = imagesOf(running);
  const byNamespace = new Map<string, { images: Set<string>; secrets: Set<string> }>();
  for (const o of next) {
    const pod = podSpecOf(o);
    if (!pod) continue;
    const fresh = imagesOfPod(pod).filter((i) => !have.has(i));
    if (fresh.length === 0) continue;
    const ns = o.metadata.namespace ?? defaultNamespace;
    const entry = byNamespace.get(ns) ?? { images: new Set(), secrets: new Set() };
    for (const i of fresh) entry.images.add(i);
    for (const s of pod.imagePullSecrets ?? []) if (s.name) entry.secrets.add(s.name);
    byNamespace.set(ns, entry);
  }
  return [...byNamespace].map(([namespace, e]) => ({
    namespace,
    images: [...e.images].sort(),
    imagePullSecrets: [...e.secrets].sort().map((name) => ({ name })),
  }));
}

/** The DaemonSet's name: one per bundle and namespace, short enough for the pods named after it. */
export function prePullName(bundle: string): string {
  return `outpost-prepull-${bundle}`.slice(0, 57).replace(/-+$/, '');
}

export function prePullDaemonSet(bundle: string, plan: PrePullPlan, pauseImage: string): KubeObject {
  const labels = { [prePullLabel]: bundle, 'app.kubernetes.io/managed-by': 'outpost' };
  const small = { requests: { cpu: '1m', memory: '8Mi' }, limits: { cpu: '100m', memory: '64Mi' } };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: prePullName(bundle), namespace: plan.namespace, labels },
    spec: {
      selector: { matchLabels: { [prePullLabel]: bundle } },
      template: {
        metadata: { labels },
        spec: {
          initContainers: plan.images.map((image, i) => ({
            name: `pull-${i}`,
            image,
            imagePullPolicy: 'IfNotPresent',
            command: ['sh', '-c', 'exit 0'],
            resources: small,
          })),
          containers: [{ name: 'pause', image: pauseImage, resources: small }],
          imagePullSecrets: plan.imagePullSecrets,
          // every node the new revision could land on, tainted or not
          tolerations: [{ operator: 'Exists' }],
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 0,
        },
      },
    },
  };
}

export interface PrePullProgress {
  /** nodes whose pod has pulled and run every image */
  pulled: number;
  /** nodes the DaemonSet runs on; undefined until its controller has looked at it */
  nodes: number | undefined;
  done: boolean;
}

/** How far a pre-pull DaemonSet has got, from the status its controller writes. */
export function prePullProgress(live: KubeObject | undefined): PrePullProgress {
  const status = (live?.status ?? {}) as Record<string, unknown>;
  const generation = Number(live?.metadata.generation ?? 1);
  const observed = typeof status.observedGeneration === 'number' && status.observedGeneration >= generation;
  if (!live || !observed) return { pulled: 0, nodes: undefined, done: false };
  const nodes = Number(status.desiredNumberScheduled ?? 0);
  const pulled = Math.min(Number(status.numberReady ?? 0), Number(status.updatedNumberScheduled ?? 0));
  return { pulled, nodes, done: pulled >= nodes };
}
