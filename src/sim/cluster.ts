// An in-memory Kubernetes API server behind the agent's Cluster interface, for demos and scale tests of
// many real agents in one process. Server-side apply is kept simple but honest: one manager owns an
// object, another one conflicts unless it forces. Workloads get the status a controller would write,
// after a delay, or never (a "bad image"). Randomness, time and sleeping are injected, so a seed replays.

import { randomUUID } from 'node:crypto';
import {
  type ApplyOptions,
  type Cluster,
  ClusterError,
  type ListOptions,
  type ObjectList,
  type ObjectType,
  type ResourceInfo,
  type WatchEvent,
  type WatchOptions,
} from '../agent/apply/cluster.ts';
import { imagesOf } from '../agent/apply/prepull.ts';
import { sleep } from '../base/timing.ts';
import { groupOf, type KubeObject, type ObjectRef } from '../model/manifest.ts';
import { type LabelSelector, type LabelSelectorRequirement, matchesSelector } from '../select/labels.ts';
import {
  controlPlaneLabel,
  type NodeUpgradeJob,
  type SimulatedNode,
  type UpgradePlan,
  upgradeControllerStep,
  upgradePlanOf,
} from './nodes.ts';
import { draw } from './random.ts';

/** How a simulated cluster behaves; every number is in milliseconds of the injected clock. */
export interface SimulatedBehaviour {
  /** each write takes this long (jittered ±50 % by the seed) */
  applyLatencyMs?: number;
  /** a workload reports ready this long after its spec changed (jittered ±50 % by the seed) */
  readyAfterMs?: number;
  /** workloads with a container image this accepts never become available */
  badImage?: (image: string) => boolean;
  /**
   * Images that fail on a share of the sites: a workload whose image contains `image` never becomes
   * available on a site when the seed's draw for (site, image) falls under `rate`. A bad release is
   * a new image, so this is also the failure rate of the revision that brings it.
   */
  imageFailureRates?: ReadonlyArray<{ image: string; rate: number }>;
  /** how long a never-available Deployment waits before Progressing turns ProgressDeadlineExceeded */
  progressDeadlineMs?: number;
  /** share of writes (apply, delete, metadata patch) answered 503, in [0, 1] */
  transientFailureRate?: number;
  /** a node's upgrade by system-upgrade-controller takes this long (jittered ±50 % by the seed) */
  nodeUpgradeMs?: number;
}

export interface SimulatedClusterOptions {
  /** decisions (latency, readiness jitter, failures) are drawn from this seed */
  seed: number;
  /** names this cluster in the seed's draws, so two sites of one fleet decide differently */
  name?: string;
  behaviour?: SimulatedBehaviour;
  now?: () => number;
  /** waits the given time, or less when the signal aborts */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** watch history kept for resuming; a watch from an older version gets 410 */
  historyLimit?: number;
  /**
   * The cluster's Node objects; with them it also runs system-upgrade-controller: it serves
   * `upgrade.cattle.io/v1` Plans and moves their nodes to the Plan's version (sim/nodes.ts)
   */
  nodes?: readonly SimulatedNode[];
  /** a node whose upgrade job never succeeds: the store that stays behind */
  failingUpgrade?: string;
}

/** What a simulated cluster did, for the fleet summary. */
export interface SimulatedClusterCounts {
  applies: number;
  dryRuns: number;
  deletes: number;
  failures: number;
}

interface Stored {
  object: KubeObject;
  /** the single field manager that applied it */
  manager: string;
  /** when the controller's next status change is due, and which */
  due?: { at: number; to: 'ready' | 'deadline' };
}

interface Change {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  typeKey: string;
  object: KubeObject;
}

