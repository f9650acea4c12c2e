// The agent at one site: registers once, long-polls its desired state, applies each bundle to the
// site's cluster, prunes what was unplaced, and reports up. With the hub out of reach it keeps
// enforcing the last desired state it saved; nothing is removed because the hub went quiet.

import { decodeJoinToken } from '../model/join-token.ts';
import type { DeploymentReport, DesiredState, Facts } from '../model/wire.ts';
import { TransportError } from '../net/http-client.ts';
import { certificateInfo, createCsr, generateKeyPair } from '../pki/pki.ts';
import { canonicalJson, sha256Digest } from '../render/digest.ts';
import type { RenderedBundle } from '../render/rendered.ts';
import { type Cluster, ClusterError } from './apply/cluster.ts';
import { applyBundle, prune, readBack } from './apply/engine.ts';
import { fetchPinnedCa, HubClient, HubError } from './hub-client.ts';
import { hostMachineId, newMachineId, renewalDue } from './identity.ts';
import { type Identity, LocalState } from './state/local-state.ts';
import { backoffDelay, Wakeup } from './timing.ts';

export const agentVersion = '0.1.0';

export interface AgentOptions {
  /** from `outpost token create`: hub URL, hub CA fingerprint and bootstrap token; needed until registered */
  joinToken?: string;
  /** the name the site asks for (default: the host name) */
  name?: string;
  /** stable id of this machine (default: /etc/machine-id, else one the agent makes and keeps) */
  machineId?: string;
  labels?: Record<string, string>;
  facts?: Facts;
  stateDir: string;
  cluster: Cluster;
  /** longest the hub may hold a desired-state poll */
  pollWaitSeconds?: number;
  /** how often readiness is re-read while something is not ready yet */
  readinessResyncMs?: number;
  /** how often everything is re-checked and a report is sent even when nothing changed (the heartbeat) */
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
    try {
      // Enforcing what is already known does not wait for the hub: it starts at once.
      await Promise.all([this.#hubLoop(signal), this.#reconcileLoop(signal)]);
    } finally {
      this.#hub?.close();
    }
  }

  /** Identity first (registration, approval), then polling and certificate renewal. */
  async #hubLoop(signal: AbortSignal): Promise<void> {
    const identity = await this.#ensureIdentity(signal);
    if (!identity) return;
    await Promise.all([this.#pollLoop(signal), this.#renewLoop(signal, identity)]);
  }

  /** A snapshot of what this site runs, for the local page and tests. */
  status(): { desired: DesiredState | undefined; deployments: DeploymentReport[] } {
    return { desired: this.#desired, deployments: [...this.#statuses.values()].map(toReport) };
  }

  /** Retries `step` with backoff while the failure is transient; rethrows anything else. */
  async #persist<T>(what: string, signal: AbortSignal, step: () => Promise<T>): Promise<T | undefined> {
    const pause = new Wakeup();
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        return await step();
      } catch (e) {
        if (signal.aborted) return undefined;
        if (!isTransient(e)) throw e;
        const delay = backoffDelay(attempt, 1000, 60_000);
        this.#log(`${what} failed; retrying`, { error: (e as Error).message, delayMs: delay });
        await pause.sleep(delay, signal);
      }
    }
    return undefined;
  }

