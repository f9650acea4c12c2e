// Makes the site's cluster what the desired state says, bundle by bundle: applies a new revision (after
// pre-pulling its new images when asked), reads back readiness and drift, corrects drift, rolls back a
// revision that misses its progress deadline, and prunes bundles the hub no longer places here.

import { backoffDelay, Wakeup } from '../base/timing.ts';
import {
  agentBundleName,
  agentReleaseApiVersion,
  agentReleaseKind,
  isAgentRelease,
  parseAgentRelease,
} from '../model/agent-release.ts';
import type { BundleApplyOptions } from '../model/apply-options.ts';
import { type KubeObject, type ObjectRef, refKey, refOf } from '../model/manifest.ts';
import type { DeploymentReport, DesiredDeployment, DesiredState } from '../model/wire.ts';
import type { SealingKeyPair } from '../pki/sealing.ts';
import type { RenderedBundle } from '../render/rendered.ts';
import type { Cluster } from './apply/cluster.ts';
import {
  applyBundle,
  bundleLabel,
  correctDrift,
  type DesiredObject,
  desiredObjects,
  inspect,
  optionsOf,
  prune,
} from './apply/engine.ts';
import { defaultPauseImage, type PrePullPlan, planPrePull } from './apply/prepull.ts';
import { removePrePull, runPrePull, sweepPrePulls } from './apply/prepuller.ts';
import { type Assessment, assess } from './apply/progress.ts';
import { type BundleRuntime, newRuntime, reportOf } from './bundle-runtime.ts';
import { inDependencyOrder, waitingFor } from './dependencies.ts';
import type { DesiredSource } from './desired-sync.ts';
import type { LocalDeployment } from './local-page.ts';
import { OwnedObjects } from './owned-objects.ts';
import type { ReportSource } from './reporter.ts';
import { unsealBundle } from './secrets/unseal.ts';
import type { DeploymentRecord, Inventory, LocalState } from './state/local-state.ts';
import { isTransient } from './transient.ts';
import type { AgentUpgrade } from './upgrade/agent-upgrade.ts';

/** Told which manifests each placed bundle enforces (telemetry collects by them). */
export interface ManifestsInForce {
  /** the manifests `bundle` enforces, read in this pass */
  enforcing(bundle: string, manifests: RenderedBundle, digest: string): void;
  /** a pass ended: these bundles are placed here, no others */
  placed(bundles: ReadonlySet<string>): void;
}

export interface ReconcilerOptions {
  cluster: Cluster;
  state: LocalState;
  desired: DesiredSource;
  /**
   * puts a report in the outbox if anything changed: after each pass, and before correcting drift or
   * rolling back, so the hub hears what happened before the site changes it
   */
  report: () => Promise<void>;
  manifests?: ManifestsInForce;
  /** how often readiness is re-read while something is not ready yet */
  readinessResyncMs: number;
  /** the longest pass-to-pass interval while nothing is due */
  heartbeatMs: number;
  /** how often every applied object is read back and checked for drift, watch or no watch */
  driftCheckMs: number;
  /** watch owned objects for changes between checks */
  watch: boolean;
  /** the image pre-pull pods idle on */
  prePullPauseImage?: string;
  /** the site's own key, which opens the SealedSecrets sealed to this site */
  sealingKey?: SealingKeyPair;
  /** runs the agent bundle's release (upgrade/); without one this agent runs no other release */
  agentUpgrade?: AgentUpgrade;
  /** the agent must stop so that its supervisor starts a staged release; called after the pass's report */
  restart?: () => void;
  now?: () => number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** Between two drift corrections of one bundle; damps a fight with another controller over a field. */
const minCorrectionIntervalMs = 5000;

export class Reconciler implements ReportSource {
  readonly #opts: ReconcilerOptions;
  readonly #cluster: Cluster;
  readonly #state: LocalState;
  readonly #now: () => number;
  readonly #wakeup = new Wakeup();
  readonly #bundles = new Map<string, BundleRuntime>();
  readonly #records: Map<string, DeploymentRecord>;
  readonly #inventories: Map<string, Inventory>;
  /** bundles pruned here that the hub has not heard of yet */
  readonly #removed = new Set<string>();
  #owned: OwnedObjects | undefined;
  #sweepPrePulls = true;
  /** callers waiting for the next pass to finish (remote actions report after it) */
  #passWaiters: Array<() => void> = [];
  #restartAfterPass = false;
  #wakeTimer: NodeJS.Timeout | undefined;