const builtIn: Array<[apiVersion: string, kind: string, name: string, namespaced: boolean]> = [
  ['v1', 'Namespace', 'namespaces', false],
  ['v1', 'Node', 'nodes', false],
  ['v1', 'ConfigMap', 'configmaps', true],
  ['v1', 'Secret', 'secrets', true],
  ['v1', 'Service', 'services', true],
  ['v1', 'ServiceAccount', 'serviceaccounts', true],
  ['v1', 'Pod', 'pods', true],
  ['v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', true],
  ['apps/v1', 'Deployment', 'deployments', true],
  ['apps/v1', 'StatefulSet', 'statefulsets', true],
  ['apps/v1', 'DaemonSet', 'daemonsets', true],
  ['apps/v1', 'ReplicaSet', 'replicasets', true],
  ['batch/v1', 'Job', 'jobs', true],
  ['batch/v1', 'CronJob', 'cronjobs', true],
  ['rbac.authorization.k8s.io/v1', 'Role', 'roles', true],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings', true],
  ['rbac.authorization.k8s.io/v1', 'ClusterRole', 'clusterroles', false],
  ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'clusterrolebindings', false],
  ['apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'customresourcedefinitions', false],
];

const workloads = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);
/** Fields the server owns; an apply neither sets nor compares them. */
const serverMetadata = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields'];
/** A quiet watch sends a bookmark about this often, as the API server does to keep a watch's place. */
const bookmarkEveryMs = 10_000;
/** How often a waiting watch looks for due status changes when nothing else happens. */
const watchTickMs = 250;
/** Where system-upgrade-controller's install puts itself and its Plans, and the kind it serves. */
const upgradeNamespace = 'system-upgrade';
const planKind = { apiVersion: 'upgrade.cattle.io/v1', kind: 'Plan', name: 'plans', namespaced: true };

const typeKeyOf = (apiVersion: string, kind: string) => `${groupOf(apiVersion)}/${kind}`;

function objectKey(typeKey: string, namespace: string | undefined, name: string): string {
  return `${typeKey}/${namespace ?? ''}/${name}`;
}

/**
 * A list's or watch's selector as the API server reads its equality-based form: comma-separated terms
 * "key" (has it), "!key" (has it not), "key=value" or "key==value", and "key!=value", all of which hold.
 */
function selectorOf(text: string | undefined): LabelSelector {
  const matchExpressions: LabelSelectorRequirement[] = [];
  for (const term of (text ?? '').split(',').map((t) => t.trim())) {
    if (!term) continue;
    const eq = term.indexOf('=');
    if (eq < 0) {
      const absent = term.startsWith('!');
      matchExpressions.push({
        key: absent ? term.slice(1).trim() : term,
        operator: absent ? 'DoesNotExist' : 'Exists',
      });
      continue;
    }
    const negated = term[eq - 1] === '!';
    const key = term.slice(0, negated ? eq - 1 : eq).trim();
    const value = term.slice(term[eq + 1] === '=' ? eq + 2 : eq + 1).trim();
    matchExpressions.push({ key, operator: negated ? 'NotIn' : 'In', values: [value] });
  }
  return { matchExpressions };
}

/** The fields an apply sets, without what the server owns. */
function content(obj: KubeObject): Record<string, unknown> {
  const { metadata, status: _status, ...rest } = obj;
  const meta = { ...metadata };
  for (const f of serverMetadata) delete meta[f];
  return { ...rest, metadata: meta };
}

function specOf(obj: KubeObject): string {
  const { metadata: _m, status: _s, ...rest } = obj;
  return JSON.stringify(rest);
}

/** Paths the applied object sets to a value different from the live one's. */
function conflicts(applied: unknown, live: unknown, path = ''): string[] {
  if (applied && typeof applied === 'object' && !Array.isArray(applied)) {
    if (!live || typeof live !== 'object' || Array.isArray(live)) return [path || '.'];
    const out: string[] = [];
    for (const [k, v] of Object.entries(applied)) {
      out.push(...conflicts(v, (live as Record<string, unknown>)[k], `${path}.${k}`));
    }
    return out;
  }
  return JSON.stringify(applied) === JSON.stringify(live) ? [] : [path || '.'];
}

