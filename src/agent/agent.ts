// The agent at one site: registers once, long-polls its desired state, applies each bundle to the
// site's cluster, prunes what was unplaced, and reports up. With the hub out of reach it keeps
// enforcing the last desired state it saved; nothing is removed because the hub went quiet.

import type { DeploymentReport, DesiredState } from '../model/wire.ts';
import { TransportError } from '../net/http-client.ts';
import { canonicalJson, sha256Digest } from '../render/digest.ts';
import type { RenderedBundle } from '../render/rendered.ts';
import { type Cluster, ClusterError } from './apply/cluster.ts';
import { applyBundle, prune, readBack } from './apply/engine.ts';
import { HubClient, HubError } from './hub-client.ts';
import { type Identity, LocalState } from './state/local-state.ts';
import { backoffDelay, Wakeup } from './timing.ts';

export const agentVersion = '0.1.0';

export interface AgentOptions {
  hub: string;
  name: string;
  /** needed only until the agent has registered (and again if the hub forgets it) */
  registrationToken?: string;
  labels?: Record<string, string>;
  properties?: Record<string, unknown>;
  stateDir: string;
  cluster: Cluster;
  /** longest the hub may hold a desired-state poll */
  pollWaitSeconds?: number;
  /** how often readiness is re-read while something is not ready yet */
  readinessResyncMs?: number;
  /** how often everything is re-checked and a report is sent even when nothing changed */
  heartbeatMs?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

interface BundleStatus extends DeploymentReport {
  /** when the next attempt is due after a failure */
  retryAt?: number;
  attempts: number;
}

function isTransient(e: unknown): boolean {
  return e instanceof TransportError || ((e instanceof HubError || e instanceof ClusterError) && e.transient);
}

export class Agent {
  readonly #opts: Required<Pick<AgentOptions, 'pollWaitSeconds' | 'readinessResyncMs' | 'heartbeatMs'>> &
    AgentOptions;
  readonly #wakeReconcile = new Wakeup();
  readonly #statuses = new Map<string, BundleStatus>();
  #removed = new Set<string>();
  #desired: DesiredState | undefined;
  #hub: HubClient | undefined;
  #state: LocalState | undefined;
  #lastReport = '';
  #lastReportAt = 0;

  constructor(opts: AgentOptions) {
    this.#opts = { pollWaitSeconds: 50, readinessResyncMs: 3000, heartbeatMs: 30_000, ...opts };
  }

  #log(message: string, fields?: Record<string, unknown>): void {
    this.#opts.log?.(message, fields);
  }

