// The agent at one site: registers once, long-polls its desired state, applies each bundle to the
// site's cluster, watches what it applied for drift and readiness, rolls back a revision that misses its
// deadline, prunes what was unplaced, and reports up through a durable outbox. With the hub out of reach
// it keeps enforcing the last desired state it saved; nothing is removed because the hub went quiet.

import { hostname } from 'node:os';
import { join } from 'node:path';
import { backoffDelay, Wakeup } from '../base/timing.ts';
import type { BundleApplyOptions } from '../model/apply-options.ts';
import type { ReportedState } from '../model/deployment.ts';
import { decodeJoinToken } from '../model/join-token.ts';
import { type KubeObject, type ObjectRef, refKey, refOf } from '../model/manifest.ts';
import type { DeploymentReport, DesiredDeployment, DesiredState, Facts, Report } from '../model/wire.ts';
import { TransportError } from '../net/http-client.ts';
import { certificateInfo } from '../pki/certificate.ts';
import { createCsr } from '../pki/csr.ts';
import { generateKeyPair } from '../pki/keys.ts';
import { canonicalJson, sha256Digest } from '../render/digest.ts';
import type { RenderedBundle } from '../render/rendered.ts';
import { type Cluster, ClusterError } from './apply/cluster.ts';
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
import { type Assessment, assess, type ObjectHealth } from './apply/progress.ts';
import { fetchPinnedCa, HubClient, HubError } from './hub-client.ts';
import { hostMachineId, newMachineId, renewalDue } from './identity.ts';
import { type LocalDeployment, type LocalPage, type LocalStatus, serveLocalPage } from './local-page.ts';
import { OwnedObjects } from './owned-objects.ts';
import { type DeploymentRecord, type Identity, type Inventory, LocalState } from './state/local-state.ts';
import { Outbox, type OutboxLimits } from './state/outbox.ts';
import { SiteTelemetry } from './telemetry/site-telemetry.ts';
import { type TelemetryBundle, type TelemetrySource, telemetryBundleOf } from './telemetry/source.ts';

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
  /** how often a report goes up even when nothing changed (only when none are waiting) */
  heartbeatMs?: number;
  /** how often every applied object is read back and checked for drift, watch or no watch */
  driftCheckMs?: number;
  /** watch owned objects for changes between checks (on by default) */
  watch?: boolean;
  /** host:port of the local status page, or false for none; default 127.0.0.1:7071 */
  localPage?: string | false;
  outboxLimits?: OutboxLimits;
  /** the image pre-pull pods idle on; every node already has the runtime's sandbox image */
  prePullPauseImage?: string;
  /** store-and-forward telemetry (on by default; false for none) */
  telemetry?: AgentTelemetryOptions | false;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface AgentTelemetryOptions {
  /** disk budget of the telemetry buffer (default 64 MiB) */
  budgetBytes?: number;
  /** optional uplink cap, compressed bytes per second */
  bandwidthBytesPerSecond?: number;
  /** how often new telemetry is sent (default 30 s: one request per site, however many classes) */
  flushMs?: number;
  /** what produces samples (default: the Prometheus scraper of spec.telemetry); the simulator feeds its own */
  sources?: TelemetrySource[];
  /** watch Kubernetes events of the bundles' namespaces (default true) */
  events?: boolean;
}

/** What the agent holds in memory about one desired bundle between passes. */
interface BundleRuntime {
  bundle: string;
  revision: number;
  digest: string;
  state: ReportedState;
  message: string;
  total: number;
  applied: number;
  /** per object, from the last inspection (refKey → health) */
  health: Map<string, ObjectHealth>;
  /** the bundle's objects as applied, for the digest in `desiredFor` */
  desired?: { digest: string; objects: DesiredObject[] };
  /** objects a watch saw change since the last inspection */
  touched: Set<string>;
  /** inspect everything at the next pass */
  fullCheckDue: boolean;
  lastFullCheck: number;
  /** when the next attempt is due after a failure */
  retryAt?: number;
  attempts: number;
  prePull?: { digest: string; since: number; namespaces: string[]; done: boolean };
  /** when drift was last corrected; a field someone keeps changing back is corrected at a bounded rate */
  lastCorrection: number;
}