/**
 * A cluster that keeps everything in memory.
 *
 * @example
 * const cluster = new SimulatedCluster({ seed: 7, behaviour: { readyAfterMs: 2000 } });
 * await cluster.apply(deployment, { fieldManager: 'outpost', force: false });
 */
export class SimulatedCluster implements Cluster {
  readonly #seed: number;
  readonly #name: string;
  readonly #behaviour: SimulatedBehaviour;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #historyLimit: number;
  readonly #kinds = new Map<string, ResourceInfo & { apiVersion: string; kind: string }>();
  readonly #objects = new Map<string, Stored>();
  readonly #history: Change[] = [];
  readonly #listeners = new Set<() => void>();
  /** per operation and object, how many calls came so far: the key of each failure draw */
  readonly #attempts = new Map<string, number>();
  readonly #failingUpgrade: string | undefined;
  /** system-upgrade-controller's node jobs in progress; undefined when the cluster runs no controller */
  #upgradeJobs: NodeUpgradeJob[] | undefined;
  /** how many Plans are stored: with none and no job under way the controller has nothing to look at */
  #plans = 0;
  #rv = 0;
  readonly counts: SimulatedClusterCounts = { applies: 0, dryRuns: 0, deletes: 0, failures: 0 };

  constructor(opts: SimulatedClusterOptions) {
    this.#seed = opts.seed;
    this.#name = opts.name ?? '';
    this.#behaviour = opts.behaviour ?? {};
    this.#now = opts.now ?? Date.now;
    this.#sleep = opts.sleep ?? sleep;
    this.#historyLimit = opts.historyLimit ?? 1000;
    for (const [apiVersion, kind, name, namespaced] of builtIn) {
      this.#kinds.set(`${apiVersion}/${kind}`, { apiVersion, kind, name, namespaced });
    }
    for (const ns of ['default', 'kube-system', 'kube-public']) {
      this.#store({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, 'kube-apiserver');
    }
    this.#failingUpgrade = opts.failingUpgrade;
    if (opts.nodes) {
      for (const node of opts.nodes) this.#store(nodeObject(node), 'k3s');
      this.#kinds.set(`${planKind.apiVersion}/${planKind.kind}`, planKind);
      this.#store(
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: upgradeNamespace } },
        'system-upgrade-controller',
      );
      this.#upgradeJobs = [];
    }
  }

  /** The API server's version: on k3s, the version of the server node's binary. */
  async version(): Promise<string | undefined> {
    this.#advance();
    for (const s of this.#objects.values()) {
      if (s.object.kind !== 'Node' || !s.object.metadata.labels?.[controlPlaneLabel]) continue;
      return (s.object.status as { nodeInfo: { kubeletVersion: string } }).nodeInfo.kubeletVersion;
    }
    return undefined;
  }

  async resourceOf(apiVersion: string, kind: string): Promise<ResourceInfo | undefined> {
    const info = this.#kinds.get(`${apiVersion}/${kind}`);
    return info ? { name: info.name, namespaced: info.namespaced } : undefined;
  }

  async apply(obj: KubeObject, opts: ApplyOptions): Promise<KubeObject> {
    const info = this.#info(obj.apiVersion, obj.kind);
    const name = obj.metadata?.name;
    if (!name) throw new ClusterError(`${obj.kind}: metadata.name: Required value`, 422, 'Invalid');
    const namespace = info.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
    const key = objectKey(typeKeyOf(obj.apiVersion, obj.kind), namespace, name);
    await this.#write(opts.dryRun ? 'dry-run' : 'apply', key);
    this.#advance();
    if (namespace && !this.#objects.has(objectKey('/Namespace', undefined, namespace))) {
      throw new ClusterError(`namespaces "${namespace}" not found`, 404, 'NotFound');
    }
    const live = this.#objects.get(key);
    const applied = structuredClone(obj);
    applied.metadata.namespace = namespace;
    if (!namespace) delete applied.metadata.namespace;
    if (live && live.manager !== opts.fieldManager && !opts.force) {
      const paths = conflicts(content(applied), content(live.object));
      if (paths.length > 0) {
        throw new ClusterError(
          `Apply failed with ${paths.length} conflict${paths.length > 1 ? 's' : ''}: conflict with "${live.manager}": ${paths.join(', ')}`,
          409,
          'Conflict',
        );
      }
    }
    if (opts.dryRun) {
      this.counts.dryRuns++;
      return this.#next(applied, live, opts.fieldManager).object;
    }
    this.counts.applies++;
    return structuredClone(this.#store(applied, opts.fieldManager, live).object);
  }

  async get(ref: ObjectRef): Promise<KubeObject | undefined> {
    const info = this.#info(ref.apiVersion, ref.kind);
    this.#advance();
    const ns = info.namespaced ? (ref.namespace ?? 'default') : undefined;
    const stored = this.#objects.get(objectKey(typeKeyOf(ref.apiVersion, ref.kind), ns, ref.name));
    return stored ? structuredClone(stored.object) : undefined;
  }

  async delete(ref: ObjectRef): Promise<boolean> {
    const info = this.#info(ref.apiVersion, ref.kind);
    const ns = info.namespaced ? (ref.namespace ?? 'default') : undefined;
    const key = objectKey(typeKeyOf(ref.apiVersion, ref.kind), ns, ref.name);
    await this.#write('delete', key);
    this.#advance();
    const stored = this.#objects.get(key);
    if (!stored) return false;
    this.counts.deletes++;
    this.#remove(key, stored);
    return true;
  }

  async patchMetadata(
    ref: ObjectRef,
    metadata: Record<string, unknown>,
    fieldManager: string,
  ): Promise<boolean> {
    const info = this.#info(ref.apiVersion, ref.kind);
    const ns = info.namespaced ? (ref.namespace ?? 'default') : undefined;
    const key = objectKey(typeKeyOf(ref.apiVersion, ref.kind), ns, ref.name);
    await this.#write('patch', key);
    const stored = this.#objects.get(key);
    if (!stored) return false;
    const object = structuredClone(stored.object);
    for (const [field, value] of Object.entries(metadata)) {
      const current = object.metadata[field];
      if (value === null) delete object.metadata[field];
      else if (value && typeof value === 'object' && current && typeof current === 'object') {
        const merged: Record<string, unknown> = { ...(current as Record<string, unknown>) };
        for (const [k, v] of Object.entries(value)) {
          if (v === null) delete merged[k];
          else merged[k] = v;
        }
        object.metadata[field] = merged;
      } else object.metadata[field] = value;
    }
    this.#commit(key, { ...stored, object }, 'MODIFIED', { manager: fieldManager, operation: 'Update' });
    return true;
  }

  async list(type: ObjectType, opts: ListOptions): Promise<ObjectList> {
    this.#info(type.apiVersion, type.kind);
    this.#advance();
    const typeKey = typeKeyOf(type.apiVersion, type.kind);
    const selector = selectorOf(opts.labelSelector);
    const items = [...this.#objects.values()]
      .filter((s) => typeKeyOf(s.object.apiVersion, s.object.kind) === typeKey)
      .filter((s) => matchesSelector(selector, s.object.metadata.labels ?? {}))
      .map((s) => structuredClone(s.object));
    return { items, resourceVersion: String(this.#rv) };
  }

  async *watch(type: ObjectType, opts: WatchOptions): AsyncIterable<WatchEvent> {
    this.#info(type.apiVersion, type.kind);
    this.#advance();
    const typeKey = typeKeyOf(type.apiVersion, type.kind);
    const selector = selectorOf(opts.labelSelector);
    const matches = (o: KubeObject) => matchesSelector(selector, o.metadata.labels ?? {});
    let cursor = Number(opts.resourceVersion || 0);
    const pending: WatchEvent[] = [];
    if (cursor === 0) {
      // like the API server: a watch from no version starts with the current state, as ADDED
      for (const s of this.#objects.values()) {
        if (typeKeyOf(s.object.apiVersion, s.object.kind) === typeKey && matches(s.object))
          pending.push({ type: 'ADDED', object: structuredClone(s.object) });
      }
      cursor = this.#rv;
    } else if (this.#history.length > 0 && cursor < this.#history[0]!.rv - 1) {
      throw new ClusterError(
        `too old resource version: ${cursor} (${this.#history[0]!.rv - 1})`,
        410,
        'Expired',
      );
    }
    const endsAt = this.#now() + opts.timeoutSeconds * 1000;
    let lastSent = this.#now();
    let wake: (() => void) | undefined;
    const listener = () => wake?.();
    this.#listeners.add(listener);
    try {
      while (!opts.signal.aborted && this.#now() < endsAt) {
        for (const c of this.#history) {
          if (c.rv <= cursor) continue;
          cursor = c.rv;
          if (c.typeKey === typeKey && matches(c.object))
            pending.push({ type: c.type, object: structuredClone(c.object) });
        }
        if (pending.length === 0 && this.#now() - lastSent >= bookmarkEveryMs) {
          pending.push({
            type: 'BOOKMARK',
            object: {
              apiVersion: type.apiVersion,
              kind: type.kind,
              metadata: { resourceVersion: String(cursor) },
            },
          });
        }
        while (pending.length > 0) {
          lastSent = this.#now();
          yield pending.shift()!;
        }
        const woken = new Promise<void>((resolve) => {
          wake = resolve;
        });
        const tick = new AbortController();
        const stop = AbortSignal.any([opts.signal, tick.signal]);
        await Promise.race([woken, this.#sleep(watchTickMs, stop)]);
        tick.abort();
        wake = undefined;
        this.#advance();
      }
    } finally {
      this.#listeners.delete(listener);
    }
  }

  /** Every object, for tests and summaries. */
  objects(): KubeObject[] {
    this.#advance();
    return [...this.#objects.values()].map((s) => structuredClone(s.object));
  }

  #info(apiVersion: string, kind: string) {
    const info = this.#kinds.get(`${apiVersion}/${kind}`);
    if (!info) {
      throw new ClusterError(`no matches for kind "${kind}" in version "${apiVersion}"`, 404, 'NotFound');
    }
    return info;
  }

  /** A write's latency and, by the seed, its transient failure. */
  async #write(operation: string, key: string): Promise<void> {
    const attemptKey = `${operation} ${key}`;
    const attempt = (this.#attempts.get(attemptKey) ?? 0) + 1;
    this.#attempts.set(attemptKey, attempt);
    const latency = this.#behaviour.applyLatencyMs ?? 0;
    if (latency > 0) {
      await this.#sleep(latency * (0.5 + draw(this.#seed, this.#name, 'latency', attemptKey, attempt)));
    }
    const rate = this.#behaviour.transientFailureRate ?? 0;
    if (rate > 0 && draw(this.#seed, this.#name, 'failure', attemptKey, attempt) < rate) {
      this.counts.failures++;
      throw new ClusterError(
        'the server is currently unable to handle the request (simulated)',
        503,
        'ServiceUnavailable',
      );
    }
  }

  /** The object as it would be stored: server fields kept or made, status as the controller has it. */
  #next(applied: KubeObject, live: Stored | undefined, manager: string): Stored {
    const object = structuredClone(applied);
    const old = live?.object.metadata;
    const specChanged = !live || specOf(live.object) !== specOf(applied);
    const generation = Number(old?.generation ?? 0) + (specChanged ? 1 : 0);
    object.metadata = {
      ...object.metadata,
      uid: old?.uid ?? randomUUID(),
      creationTimestamp: old?.creationTimestamp ?? new Date(this.#now()).toISOString(),
      generation,
      resourceVersion: String(this.#rv + 1),
      managedFields: [
        {
          manager,
          operation: 'Apply',
          apiVersion: applied.apiVersion,
          time: new Date(this.#now()).toISOString(),
        },
      ],
    };
    if (live?.object.status !== undefined) object.status = live.object.status;
    const stored: Stored = { object, manager, due: live?.due };
    if (specChanged) this.#controllerSees(stored);
    return stored;
  }

  #store(applied: KubeObject, manager: string, live?: Stored): Stored {
    const key = objectKey(
      typeKeyOf(applied.apiVersion, applied.kind),
      applied.metadata.namespace,
      applied.metadata.name ?? '',
    );
    // an apply that changes nothing writes nothing, as on a real server
    if (
      live &&
      live.manager === manager &&
      JSON.stringify(content(live.object)) === JSON.stringify(content(applied))
    )
      return live;
    const stored = this.#next(applied, live, manager);
    // served before the write is seen, so a watcher never meets a CRD without its Established status
    if (applied.kind === 'CustomResourceDefinition') this.#serveCrd(stored.object);
    this.#commit(key, stored, live ? 'MODIFIED' : 'ADDED');
    return stored;
  }

  #commit(
    key: string,
    stored: Stored,
    type: Change['type'],
    update?: { manager: string; operation: string },
  ): void {
    this.#rv++;
    stored.object.metadata.resourceVersion = String(this.#rv);
    if (update) {
      const fields = (stored.object.metadata.managedFields as Array<{ manager: string }> | undefined) ?? [];
      stored.object.metadata.managedFields = [
        ...fields.filter((f) => f.manager !== update.manager),
        { ...update, apiVersion: stored.object.apiVersion, time: new Date(this.#now()).toISOString() },
      ];
    }
    if (stored.object.kind === planKind.kind && stored.object.apiVersion === planKind.apiVersion) {
      if (type === 'ADDED') this.#plans++;
      if (type === 'DELETED') this.#plans--;
    }
    if (type === 'DELETED') this.#objects.delete(key);
    else this.#objects.set(key, stored);
    this.#history.push({
      rv: this.#rv,
      type,
      typeKey: typeKeyOf(stored.object.apiVersion, stored.object.kind),
      object: structuredClone(stored.object),
    });
    if (this.#history.length > this.#historyLimit) this.#history.shift();
    for (const l of this.#listeners) l();
  }

  #remove(key: string, stored: Stored): void {
    const { kind, metadata } = stored.object;
    if (kind === 'Namespace') {
      for (const [k, s] of this.#objects)
        if (s.object.metadata.namespace === metadata.name) this.#remove(k, s);
    }
    if (kind === 'CustomResourceDefinition') {
      const spec = (stored.object.spec ?? {}) as { group?: string; names?: { kind?: string } };
      const typeKey = `${spec.group}/${spec.names?.kind}`;
      for (const [k, s] of this.#objects)
        if (typeKeyOf(s.object.apiVersion, s.object.kind) === typeKey) this.#remove(k, s);
      for (const [k, info] of this.#kinds)
        if (typeKeyOf(info.apiVersion, info.kind) === typeKey) this.#kinds.delete(k);
    }
    this.#commit(key, stored, 'DELETED');
  }

  /** A CRD is established at once and its kinds are served from then on. */
  #serveCrd(crd: KubeObject): void {
    const spec = (crd.spec ?? {}) as {
      group?: string;
      scope?: string;
      names?: { kind?: string; plural?: string };
      versions?: Array<{ name?: string; served?: boolean }>;
    };
    for (const v of spec.versions ?? []) {
      if (v.served === false) continue;
      const apiVersion = `${spec.group}/${v.name}`;
      const kind = spec.names?.kind ?? '';
      this.#kinds.set(`${apiVersion}/${kind}`, {
        apiVersion,
        kind,
        name: spec.names?.plural ?? `${kind.toLowerCase()}s`,
        namespaced: spec.scope === 'Namespaced',
      });
    }
    crd.status = {
      conditions: [
        { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts' },
        { type: 'Established', status: 'True', reason: 'InitialNamesAccepted' },
      ],
    };
  }

  /** The controller notices a new spec: the rollout starts, and its end is scheduled. */
  #controllerSees(stored: Stored): void {
    const obj = stored.object;
    if (!workloads.has(obj.kind)) return;
    const bad = [...imagesOf([obj])].some((i) => this.#failsHere(i));
    const generation = Number(obj.metadata.generation);
    obj.status = progressingStatus(obj, generation);
    const jitter = 0.5 + draw(this.#seed, this.#name, 'ready', String(obj.metadata.uid), generation);
    stored.due = bad
      ? { at: this.#now() + (this.#behaviour.progressDeadlineMs ?? 600_000), to: 'deadline' }
      : { at: this.#now() + (this.#behaviour.readyAfterMs ?? 0) * jitter, to: 'ready' };
  }

  /** Whether an image never starts on this cluster: bad everywhere, or by its failure rate here. */
  #failsHere(image: string): boolean {
    if (this.#behaviour.badImage?.(image)) return true;
    return (this.#behaviour.imageFailureRates ?? []).some(
      (f) => image.includes(f.image) && draw(this.#seed, this.#name, 'image', f.image) < f.rate,
    );
  }

  /** Applies the status changes whose time has come, as writes of the controller. */
  #advance(): void {
    const now = this.#now();
    for (const [key, stored] of this.#objects) {
      if (!stored.due || stored.due.at > now) continue;
      const object = structuredClone(stored.object);
      object.status =
        stored.due.to === 'ready'
          ? readyStatus(object)
          : deadlineStatus(object, Number(object.metadata.generation));
      this.#commit(key, { ...stored, object, due: undefined }, 'MODIFIED');
    }
    if (this.#upgradeJobs) this.#upgradeNodes(now);
  }

  /** system-upgrade-controller at work: upgrade jobs that are due move their node to the Plan's version. */
  #upgradeNodes(now: number): void {
    if (this.#plans === 0 && this.#upgradeJobs!.length === 0) return;
    const plans: UpgradePlan[] = [];
    const nodes = new Map<string, { key: string; stored: Stored }>();
    for (const [key, stored] of this.#objects) {
      if (stored.object.kind === 'Node') nodes.set(stored.object.metadata.name ?? '', { key, stored });
      else if (stored.object.kind === planKind.kind && stored.object.apiVersion === planKind.apiVersion) {
        const plan = upgradePlanOf(stored.object);
        if (plan) plans.push(plan);
      }
    }
    const nodeUpgradeMs = this.#behaviour.nodeUpgradeMs ?? 0;
    const step = upgradeControllerStep({
      nodes: [...nodes.values()].map(({ stored }) => ({
        name: stored.object.metadata.name ?? '',
        labels: stored.object.metadata.labels ?? {},
        kubeletVersion: (stored.object.status as { nodeInfo: { kubeletVersion: string } }).nodeInfo
          .kubeletVersion,
      })),
      plans,
      jobs: this.#upgradeJobs!,
      now,
      upgradeMs: (node, version) =>
        node === this.#failingUpgrade
          ? null
          : nodeUpgradeMs * (0.5 + draw(this.#seed, this.#name, 'node upgrade', node, version)),
    });
    this.#upgradeJobs = step.jobs;
    for (const { node, version } of step.upgraded) {
      const { key, stored } = nodes.get(node)!;
      const object = structuredClone(stored.object);
      const status = object.status as { nodeInfo: Record<string, string> };
      status.nodeInfo = { ...status.nodeInfo, kubeletVersion: version, kubeProxyVersion: version };
      this.#commit(key, { ...stored, object }, 'MODIFIED', { manager: 'k3s', operation: 'Update' });
    }
  }
}

/** A Node as the kubelet registers it and keeps its status. */
function nodeObject(node: SimulatedNode): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: node.name, labels: { ...node.labels } },
    status: {
      nodeInfo: {
        kubeletVersion: node.kubeletVersion,
        kubeProxyVersion: node.kubeletVersion,
        containerRuntimeVersion: node.containerRuntimeVersion,
        osImage: node.osImage,
        kernelVersion: node.kernelVersion,
        architecture: node.architecture,
        operatingSystem: 'linux',
      },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
    },
  };
}

function replicasOf(obj: KubeObject): number {
  const r = (obj.spec as { replicas?: unknown } | undefined)?.replicas;
  return typeof r === 'number' ? r : 1;
}

function rsName(obj: KubeObject): string {
  return `${obj.metadata.name}-${(Number(obj.metadata.generation) * 2654435761).toString(16).slice(-8)}`;
}

function progressingStatus(obj: KubeObject, generation: number): Record<string, unknown> {
  const want = replicasOf(obj);
  switch (obj.kind) {
    case 'Deployment':
      return {
        observedGeneration: generation,
        replicas: want,
        updatedReplicas: want,
        readyReplicas: 0,
        availableReplicas: 0,
        unavailableReplicas: want,
        conditions: [
          { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' },
          {
            type: 'Progressing',
            status: 'True',
            reason: 'ReplicaSetUpdated',
            message: `ReplicaSet "${rsName(obj)}" is progressing.`,
          },
        ],
      };
    case 'StatefulSet':
      return { observedGeneration: generation, replicas: want, readyReplicas: 0, updatedReplicas: 0 };
    case 'ReplicaSet':
      return { observedGeneration: generation, replicas: want, availableReplicas: 0 };
    case 'DaemonSet':
      // one node, as at a small site
      return {
        observedGeneration: generation,
        desiredNumberScheduled: 1,
        currentNumberScheduled: 1,
        updatedNumberScheduled: 0,
        numberReady: 0,
        numberAvailable: 0,
      };
    default:
      return { active: 1 };
  }
}

function readyStatus(obj: KubeObject): Record<string, unknown> {
  const want = replicasOf(obj);
  const generation = Number(obj.metadata.generation);
  switch (obj.kind) {
    case 'Deployment':
      return {
        observedGeneration: generation,
        replicas: want,
        updatedReplicas: want,
        readyReplicas: want,
        availableReplicas: want,
        conditions: [
          { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
          {
            type: 'Progressing',
            status: 'True',
            reason: 'NewReplicaSetAvailable',
            message: `ReplicaSet "${rsName(obj)}" has successfully progressed.`,
          },
        ],
      };
    case 'StatefulSet':
      return {
        observedGeneration: generation,
        replicas: want,
        readyReplicas: want,
        currentReplicas: want,
        updatedReplicas: want,
        availableReplicas: want,
      };
    case 'ReplicaSet':
      return { observedGeneration: generation, replicas: want, readyReplicas: want, availableReplicas: want };
    case 'DaemonSet':
      return {
        observedGeneration: generation,
        desiredNumberScheduled: 1,
        currentNumberScheduled: 1,
        updatedNumberScheduled: 1,
        numberReady: 1,
        numberAvailable: 1,
      };
    default:
      return { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] };
  }
}

function deadlineStatus(obj: KubeObject, generation: number): Record<string, unknown> {
  const status = progressingStatus(obj, generation);
  if (obj.kind === 'Deployment') {
    status.conditions = [
      { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' },
      {
        type: 'Progressing',
        status: 'False',
        reason: 'ProgressDeadlineExceeded',
        message: `ReplicaSet "${rsName(obj)}" has timed out progressing.`,
      },
    ];
  }
  if (obj.kind === 'Job') {
    return {
      failed: 1,
      conditions: [
        {
          type: 'Failed',
          status: 'True',
          reason: 'BackoffLimitExceeded',
          message: 'Job has reached the specified backoff limit',
        },
      ],
    };
  }
  return status;
}