  async #ensureIdentity(signal: AbortSignal): Promise<Identity | undefined> {
    const state = this.#state!;
    const saved = await state.identity();
    if (saved) {
      this.#hub = new HubClient(saved.hub, saved.caPem, saved, saved.siteId);
      return saved;
    }
    let pending = await state.pending();
    if (!pending) {
      const join = this.#opts.joinToken ? decodeJoinToken(this.#opts.joinToken) : undefined;
      if (!join) {
        throw new Error(
          this.#opts.joinToken
            ? 'the join token is not valid'
            : 'this agent is not registered: give it a join token (outpost token create)',
        );
      }
      const caPem = await this.#persist('fetching the hub CA', signal, () =>
        fetchPinnedCa(join.hub, join.caSha256),
      );
      if (!caPem) return undefined;
      const keys = generateKeyPair();
      const machineId =
        this.#opts.machineId ?? (await hostMachineId()) ?? (await state.machineId(newMachineId));
      const client = new HubClient(join.hub, caPem);
      const res = await this.#persist('registration', signal, () =>
        client.register({
          token: join.token,
          machineId,
          name: this.#opts.name,
          labels: this.#opts.labels,
          csr: createCsr({ commonName: machineId, keyPem: keys.privateKeyPem }),
          facts: { agentVersion, ...this.#opts.facts },
        }),
      );
      client.close();
      if (!res) return undefined;
      this.#log('registered', { site: res.name, siteId: res.siteId, lifecycle: res.lifecycle });
      if (res.certificate)
        return this.#adopt({
          hub: join.hub,
          siteId: res.siteId,
          name: res.name,
          caPem,
          certPem: res.certificate,
          keyPem: keys.privateKeyPem,
        });
      pending = {
        hub: join.hub,
        siteId: res.siteId,
        name: res.name,
        caPem,
        keyPem: keys.privateKeyPem,
        ticket: res.ticket!,
      };
      await state.savePending(pending);
    }
    // Pending approval: ask for the certificate now and then until an operator decides.
    const client = new HubClient(pending.hub, pending.caPem);
    const wait = new Wakeup();
    try {
      for (let attempt = 0; !signal.aborted; attempt++) {
        const res = await this.#persist('collecting the certificate', signal, () =>
          client.collectCertificate(pending.siteId, pending.ticket),
        );
        if (!res) return undefined;
        if (res.certificate) {
          await state.clearPending();
          return this.#adopt({ ...pending, certPem: res.certificate });
        }
        if (attempt === 0) this.#log('waiting for an operator to approve this site', { site: pending.name });
        await wait.sleep(backoffDelay(attempt, 2000, 60_000), signal);
      }
      return undefined;
    } finally {
      client.close();
    }
  }

  async #adopt(id: Identity): Promise<Identity> {
    await this.#state!.saveIdentity(id);
    this.#hub = new HubClient(id.hub, id.caPem, id, id.siteId);
    return id;
  }

  /** Renews the client certificate at two thirds of its lifetime, without stopping anything else. */
  async #renewLoop(signal: AbortSignal, first: Identity): Promise<void> {
    let identity = first;
    const wait = new Wakeup();
    while (!signal.aborted) {
      const info = certificateInfo(identity.certPem);
      const due = renewalDue(info.notBefore, info.notAfter).getTime() - Date.now();
      if (due > 0) {
        // setTimeout holds at most ~24.8 days; wake up daily to look again
        await wait.sleep(Math.min(due, 86400_000), signal);
        continue;
      }
      if (info.notAfter.getTime() <= Date.now()) {
        this.#log(
          'the site certificate has expired; the site keeps enforcing its state but must join again with a new token',
        );
        return;
      }
      const keys = generateKeyPair();
      const res = await this.#persist('certificate renewal', signal, () =>
        this.#hub!.renew(createCsr({ commonName: identity.siteId, keyPem: keys.privateKeyPem })),
      );
      if (!res?.certificate) return;
      identity = { ...identity, certPem: res.certificate, keyPem: keys.privateKeyPem };
      await this.#state!.saveIdentity(identity);
      this.#hub!.setIdentity(identity, identity.siteId);
      this.#log('certificate renewed', { notAfter: certificateInfo(res.certificate).notAfter.toISOString() });
    }
  }

  async #pollLoop(signal: AbortSignal): Promise<void> {
    let failures = 0;
    const pause = new Wakeup();
    while (!signal.aborted) {
      try {
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
        const delay = backoffDelay(failures++, 1000, 60_000);
        this.#log('hub unreachable or refusing; enforcing the last desired state', {
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
        await this.#report();
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
  async #report(): Promise<void> {
    if (!this.#hub) return; // not registered yet: the status waits for an identity
    const deployments = [...this.#statuses.values()].map(toReport);
    const removed = [...this.#removed];
    const body = canonicalJson({ deployments, removed });
    const due = Date.now() - this.#lastReportAt >= this.#opts.heartbeatMs;
    if (!due && body === this.#lastReport) return;
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