/** Reports carry at most this many drift entries per bundle. */
const maxDriftInReport = 100;
/** How stale the saved time of the last hub contact may get; saving it on every poll would wear flash. */
const contactSaveIntervalMs = 60_000;
/** Between two drift corrections of one bundle; damps a fight with another controller over a field. */
const minCorrectionIntervalMs = 5000;

function isTransient(e: unknown): boolean {
  return e instanceof TransportError || ((e instanceof HubError || e instanceof ClusterError) && e.transient);
}

export class Agent {
  readonly #opts: Required<
    Pick<AgentOptions, 'pollWaitSeconds' | 'readinessResyncMs' | 'heartbeatMs' | 'driftCheckMs'>
  > &
    AgentOptions;
  readonly #wakeReconcile = new Wakeup();
  readonly #wakeSender = new Wakeup();
  /** woken when the hub answers again, so queued reports go without waiting out a backoff */
  readonly #hubBack = new Wakeup();
  readonly #bundles = new Map<string, BundleRuntime>();
  readonly #startedAt = new Date();
  #records = new Map<string, DeploymentRecord>();
  #inventories = new Map<string, Inventory>();
  #removed = new Set<string>();
  #desired: DesiredState | undefined;
  #hub: HubClient | undefined;
  #identity: Identity | undefined;
  #state: LocalState | undefined;
  #outbox: Outbox | undefined;
  #owned: OwnedObjects | undefined;
  #page: LocalPage | undefined;
  #telemetry: SiteTelemetry | undefined;
  /** per desired bundle, what telemetry collects for it (from its blob) */
  readonly #telemetryBundles = new Map<string, TelemetryBundle>();
  #lastEnqueued = '';
  #lastEnqueuedAt = 0;
  #lastContact: Date | undefined;
  #lastContactSaved = 0;
  #lastContactThisRun = false;
  #hubError: string | undefined;
  #blobsMissing = false;
  #sweepPrePulls = true;
  /** serializes changes to which blobs are kept (poll loop saves, reconcile prunes) */
  #blobLock: Promise<void> = Promise.resolve();
  #wakeTimer: NodeJS.Timeout | undefined;