  private constructor(opts: ReconcilerOptions, records: DeploymentRecord[], inventories: Inventory[]) {
    this.#opts = opts;
    this.#cluster = opts.cluster;
    this.#state = opts.state;
    this.#now = opts.now ?? Date.now;
    this.#records = new Map(records.map((r) => [r.bundle, r]));
    this.#inventories = new Map(inventories.map((i) => [i.bundle, i]));
  }

  /** Starts from what an earlier run applied (its records and inventories in the state directory). */
  static async open(opts: ReconcilerOptions): Promise<Reconciler> {
    return new Reconciler(opts, await opts.state.records(), await opts.state.inventories());
  }

  #log(message: string, fields?: Record<string, unknown>): void {
    this.#opts.log?.(message, fields);
  }

  /** Makes a pass now rather than when the next one is due. */
  wake(): void {
    this.#wakeup.wake();
  }

  /** How many bundles it holds in memory. */
  get bundleCount(): number {
    return this.#bundles.size;
  }

  deploymentReports(): DeploymentReport[] {
    return [...this.#bundles.values()].map(reportOf);
  }

  unreportedRemovals(): string[] {
    return [...this.#removed];
  }

  removalsHeard(bundles: readonly string[]): void {
    for (const b of bundles) if (!this.#bundles.has(b)) this.#removed.delete(b);
  }

  /** Each placed bundle as the local page shows it. */
  deployments(): LocalDeployment[] {
    return [...this.#bundles.values()].map((rt) => {
      const record = this.#records.get(rt.bundle);
      return {
        ...reportOf(rt),
        revision: rt.revision,
        runningDigest: record?.applied ?? null,
        lastKnownGood: record?.lastKnownGood ?? null,
      };
    });
  }

  /** Passes until `signal` aborts, each when due, when woken, or when an owned object changes. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#opts.watch) {
      this.#owned = new OwnedObjects(
        this.#cluster,
        { onChange: (o) => this.#onOwnedChange(o), onResync: () => this.#onOwnedResync() },
        { signal, log: this.#opts.log },
      );
      this.#owned.follow(this.#ownedRefs());
    }
    const onAbort = () => clearTimeout(this.#wakeTimer);
    signal.addEventListener('abort', onAbort, { once: true });
    while (!signal.aborted) {
      let next = this.#opts.heartbeatMs;
      try {
        next = await this.pass();
      } catch (e) {
        this.#log('reconcile failed', { error: (e as Error).message });
        next = Math.min(next, 5000);
      }
      await this.#wakeup.sleep(Math.max(next, 10), signal);
    }
  }

  /** Resolves once the watches of owned objects have stopped (after the run's signal aborted). */
  async stopped(): Promise<void> {
    await this.#owned?.stopped();
  }

  /** One pass over the desired state, then a report if anything changed; returns how soon the next is due. */
  async pass(): Promise<number> {
    const waiting = this.#passWaiters;
    this.#passWaiters = [];
    try {
      const next = await this.#reconcile();
      await this.#opts.report();
      if (this.#restartAfterPass) {
        // the report saying the release is staged is in the outbox: the next version sends it
        this.#restartAfterPass = false;
        this.#opts.restart?.();
      }
      return next;
    } finally {
      for (const done of waiting) done();
    }
  }

  /** Resolves when a pass that starts after this call has finished (or `signal` aborts). */
  nextPass(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      this.#passWaiters.push(done);
      this.wake();
    });
  }

  // ---- remote actions ----

  /**
   * Applies again at the next pass: the named bundle, or every failed or rolled-back one. A rollback is
   * forgotten, so the desired revision it rolled back from is tried again. Returns the bundles.
   */
  async reapply(bundle?: string): Promise<string[]> {
    const chosen = [...this.#bundles.values()].filter((rt) =>
      bundle === undefined
        ? rt.state === 'Failed' || this.#records.get(rt.bundle)?.rolledBack
        : rt.bundle === bundle,
    );
    if (bundle !== undefined && chosen.length === 0) {
      throw new Error(`bundle ${bundle} is not placed on this site`);
    }
    for (const rt of chosen) {
      const record = this.#records.get(rt.bundle);
      if (record?.rolledBack) {
        const { rolledBack: _, ...rest } = record;
        await this.#saveRecord(rest);
      }
      rt.attempts = 0;
      rt.retryAt = this.#now();
    }
    return chosen.map((rt) => rt.bundle);
  }