  /** Runs until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const state = await LocalState.open(this.#opts.stateDir);
    this.#state = state;
    this.#desired = await state.desired();
    const identity = await state.identity();
    this.#hub = new HubClient(
      this.#opts.hub,
      identity?.hub === this.#opts.hub ? identity.credential : undefined,
    );
    try {
      await Promise.all([this.#pollLoop(signal, identity), this.#reconcileLoop(signal)]);
    } finally {
      this.#hub.close();
    }
  }

  /** A snapshot of what this site runs, for the local page and tests. */
  status(): { desired: DesiredState | undefined; deployments: DeploymentReport[] } {
    return { desired: this.#desired, deployments: [...this.#statuses.values()].map(toReport) };
  }

  async #register(signal: AbortSignal): Promise<Identity> {
    const { registrationToken, name, labels, properties, hub } = this.#opts;
    if (!registrationToken) throw new Error('the agent is not registered and has no registration token');
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.#hub!.register({
          token: registrationToken,
          name,
          labels,
          properties,
          facts: { agentVersion },
        });
        const identity: Identity = { hub, siteId: res.siteId, name: res.name, credential: res.credential };
        await this.#state!.saveIdentity(identity);
        this.#hub!.credential = res.credential;
        this.#log('registered', { site: res.name, siteId: res.siteId });
        return identity;
      } catch (e) {
        if (!isTransient(e) || signal.aborted) throw e;
        const delay = backoffDelay(attempt, 1000, 60_000);
        this.#log('registration failed; retrying', { error: (e as Error).message, delayMs: delay });
        await new Wakeup().sleep(delay, signal);
      }
    }
  }

  async #pollLoop(signal: AbortSignal, identity: Identity | undefined): Promise<void> {
    let registered = identity !== undefined && identity.hub === this.#opts.hub;
    let failures = 0;
    const pause = new Wakeup();
    while (!signal.aborted) {
      try {
        if (!registered) {
          await this.#register(signal);
          registered = true;
        }
        const res = await this.#hub!.desired(this.#desired?.digest, this.#opts.pollWaitSeconds, signal);
        failures = 0;
        if (res === 'unchanged') continue;
        await this.#fetchBlobs(res);
        await this.#state!.saveDesired(res);
        this.#desired = res;
        this.#log('desired state changed', { digest: res.digest, bundles: res.deployments.length });
        this.#wakeReconcile.wake();
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof HubError && e.status === 401 && this.#opts.registrationToken) {
          this.#log('the hub no longer knows this credential; registering again');
          registered = false;
          continue;
        }
        const delay = backoffDelay(failures++, 1000, 60_000);
        this.#log('hub unreachable; enforcing the last desired state', {
          error: (e as Error).message,
          delayMs: delay,
        });
        await pause.sleep(delay, signal);
      }
    }
  }

  async #fetchBlobs(desired: DesiredState): Promise<void> {
    for (const d of desired.deployments) {
      if (await this.#state!.blob(d.digest)) continue;
      const text = await this.#hub!.blob(d.digest);
      if (sha256Digest(text) !== d.digest)
        throw new HubError(`blob ${d.digest} does not match its digest`, 502, 'blob_corrupt');
      await this.#state!.saveBlob(d.digest, text);
    }
    await this.#state!.pruneBlobs(new Set(desired.deployments.map((d) => d.digest)));
  }

  async #reconcileLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let next = this.#opts.heartbeatMs;
      try {
        next = await this.#reconcile();
        await this.#report(false);
      } catch (e) {
        this.#log('reconcile failed', { error: (e as Error).message });
        next = Math.min(next, 5000);
      }
      await this.#wakeReconcile.sleep(next, signal);
    }
  }

  /** One pass over the desired state; returns how soon the next pass is due. */
  async #reconcile(): Promise<number> {
    const desired = this.#desired;
    // Before the first desired state arrives the agent knows nothing; it must not prune on ignorance.
    if (!desired) return this.#opts.heartbeatMs;
    const now = Date.now();
    let next = this.#opts.heartbeatMs;
    const inventories = new Map((await this.#state!.inventories()).map((i) => [i.bundle, i.objects]));
    const cluster = this.#opts.cluster;

    for (const d of desired.deployments) {
      const current = this.#statuses.get(d.bundle);
      const rendered = await this.#state!.blob(d.digest);
      if (!rendered) {
        this.#setStatus(d.bundle, {
          digest: d.digest,
          state: 'Applying',
          message: 'waiting for the manifests',
          attempts: 0,
        });
        continue;
      }
      const fresh = current?.digest !== d.digest;
      if (!fresh && current.retryAt !== undefined && current.retryAt > now) {
        next = Math.min(next, current.retryAt - now);
        continue;
      }
      if (fresh || current.retryAt !== undefined) {
        next = Math.min(
          next,
          await this.#apply(d.bundle, d.digest, rendered, inventories.get(d.bundle) ?? [], current),
        );
      } else if (current.state === 'NotReady' || current.state === 'Ready') {
        const inventory = inventories.get(d.bundle) ?? [];
        const { readyCount, notReady, anyFailed } = await readBack(cluster, inventory);
        this.#setStatus(d.bundle, {
          ...current,
          state: anyFailed ? 'Failed' : notReady.length === 0 ? 'Ready' : 'NotReady',
          message: notReady[0] ? `${notReady[0].object}: ${notReady[0].reason}` : '',
          counts: { ...current.counts, ready: readyCount },
          notReady,
        });
        if (notReady.length > 0) next = Math.min(next, this.#opts.readinessResyncMs);
      }
    }

    const wanted = new Set(desired.deployments.map((d) => d.bundle));
    for (const [bundle, refs] of inventories) {
      if (wanted.has(bundle)) continue;
      const errors = await prune(cluster, bundle, refs);
      if (errors.length > 0) {
        this.#log('prune failed', { bundle, error: errors[0] });
        next = Math.min(next, 10_000);
        continue;
      }
      await this.#state!.removeInventory(bundle);
      this.#statuses.delete(bundle);
      this.#removed.add(bundle);
      this.#log('bundle removed', { bundle, objects: refs.length });
    }
    for (const bundle of this.#statuses.keys()) if (!wanted.has(bundle)) this.#statuses.delete(bundle);
    return next;
  }

  async #apply(
    bundle: string,
    digest: string,
    rendered: RenderedBundle,
    inventory: NonNullable<Parameters<typeof applyBundle>[2]>,
    current: BundleStatus | undefined,
  ): Promise<number> {
    const attempts = current?.digest === digest ? current.attempts + 1 : 1;
    try {
      this.#log('applying', { bundle, digest, objects: rendered.objects.length });
      const outcome = await applyBundle(this.#opts.cluster, rendered, inventory, {
        saveInventory: (objects) => this.#state!.saveInventory({ bundle, objects }),
      });
      const status: BundleStatus = {
        bundle,
        digest,
        state: outcome.state,
        message: outcome.message,
        counts: outcome.counts,
        notReady: outcome.notReady,
        attempts,
      };
      if (outcome.state === 'Failed') status.retryAt = Date.now() + backoffDelay(attempts, 10_000, 300_000);
      this.#setStatus(bundle, status);
      this.#log('applied', { bundle, state: outcome.state, message: outcome.message });
      return outcome.state === 'NotReady' ? this.#opts.readinessResyncMs : this.#opts.heartbeatMs;
    } catch (e) {
      if (!isTransient(e)) throw e;
      const delay = backoffDelay(attempts, 1000, 60_000);
      this.#setStatus(bundle, {
        bundle,
        digest,
        state: 'Applying',
        message: `retrying after a transient error: ${(e as Error).message}`,
        counts: current?.counts ?? { total: rendered.objects.length, applied: 0, ready: 0 },
        attempts,
        retryAt: Date.now() + delay,
      });
      return delay;
    }
  }

  #setStatus(
    bundle: string,
    s: Partial<BundleStatus> & { digest: string; state: BundleStatus['state'] },
  ): void {
    this.#statuses.set(bundle, {
      bundle,
      message: '',
      counts: { total: 0, applied: 0, ready: 0 },
      attempts: 0,
      ...s,
    } as BundleStatus);
  }

  /** Sends a report when something changed or the heartbeat is due; a failed send is retried next pass. */
  async #report(force: boolean): Promise<void> {
    const deployments = [...this.#statuses.values()].map(toReport);
    const removed = [...this.#removed];
    const body = canonicalJson({ deployments, removed });
    const due = Date.now() - this.#lastReportAt >= this.#opts.heartbeatMs;
    if (!force && !due && body === this.#lastReport) return;
    const seq = (await this.#state!.reportSeq()) + 1;
    await this.#state!.saveReportSeq(seq);
    try {
      await this.#hub!.report({ seq, deployments, removed: removed.length > 0 ? removed : undefined });
      this.#lastReport = body;
      this.#lastReportAt = Date.now();
      for (const b of removed) this.#removed.delete(b);
    } catch (e) {
      if (!isTransient(e) && !(e instanceof HubError)) throw e;
      this.#log('report not delivered; will retry', { error: (e as Error).message });
    }
  }
}

function toReport(s: BundleStatus): DeploymentReport {
  const r: DeploymentReport = { bundle: s.bundle, digest: s.digest, state: s.state, counts: s.counts };
  if (s.message) r.message = s.message.slice(0, 8192);
  if (s.notReady && s.notReady.length > 0) r.notReady = s.notReady.slice(0, 1000);
  return r;
}