  constructor(opts: AgentOptions) {
    this.#opts = {
      pollWaitSeconds: 50,
      readinessResyncMs: 3000,
      heartbeatMs: 30_000,
      driftCheckMs: 300_000,
      ...opts,
    };
  }

  #log(message: string, fields?: Record<string, unknown>): void {
    this.#opts.log?.(message, fields);
  }

  /** Runs until `signal` aborts; should a loop fail unexpectedly, stops the others and throws. */
  async run(outer: AbortSignal): Promise<void> {
    const failed = new AbortController();
    const signal = AbortSignal.any([outer, failed.signal]);
    const state = await LocalState.open(this.#opts.stateDir);
    this.#state = state;
    this.#outbox = await Outbox.open(this.#opts.stateDir, this.#opts.outboxLimits);
    if (this.#opts.telemetry !== false) {
      try {
        this.#telemetry = await this.#openTelemetry(this.#opts.telemetry ?? {});
      } catch (e) {
        // telemetry is for the hub's view of the site; the site's own work does not wait for it
        this.#log('telemetry unavailable', { error: (e as Error).message });
      }
    }
    this.#desired = await state.desired();
    this.#lastContact = await state.lastContact();
    this.#records = new Map((await state.records()).map((r) => [r.bundle, r]));
    this.#inventories = new Map((await state.inventories()).map((i) => [i.bundle, i]));
    if (this.#opts.watch !== false) {
      this.#owned = new OwnedObjects(
        this.#opts.cluster,
        { onChange: (o) => this.#onOwnedChange(o), onResync: () => this.#onOwnedResync() },
        { signal, log: (m, f) => this.#log(m, f) },
      );
      this.#owned.follow(this.#ownedRefs());
    }
    const localPage = this.#opts.localPage ?? '127.0.0.1:7071';
    if (localPage !== false) {
      try {
        this.#page = await serveLocalPage(localPage, () => this.status());
        this.#log('local status page', { url: this.#page.url });
      } catch (e) {
        // The page is for people on site; the agent's work does not depend on it.
        this.#log('local status page unavailable', { address: localPage, error: (e as Error).message });
      }
    }
    const onAbort = () => clearTimeout(this.#wakeTimer);
    signal.addEventListener('abort', onAbort, { once: true });
    const owned = (loop: Promise<void>) =>
      loop.catch((e: unknown) => {
        failed.abort();
        throw e;
      });
    try {
      await Promise.all([
        owned(this.#hubLoop(signal)),
        owned(this.#reconcileLoop(signal)),
        owned(this.#sendLoop(signal)),
        this.#telemetry?.run(signal), // never throws: telemetry trouble does not stop the site
      ]);
    } finally {
      await this.#owned?.stopped();
      await this.#page?.close();
      this.#hub?.close();
    }
  }

  #openTelemetry(opts: AgentTelemetryOptions): Promise<SiteTelemetry> {
    return SiteTelemetry.open({
      dir: join(this.#opts.stateDir, 'telemetry'),
      uplink: {
        send: (gzipped, signal) =>
          this.#hub && this.#identity
            ? this.#hub.telemetry(gzipped, signal)
            : Promise.reject(new TransportError('not registered with the hub yet')),
      },
      budgetBytes: opts.budgetBytes,
      bandwidthBytesPerSecond: opts.bandwidthBytesPerSecond,
      flushMs: opts.flushMs,
      sources: opts.sources,
      cluster: this.#opts.cluster,
      events: opts.events,
      agentMetrics: () => ({
        outpost_agent_reports_pending: this.#outbox?.stats().pending ?? 0,
        outpost_agent_reports_dropped_total: this.#outbox?.stats().dropped ?? 0,
        outpost_agent_bundles: this.#bundles.size,
      }),
      log: (m, f) => this.#log(m, f),
    });
  }

  /** Identity first (registration, approval), then polling and certificate renewal. */
  async #hubLoop(signal: AbortSignal): Promise<void> {
    const identity = await this.#ensureIdentity(signal);
    if (!identity) return;
    this.#identity = identity;
    this.#wakeSender.wake();
    await Promise.all([this.#pollLoop(signal), this.#renewLoop(signal, identity)]);
  }

  /** The local page's URL once it listens. */
  get localPageUrl(): string | undefined {
    return this.#page?.url;
  }

  /** A snapshot of what this site runs: for the local page, /status.json and tests. */
  status(): LocalStatus {
    const deployments: LocalDeployment[] = [...this.#bundles.values()].map((rt) => {
      const record = this.#records.get(rt.bundle);
      return {
        ...this.#reportOf(rt),
        revision: rt.revision,
        runningDigest: record?.applied ?? null,
        lastKnownGood: record?.lastKnownGood ?? null,
      };
    });
    return {
      site: this.#identity?.name ?? this.#opts.name ?? '',
      hub:
        this.#identity?.hub ??
        (this.#opts.joinToken ? decodeJoinToken(this.#opts.joinToken)?.hub : undefined) ??
        '',
      agentVersion,
      startedAt: this.#startedAt.toISOString(),
      hubContact: {
        last: this.#lastContact?.toISOString() ?? null,
        reachable: this.#hubError === undefined && this.#lastContactThisRun,
        error: this.#hubError ?? null,
      },
      desiredDigest: this.#desired?.digest ?? null,
      deployments,
      outbox: this.#outbox?.stats() ?? { pending: 0, bytes: 0, dropped: 0, nextSeq: 1 },
      telemetry: this.#telemetry?.status(),
    };
  }

  // ---- the hub: registration and desired state ----

  #contact(): void {
    const wasDown = this.#hubError !== undefined;
    this.#lastContactThisRun = true;
    this.#lastContact = new Date();
    this.#hubError = undefined;
    if (wasDown) {
      this.#hubBack.wake();
      this.#telemetry?.hubBack();
    }
    if (this.#lastContact.getTime() - this.#lastContactSaved >= contactSaveIntervalMs) {
      this.#lastContactSaved = this.#lastContact.getTime();
      this.#state!.saveLastContact(this.#lastContact).catch((e: Error) =>
        this.#log('could not save the time of the last hub contact', { error: e.message }),
      );
    }
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
      const facts: Facts = { agentVersion, ...(await this.#siteFacts()), ...this.#opts.facts };
      const res = await this.#persist('registration', signal, () =>
        client.register({
          token: join.token,
          machineId,
          name: this.#opts.name,
          labels: this.#opts.labels,
          csr: createCsr({ commonName: machineId, keyPem: keys.privateKeyPem }),
          facts,
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

  /** What the site says about itself at registration: host, Kubernetes version, node count. */
  async #siteFacts(): Promise<Facts> {
    const facts: Facts = { hostname: hostname() };
    const cluster = this.#opts.cluster;
    try {
      const version = await cluster.version?.();
      if (version) facts.kubernetesVersion = version;
      const nodes = await cluster.list({ apiVersion: 'v1', kind: 'Node' }, {});
      facts.capacity = { nodes: nodes.items.length };
    } catch (e) {
      // facts are for people; registering does not wait for a cluster that is not answering yet
      this.#log('could not read cluster facts', { error: (e as Error).message });
    }
    return facts;
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
        if (this.#blobsMissing && this.#desired)
          await this.#withBlobLock(() => this.#fetchBlobs(this.#desired!));
        const res = await this.#hub!.desired(this.#desired?.digest, this.#opts.pollWaitSeconds, signal);
        this.#contact();
        failures = 0;
        if (res === 'unchanged') continue;
        await this.#withBlobLock(async () => {
          await this.#fetchBlobs(res);
          await this.#state!.saveDesired(res);
          this.#desired = res;
        });
        this.#log('desired state changed', { digest: res.digest, bundles: res.deployments.length });
        this.#wakeReconcile.wake();
      } catch (e) {
        if (signal.aborted) return;
        this.#hubError = (e as Error).message;
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
    this.#blobsMissing = false;
  }

  #withBlobLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#blobLock.then(fn);
    this.#blobLock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  // ---- reports ----

  async #sendLoop(signal: AbortSignal): Promise<void> {
    const outbox = this.#outbox!;
    let failures = 0;
    while (!signal.aborted) {
      let report: Report | undefined;
      try {
        report = await outbox.oldest();
        if (!report || !this.#hub) {
          // nothing to send, or no identity to send it with yet
          await this.#wakeSender.sleep(this.#opts.heartbeatMs, signal);
          continue;
        }
        const ack = await this.#hub!.report(report);
        this.#contact();
        failures = 0;
        await outbox.ack(report.seq);
        // the hub has these removals now (accepted now or before)
        for (const b of report.removed ?? []) if (!this.#bundles.has(b)) this.#removed.delete(b);
        if (!ack.accepted && ack.lastSeq >= outbox.stats().nextSeq) {
          // The hub remembers this site from before its state directory: continue above its numbers
          // and tell it the current state again.
          this.#log('the hub is ahead of this site’s report sequence; continuing after it', {
            lastSeq: ack.lastSeq,
          });
          await outbox.continueAfter(ack.lastSeq);
          this.#lastEnqueued = '';
          this.#wakeReconcile.wake();
        }
      } catch (e) {
        if (signal.aborted) return;
        const refused = e instanceof HubError && !e.transient && e.status !== 401 && e.status !== 403;
        if (refused && report) {
          this.#log('the hub refused a report; dropping it', { seq: report.seq, error: e.message });
          await outbox.drop(report.seq).catch(() => {});
          continue;
        }
        if (e instanceof HubError || e instanceof TransportError) this.#hubError = e.message;
        // the outbox's disk in trouble: keep trying, slowly, rather than stop the agent
        else this.#log('report outbox unavailable', { error: (e as Error).message });
        const delay = backoffDelay(failures++, 1000, 60_000);
        await this.#hubBack.sleep(delay, signal);
      }
    }
  }

  #reportOf(rt: BundleRuntime): DeploymentReport {
    const health = [...rt.health.values()];
    const r: DeploymentReport = {
      bundle: rt.bundle,
      digest: rt.digest,
      state: rt.state,
      counts: { total: rt.total, applied: rt.applied, ready: health.filter((h) => h.ready).length },
    };
    if (rt.message) r.message = rt.message.slice(0, 8192);
    const notReady = health.filter((h) => !h.ready).map((h) => ({ object: h.object, reason: h.reason }));
    if (notReady.length > 0) r.notReady = notReady.slice(0, 1000);
    const drift = health
      .flatMap((h) =>
        h.drift.map((d) => ({ object: h.object.slice(0, 600), ...d, path: d.path.slice(0, 1024) })),
      )
      .slice(0, maxDriftInReport);
    if (drift.length > 0) r.drift = drift;
    return r;
  }

  /** Puts a report in the outbox when something changed, or as a heartbeat when none is waiting. */
  async #enqueueReport(): Promise<void> {
    const outbox = this.#outbox!;
    const deployments = [...this.#bundles.values()].map((rt) => this.#reportOf(rt));
    const removed = [...this.#removed];
    const body = canonicalJson({ deployments, removed });
    const heartbeatDue =
      Date.now() - this.#lastEnqueuedAt >= this.#opts.heartbeatMs && outbox.stats().pending === 0;
    if (body === this.#lastEnqueued && !heartbeatDue) return;
    const report: Omit<Report, 'seq'> = { deployments };
    if (removed.length > 0) report.removed = removed;
    const dropped = outbox.stats().dropped;
    if (dropped > 0) report.droppedReports = dropped;
    await outbox.enqueue(report);
    this.#lastEnqueued = body;
    this.#lastEnqueuedAt = Date.now();
    this.#wakeSender.wake();
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

  /** Wakes the reconcile loop shortly, so a burst of watch events makes one pass, not many. */
  #wakeSoon(): void {
    if (this.#wakeTimer) return;
    this.#wakeTimer = setTimeout(() => {
      this.#wakeTimer = undefined;
      this.#wakeReconcile.wake();
    }, 100);
  }

  // ---- reconciling ----

  async #reconcileLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let next = this.#opts.heartbeatMs;
      try {
        next = await this.#reconcile();
        await this.#enqueueReport();
      } catch (e) {
        this.#log('reconcile failed', { error: (e as Error).message });
        next = Math.min(next, 5000);
      }
      await this.#wakeReconcile.sleep(Math.max(next, 10), signal);
    }
  }

  /** One pass over the desired state; returns how soon the next pass is due. */
  async #reconcile(): Promise<number> {
    const desired = this.#desired;
    // Before the first desired state arrives the agent knows nothing; it must not prune on ignorance.
    if (!desired) return this.#opts.heartbeatMs;
    let next = Math.min(this.#opts.heartbeatMs, this.#opts.driftCheckMs);
    for (const d of desired.deployments) {
      try {
        next = Math.min(next, await this.#reconcileBundle(d));
      } catch (e) {
        // One bundle in trouble must not hold up the others: it is retried on its own, with backoff.
        const transient = isTransient(e);
        const rt = this.#runtime(d);
        const delay = transient
          ? backoffDelay(rt.attempts, 1000, 60_000)
          : backoffDelay(rt.attempts, 10_000, 300_000);
        rt.attempts++;
        rt.retryAt = Date.now() + delay;
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
    await this.#pruneBlobs(desired);
    if (this.#sweepPrePulls) await this.#sweepLeftoverPrePulls();
    this.#owned?.follow(this.#ownedRefs());
    const placed = new Set(desired.deployments.map((d) => d.bundle));
    for (const bundle of this.#telemetryBundles.keys())
      if (!placed.has(bundle)) this.#telemetryBundles.delete(bundle);
    this.#telemetry?.setBundles([...this.#telemetryBundles.values()]);
    return next;
  }

  #runtime(d: DesiredDeployment): BundleRuntime {
    let rt = this.#bundles.get(d.bundle);
    if (!rt) {
      rt = {
        bundle: d.bundle,
        revision: d.revision,
        digest: d.digest,
        state: 'Applying',
        message: '',
        total: 0,
        applied: 0,
        health: new Map(),
        touched: new Set(),
        fullCheckDue: true,
        lastFullCheck: 0,
        attempts: 0,
        lastCorrection: 0,
      };
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
    await this.#state!.saveRecord(record);
  }

  async #reconcileBundle(d: DesiredDeployment): Promise<number> {
    const now = Date.now();
    const rt = this.#runtime(d);
    const record: DeploymentRecord = { ...(this.#records.get(d.bundle) ?? { bundle: d.bundle }) };
    if (record.rolledBack && record.rolledBack.digest !== d.digest) {
      // a new desired revision: the rollback was about the old one
      delete record.rolledBack;
      await this.#saveRecord(record);
    }
    const target = record.rolledBack?.to ?? d.digest;
    const blob = await this.#state!.blob(target);
    if (blob) this.#telemetryBundles.set(d.bundle, telemetryBundleOf(blob, target));
    if (!blob) {
      if (target === d.digest) {
        this.#blobsMissing = true;
        Object.assign(rt, { state: 'Applying', message: 'waiting for the manifests from the hub' });
        return this.#opts.heartbeatMs;
      }
      // the last-known-good's manifests are gone from the cache: nothing to enforce but the desired one
      delete record.rolledBack;
      await this.#saveRecord(record);
      return 0;
    }
    if (rt.retryAt !== undefined && rt.retryAt > now) return rt.retryAt - now;

    if (record.applied !== target || rt.retryAt !== undefined) {
      const waitMs = await this.#prePullBefore(rt, record, blob, target === d.digest);
      if (waitMs !== undefined) return waitMs;
      const applied = await this.#applyTarget(rt, record, blob, target, d.digest);
      if (!applied)
        return rt.retryAt !== undefined ? Math.max(0, rt.retryAt - Date.now()) : this.#opts.heartbeatMs;
    }
    return this.#check(rt, record, blob, d.digest);
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
      record.progressing = { digest: target, since: new Date().toISOString() };
      await this.#saveRecord(record);
    }
    rt.state = 'Applying';
    this.#log('applying', { bundle: rt.bundle, digest: target, objects: blob.objects.length });
    const inventory = this.#inventories.get(rt.bundle)?.objects ?? [];
    const outcome = await applyBundle(this.#opts.cluster, blob, inventory, {
      saveInventory: async (objects) => {
        const inv: Inventory = { bundle: rt.bundle, objects, deletionPolicy: options.deletionPolicy };
        await this.#state!.saveInventory(inv);
        this.#inventories.set(rt.bundle, inv);
      },
    });
    rt.total = outcome.total;
    rt.applied = outcome.applied;
    if (!outcome.ok) {
      rt.attempts++;
      rt.state = 'Failed';
      rt.message = outcome.message;
      rt.retryAt = Date.now() + backoffDelay(rt.attempts, 10_000, 300_000);
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
      rt.desired = { digest, objects: (await desiredObjects(this.#opts.cluster, blob)).objects };
    }
    return rt.desired.objects;
  }

  /** Reads back what is due, judges the bundle, and acts: correct drift, roll back, record good. */
  async #check(rt: BundleRuntime, record: DeploymentRecord, blob: RenderedBundle, desiredDigest: string) {
    const now = Date.now();
    const target = record.applied!;
    const objects = await this.#desiredObjectsOf(rt, target, blob);
    const notReadyResync = rt.state === 'NotReady' && now - rt.lastFullCheck >= this.#opts.readinessResyncMs;
    const full = rt.fullCheckDue || notReadyResync || now - rt.lastFullCheck >= this.#opts.driftCheckMs;
    if (full) {
      rt.health = new Map((await inspect(this.#opts.cluster, objects)).map((h) => [h.key, h]));
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
        this.#opts.cluster,
        objects.filter((o) => keys.has(o.key)),
      ))
        rt.health.set(h.key, h);
    }
    const options = optionsOf(blob);
    const verdict = this.#assess(rt, record, options, desiredDigest);

    if (verdict.correct.length > 0 && now - rt.lastCorrection >= minCorrectionIntervalMs) {
      rt.lastCorrection = now;
      // The hub hears about the drift before it is corrected.
      await this.#enqueueReport();
      const drifted = objects.filter((o) => verdict.correct.includes(o.key));
      this.#log('correcting drift', { bundle: rt.bundle, objects: drifted.length, drift: rt.message });
      const errors = await correctDrift(this.#opts.cluster, drifted);
      for (const h of await inspect(this.#opts.cluster, drifted)) rt.health.set(h.key, h);
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
      now: Date.now(),
    });
    rt.state = verdict.state;
    rt.message = verdict.message;
    return verdict;
  }

  #nextCheck(rt: BundleRuntime, record: DeploymentRecord, options: BundleApplyOptions): number {
    let next = this.#opts.driftCheckMs - (Date.now() - rt.lastFullCheck);
    if (rt.state === 'NotReady') next = Math.min(next, this.#opts.readinessResyncMs);
    if (rt.touched.size > 0) next = 0;
    if (record.progressing && options.readiness === 'Pessimistic') {
      const due = Date.parse(record.progressing.since) + options.progressDeadlineSeconds * 1000 - Date.now();
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
    const good = await this.#state!.blob(to);
    if (!good) {
      rt.message = `${verdict.missedDeadline}; cannot roll back: the manifests of ${to} are no longer cached`;
      return;
    }
    this.#log('progress deadline exceeded; rolling back', { bundle: rt.bundle, from: desiredDigest, to });
    // The hub hears that the revision failed before the site goes back.
    await this.#enqueueReport();
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
      await removePrePull(this.#opts.cluster, rt.bundle, stale.namespaces);
      rt.prePull = undefined;
    }
    const options = optionsOf(blob);
    if (!isDesired || !options.prePull.enabled || !record.applied) return undefined;
    if (rt.prePull?.digest === rt.digest && rt.prePull.done) return undefined;
    const running = await this.#state!.blob(record.applied);
    const plans: PrePullPlan[] = running
      ? planPrePull(running.objects, blob.objects, blob.namespace ?? 'default')
      : [];
    if (plans.length === 0) return undefined;
    if (rt.prePull?.digest !== rt.digest)
      rt.prePull = { digest: rt.digest, since: Date.now(), namespaces: [], done: false };
    const pull = rt.prePull!;
    const status = await runPrePull(
      this.#opts.cluster,
      rt.bundle,
      plans,
      this.#opts.prePullPauseImage ?? defaultPauseImage,
    );
    pull.namespaces = status.namespaces;
    const done = status.progress.every((p) => p.done);
    const late = Date.now() - pull.since > options.prePull.deadlineSeconds * 1000;
    if (done || late) {
      await removePrePull(this.#opts.cluster, rt.bundle, pull.namespaces);
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
      const removed = await sweepPrePulls(this.#opts.cluster, active);
      if (removed.length > 0) this.#log('removed leftover pre-pull DaemonSets', { removed });
    } catch (e) {
      this.#log('could not look for leftover pre-pull DaemonSets', { error: (e as Error).message });
    }
    this.#sweepPrePulls = false;
  }

  /** Prunes bundles the hub no longer places here, each under the deletion policy it was applied with. */
  async #removeUnplaced(desired: DesiredState): Promise<number> {
    let next = Number.POSITIVE_INFINITY;
    const wanted = new Set(desired.deployments.map((d) => d.bundle));
    for (const [bundle, inv] of this.#inventories) {
      if (wanted.has(bundle)) continue;
      const policy = inv.deletionPolicy ?? 'Delete';
      const pulling = this.#bundles.get(bundle)?.prePull;
      if (pulling && !pulling.done) await removePrePull(this.#opts.cluster, bundle, pulling.namespaces);
      const errors = await prune(this.#opts.cluster, bundle, inv.objects, policy);
      if (errors.length > 0) {
        this.#log('prune failed', { bundle, error: errors[0] });
        next = Math.min(next, 10_000);
        continue;
      }
      await this.#state!.removeInventory(bundle);
      await this.#state!.removeRecord(bundle);
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
      await this.#state!.removeRecord(bundle);
      this.#records.delete(bundle);
    }
    return next;
  }

  /** Keeps the blobs of what is desired, applied or last-known-good; drops the rest. */
  async #pruneBlobs(desired: DesiredState): Promise<void> {
    await this.#withBlobLock(async () => {
      const keep = new Set((this.#desired ?? desired).deployments.map((d) => d.digest));
      for (const r of this.#records.values()) {
        if (r.applied) keep.add(r.applied);
        if (r.lastKnownGood) keep.add(r.lastKnownGood);
        if (r.rolledBack) keep.add(r.rolledBack.to);
      }
      await this.#state!.pruneBlobs(keep);
    });
  }
}