  /** Reads every applied object back at the next pass instead of when the periodic check is due. */
  checkDrift(): string[] {
    for (const rt of this.#bundles.values()) rt.fullCheckDue = true;
    return [...this.#bundles.keys()];
  }

  /** Each bundle's state and message as of the last pass, for an action's outcome. */
  statesOf(bundles: readonly string[]): string {
    return bundles
      .map((b) => {
        const rt = this.#bundles.get(b);
        return rt ? `${b}: ${rt.state}${rt.message ? ` (${rt.message})` : ''}` : `${b}: gone`;
      })
      .join('; ');
  }

  // ---- watching owned objects ----

  #ownedRefs(): ObjectRef[] {
    return [...this.#inventories.values()].flatMap((i) => i.objects);
  }

  #onOwnedChange(object: KubeObject): void {
    const bundle = object.metadata.labels?.[bundleLabel];
    const rt = bundle ? this.#bundles.get(bundle) : undefined;
    if (!rt) return;
    const key = refKey(refOf(object));
    if (!rt.health.has(key)) return;
    rt.touched.add(key);
    this.#wakeSoon();
  }

  #onOwnedResync(): void {
    for (const rt of this.#bundles.values()) rt.fullCheckDue = true;
    this.#wakeSoon();
  }

  /** Wakes the loop shortly, so a burst of watch events makes one pass, not many. */
  #wakeSoon(): void {
    if (this.#wakeTimer) return;
    this.#wakeTimer = setTimeout(() => {
      this.#wakeTimer = undefined;
      this.#wakeup.wake();
    }, 100);
  }

  // ---- one pass ----

  async #reconcile(): Promise<number> {
    const desired = this.#opts.desired.current();
    // Before the first desired state arrives the agent knows nothing; it must not prune on ignorance.
    if (!desired) return this.#opts.heartbeatMs;
    let next = Math.min(this.#opts.heartbeatMs, this.#opts.driftCheckMs);
    const placed = new Set(desired.deployments.map((d) => d.bundle));
    const ordered = inDependencyOrder(desired.deployments, (b) => this.#bundles.get(b)?.dependsOn ?? []);
    for (const d of ordered) {
      try {
        next = Math.min(next, await this.#reconcileBundle(d, placed));
      } catch (e) {
        // One bundle in trouble must not hold up the others: it is retried on its own, with backoff.
        const transient = isTransient(e);
        const rt = this.#runtime(d);
        const delay = transient
          ? backoffDelay(rt.attempts, 1000, 60_000)
          : backoffDelay(rt.attempts, 10_000, 300_000);
        rt.attempts++;
        rt.retryAt = this.#now() + delay;
        const error = (e as Error).message;
        if (!transient) {
          rt.state = 'Failed';
          rt.message = error;
        } else if (rt.state === 'Applying') {
          rt.message = `retrying after a transient error: ${error}`;
        }
        this.#log(transient ? 'cluster unavailable; retrying' : 'bundle failed; retrying', {
          bundle: d.bundle,
          error,
          delayMs: delay,
        });
        next = Math.min(next, delay);
      }
    }
    next = Math.min(next, await this.#removeUnplaced(desired));
    await this.#pruneBlobs();
    if (this.#sweepPrePulls) await this.#sweepLeftoverPrePulls();
    this.#owned?.follow(this.#ownedRefs());
    this.#opts.manifests?.placed(new Set(desired.deployments.map((d) => d.bundle)));
    return next;
  }

  #runtime(d: DesiredDeployment): BundleRuntime {
    let rt = this.#bundles.get(d.bundle);
    if (!rt) {
      rt = newRuntime(d);
      this.#bundles.set(d.bundle, rt);
      this.#removed.delete(d.bundle); // placed here again before the hub heard of its removal
    }
    if (rt.digest !== d.digest) {
      rt.digest = d.digest;
      rt.revision = d.revision;
      rt.attempts = 0;
      rt.retryAt = undefined;
      rt.fullCheckDue = true;
    }
    return rt;
  }

  async #saveRecord(record: DeploymentRecord): Promise<void> {
    this.#records.set(record.bundle, record);
    await this.#state.saveRecord(record);
  }

  async #reconcileBundle(d: DesiredDeployment, placed: ReadonlySet<string>): Promise<number> {
    const now = this.#now();
    const rt = this.#runtime(d);
    if (d.bundle === agentBundleName) return this.#reconcileAgentRelease(rt, d);
    const record: DeploymentRecord = { ...(this.#records.get(d.bundle) ?? { bundle: d.bundle }) };
    if (record.rolledBack && record.rolledBack.digest !== d.digest) {
      // a new desired revision: the rollback was about the old one
      delete record.rolledBack;
      await this.#saveRecord(record);
    }
    const target = record.rolledBack?.to ?? d.digest;
    const blob = await this.#blobToApply(target);
    if (blob) this.#opts.manifests?.enforcing(d.bundle, blob, target);
    if (!blob) {
      if (target === d.digest) {
        this.#opts.desired.blobMissing();
        Object.assign(rt, { state: 'Applying', message: 'waiting for the manifests from the hub' });
        return this.#opts.heartbeatMs;
      }
      // the last-known-good's manifests are gone from the cache: nothing to enforce but the desired one
      delete record.rolledBack;
      await this.#saveRecord(record);
      return 0;
    }
    if (rt.retryAt !== undefined && rt.retryAt > now) return rt.retryAt - now;

    rt.dependsOn = blob.dependsOn ?? [];
    if (record.applied !== target || rt.retryAt !== undefined) {
      // a new revision waits for its dependencies; going back to the last-known-good never does
      const waiting =
        target === d.digest && waitingFor(rt.dependsOn, (b) => this.#bundles.get(b)?.state, placed);
      if (waiting) {
        Object.assign(rt, { state: 'Applying', message: waiting });
        return this.#opts.readinessResyncMs;
      }
      const waitMs = await this.#prePullBefore(rt, record, blob, target === d.digest);
      if (waitMs !== undefined) return waitMs;
      const applied = await this.#applyTarget(rt, record, blob, target, d.digest);
      if (!applied)
        return rt.retryAt !== undefined ? Math.max(0, rt.retryAt - this.#now()) : this.#opts.heartbeatMs;
    }
    return this.#check(rt, record, blob, d.digest);
  }

  /**
   * A cached blob as it goes to the cluster: its SealedSecrets opened with the site's key, in memory only.
   * A value this site cannot open throws (not transient), so its bundle fails alone and says why.
   */
  async #blobToApply(digest: string): Promise<RenderedBundle | undefined> {
    const blob = await this.#state.blob(digest);
    if (!blob || !this.#opts.sealingKey) return blob;
    return unsealBundle(blob, this.#opts.sealingKey);
  }

  /**
   * The agent bundle's one object is a release for the agent to run, never something for Kubernetes:
   * the upgrade says how it stands. A failure (a download cut, a bad tarball) is retried with backoff.
   */
  async #reconcileAgentRelease(rt: BundleRuntime, d: DesiredDeployment): Promise<number> {
    const now = this.#now();
    const blob = await this.#state.blob(d.digest);
    if (!blob) {
      this.#opts.desired.blobMissing();
      Object.assign(rt, { state: 'Applying', message: 'waiting for the agent release from the hub' });
      return this.#opts.heartbeatMs;
    }
    if (rt.retryAt !== undefined && rt.retryAt > now) return rt.retryAt - now;
    const [object] = blob.objects;
    const release =
      object && isAgentRelease(object) ? parseAgentRelease(object) : { problem: 'no AgentRelease' };
    const status =
      'problem' in release
        ? {
            state: 'Failed' as const,
            message: `the agent bundle holds no usable release: ${release.problem}`,
            nextMs: this.#opts.heartbeatMs,
          }
        : this.#opts.agentUpgrade
          ? await this.#opts.agentUpgrade.reconcile(release)
          : {
              state: 'Failed' as const,
              message: 'this agent runs no agent releases',
              nextMs: this.#opts.heartbeatMs,
            };
    rt.state = status.state;
    rt.message = status.message;
    rt.attempts = 0;
    rt.retryAt = undefined;
    const ready = status.state === 'Ready';
    rt.total = 1;
    rt.applied = ready ? 1 : 0;
    const key = `${agentReleaseApiVersion}/${agentReleaseKind}/${agentBundleName}`;
    rt.health = new Map([
      [
        key,
        { key, object: `${agentReleaseKind} ${agentBundleName}`, ready, reason: status.message, drift: [] },
      ],
    ]);
    if (status.restart) this.#restartAfterPass = true;
    return status.nextMs;
  }

  /** Applies `target` in full; false when refused (the runtime says why and when to retry). */
  async #applyTarget(
    rt: BundleRuntime,
    record: DeploymentRecord,
    blob: RenderedBundle,
    target: string,
    desiredDigest: string,
  ): Promise<boolean> {
    const options = optionsOf(blob);
    if (
      target === desiredDigest &&
      record.progressing?.digest !== target &&
      record.lastKnownGood !== target
    ) {
      record.progressing = { digest: target, since: new Date(this.#now()).toISOString() };
      await this.#saveRecord(record);
    }
    rt.state = 'Applying';
    this.#log('applying', { bundle: rt.bundle, digest: target, objects: blob.objects.length });
    const inventory = this.#inventories.get(rt.bundle)?.objects ?? [];
    const outcome = await applyBundle(this.#cluster, blob, inventory, {
      saveInventory: async (objects) => {
        const inv: Inventory = { bundle: rt.bundle, objects, deletionPolicy: options.deletionPolicy };
        await this.#state.saveInventory(inv);
        this.#inventories.set(rt.bundle, inv);
      },
    });
    rt.total = outcome.total;
    rt.applied = outcome.applied;
    if (!outcome.ok) {
      rt.attempts++;
      rt.state = 'Failed';
      rt.message = outcome.message;
      rt.retryAt = this.#now() + backoffDelay(rt.attempts, 10_000, 300_000);
      this.#log('apply refused', { bundle: rt.bundle, message: outcome.message });
      return false;
    }
    rt.attempts = 0;
    rt.retryAt = undefined;
    rt.fullCheckDue = true;
    rt.desired = undefined;
    record.applied = target;
    await this.#saveRecord(record);
    this.#owned?.follow(this.#ownedRefs());
    this.#log('applied', { bundle: rt.bundle, digest: target });
    return true;
  }

  /** The bundle's objects as they go to the cluster, cached per digest. */
  async #desiredObjectsOf(rt: BundleRuntime, digest: string, blob: RenderedBundle): Promise<DesiredObject[]> {
    if (rt.desired?.digest !== digest) {
      rt.desired = { digest, objects: (await desiredObjects(this.#cluster, blob)).objects };
    }
    return rt.desired.objects;
  }

  /** Reads back what is due, judges the bundle, and acts: correct drift, roll back, record good. */
  async #check(rt: BundleRuntime, record: DeploymentRecord, blob: RenderedBundle, desiredDigest: string) {
    const now = this.#now();
    const target = record.applied!;
    const objects = await this.#desiredObjectsOf(rt, target, blob);
    const notReadyResync = rt.state === 'NotReady' && now - rt.lastFullCheck >= this.#opts.readinessResyncMs;
    const full = rt.fullCheckDue || notReadyResync || now - rt.lastFullCheck >= this.#opts.driftCheckMs;
    const options = optionsOf(blob);
    const ignore = options.ignoreDifferences;
    if (full) {
      rt.health = new Map((await inspect(this.#cluster, objects, ignore)).map((h) => [h.key, h]));
      rt.lastFullCheck = now;
      rt.fullCheckDue = false;
      rt.touched.clear();
      // `applied` is in the record only once every object went through, after a restart too
      rt.total = objects.length;
      rt.applied = objects.length;
    } else if (rt.touched.size > 0) {
      const keys = new Set(rt.touched);
      rt.touched.clear();
      for (const h of await inspect(
        this.#cluster,
        objects.filter((o) => keys.has(o.key)),
        ignore,
      ))
        rt.health.set(h.key, h);
    }
    const verdict = this.#assess(rt, record, options, desiredDigest);

    if (verdict.correct.length > 0 && now - rt.lastCorrection >= minCorrectionIntervalMs) {
      rt.lastCorrection = now;
      // The hub hears about the drift before it is corrected.
      await this.#opts.report();
      const drifted = objects.filter((o) => verdict.correct.includes(o.key));
      this.#log('correcting drift', { bundle: rt.bundle, objects: drifted.length, drift: rt.message });
      const errors = await correctDrift(this.#cluster, drifted, ignore);
      for (const h of await inspect(this.#cluster, drifted, ignore)) rt.health.set(h.key, h);
      const after = this.#assess(rt, record, options, desiredDigest);
      if (errors.length > 0)
        rt.message = `${after.message || rt.message}; correcting drift failed: ${errors[0]}`;
      return this.#nextCheck(rt, record, options);
    }
    if (verdict.correct.length > 0) return minCorrectionIntervalMs - (now - rt.lastCorrection);

    if (verdict.good && target === desiredDigest && (record.lastKnownGood !== target || record.progressing)) {
      record.lastKnownGood = target;
      delete record.progressing;
      await this.#saveRecord(record);
    }

    if (verdict.rollbackTo) await this.#rollBack(rt, record, verdict, desiredDigest);
    return this.#nextCheck(rt, record, options);
  }

  #assess(rt: BundleRuntime, record: DeploymentRecord, options: BundleApplyOptions, desiredDigest: string) {
    const verdict = assess({
      options,
      digest: desiredDigest,
      objects: [...rt.health.values()],
      progressingSince:
        record.progressing?.digest === desiredDigest ? Date.parse(record.progressing.since) : undefined,
      lastKnownGood: record.lastKnownGood,
      rolledBack: record.rolledBack,
      now: this.#now(),
    });
    rt.state = verdict.state;
    rt.message = verdict.message;
    return verdict;
  }

  #nextCheck(rt: BundleRuntime, record: DeploymentRecord, options: BundleApplyOptions): number {
    let next = this.#opts.driftCheckMs - (this.#now() - rt.lastFullCheck);
    if (rt.state === 'NotReady') next = Math.min(next, this.#opts.readinessResyncMs);
    if (rt.touched.size > 0) next = 0;
    if (record.progressing && options.readiness === 'Pessimistic') {
      const due = Date.parse(record.progressing.since) + options.progressDeadlineSeconds * 1000 - this.#now();
      next = Math.min(next, Math.max(due + 1, 0));
    }
    return Math.max(next, 0);
  }

  async #rollBack(
    rt: BundleRuntime,
    record: DeploymentRecord,
    verdict: Assessment,
    desiredDigest: string,
  ): Promise<void> {
    const to = verdict.rollbackTo!;
    const good = await this.#blobToApply(to);
    if (!good) {
      rt.message = `${verdict.missedDeadline}; cannot roll back: the manifests of ${to} are no longer cached`;
      return;
    }
    this.#log('progress deadline exceeded; rolling back', { bundle: rt.bundle, from: desiredDigest, to });
    // The hub hears that the revision failed before the site goes back.
    await this.#opts.report();
    const ok = await this.#applyTarget(rt, record, good, to, desiredDigest);
    if (!ok) {
      rt.message = `${verdict.missedDeadline}; rolling back to ${to} failed: ${rt.message}`;
      return;
    }
    record.rolledBack = { digest: desiredDigest, to, message: verdict.message };
    delete record.progressing;
    await this.#saveRecord(record);
    rt.state = 'Failed';
    rt.message = verdict.message;
  }

  // ---- pre-pull ----

  /**
   * With pre-pull on and new images in the revision, makes every node pull them before the switch.
   * Returns how long to wait before looking again, or undefined when the switch may go ahead.
   */
  async #prePullBefore(
    rt: BundleRuntime,
    record: DeploymentRecord,
    blob: RenderedBundle,
    isDesired: boolean,
  ): Promise<number | undefined> {
    const stale = rt.prePull && rt.prePull.digest !== rt.digest && !rt.prePull.done ? rt.prePull : undefined;
    if (stale) {
      // a newer revision arrived mid-pull: the old pull's DaemonSets are of no use any more
      await removePrePull(this.#cluster, rt.bundle, stale.namespaces);
      rt.prePull = undefined;
    }
    const options = optionsOf(blob);
    if (!isDesired || !options.prePull.enabled || !record.applied) return undefined;
    if (rt.prePull?.digest === rt.digest && rt.prePull.done) return undefined;
    const running = await this.#state.blob(record.applied);
    const plans: PrePullPlan[] = running
      ? planPrePull(running.objects, blob.objects, blob.namespace ?? 'default')
      : [];
    if (plans.length === 0) return undefined;
    if (rt.prePull?.digest !== rt.digest)
      rt.prePull = { digest: rt.digest, since: this.#now(), namespaces: [], done: false };
    const pull = rt.prePull!;
    const status = await runPrePull(
      this.#cluster,
      rt.bundle,
      plans,
      this.#opts.prePullPauseImage ?? defaultPauseImage,
    );
    pull.namespaces = status.namespaces;
    const done = status.progress.every((p) => p.done);
    const late = this.#now() - pull.since > options.prePull.deadlineSeconds * 1000;
    if (done || late) {
      await removePrePull(this.#cluster, rt.bundle, pull.namespaces);
      pull.done = true;
      this.#log(done ? 'images pre-pulled; switching' : 'pre-pull deadline passed; switching anyway', {
        bundle: rt.bundle,
      });
      return undefined;
    }
    const pulled = status.progress.reduce((n, p) => n + p.pulled, 0);
    const known = status.progress.every((p) => p.nodes !== undefined);
    const nodes = status.progress.reduce((n, p) => n + (p.nodes ?? 0), 0);
    rt.state = 'Applying';
    rt.message = `pre-pulling ${status.images} new image(s) before switching: ${
      known ? `${pulled} of ${nodes} node(s) done` : 'waiting for the DaemonSet controller'
    }`;
    return Math.min(this.#opts.readinessResyncMs, options.prePull.deadlineSeconds * 1000);
  }

  async #sweepLeftoverPrePulls(): Promise<void> {
    const active = new Set(
      [...this.#bundles.values()].filter((b) => b.prePull && !b.prePull.done).map((b) => b.bundle),
    );
    try {
      const removed = await sweepPrePulls(this.#cluster, active);
      if (removed.length > 0) this.#log('removed leftover pre-pull DaemonSets', { removed });
    } catch (e) {
      this.#log('could not look for leftover pre-pull DaemonSets', { error: (e as Error).message });
    }
    this.#sweepPrePulls = false;
  }

  // ---- what is no longer placed ----

  /** Prunes bundles the hub no longer places here, each under the deletion policy it was applied with. */
  async #removeUnplaced(desired: DesiredState): Promise<number> {
    let next = Number.POSITIVE_INFINITY;
    const wanted = new Set(desired.deployments.map((d) => d.bundle));
    for (const [bundle, inv] of this.#inventories) {
      if (wanted.has(bundle)) continue;
      const policy = inv.deletionPolicy ?? 'Delete';
      const pulling = this.#bundles.get(bundle)?.prePull;
      if (pulling && !pulling.done) await removePrePull(this.#cluster, bundle, pulling.namespaces);
      const errors = await prune(this.#cluster, bundle, inv.objects, policy);
      if (errors.length > 0) {
        this.#log('prune failed', { bundle, error: errors[0] });
        next = Math.min(next, 10_000);
        continue;
      }
      await this.#state.removeInventory(bundle);
      await this.#state.removeRecord(bundle);
      this.#inventories.delete(bundle);
      this.#records.delete(bundle);
      this.#bundles.delete(bundle);
      this.#removed.add(bundle);
      this.#log(policy === 'Orphan' ? 'bundle removed; objects orphaned' : 'bundle removed', {
        bundle,
        objects: inv.objects.length,
      });
    }
    for (const bundle of this.#bundles.keys()) if (!wanted.has(bundle)) this.#bundles.delete(bundle);
    for (const bundle of this.#records.keys()) {
      if (wanted.has(bundle) || this.#inventories.has(bundle)) continue;
      await this.#state.removeRecord(bundle);
      this.#records.delete(bundle);
    }
    return next;
  }

  /** Keeps the blobs of what is desired, applied or last-known-good; drops the rest. */
  async #pruneBlobs(): Promise<void> {
    const keep = new Set<string>();
    for (const r of this.#records.values()) {
      if (r.applied) keep.add(r.applied);
      if (r.lastKnownGood) keep.add(r.lastKnownGood);
      if (r.rolledBack) keep.add(r.rolledBack.to);
    }
    await this.#opts.desired.pruneBlobs(keep);
  }
}
