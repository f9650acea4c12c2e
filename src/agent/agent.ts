// The agent at one site: registers once, long-polls its desired state, applies each bundle to the
// site's cluster, watches what it applied for drift and readiness, rolls back a revision that misses its
// deadline, prunes what was unplaced, and reports up through a durable outbox. With the hub out of reach
// it keeps enforcing the last desired state it saved; nothing is removed because the hub went quiet.
// This class is the supervisor: it builds those parts, wires them together and stops them on one signal.

import { decodeJoinToken } from '../model/join-token.ts';
import type { Facts } from '../model/wire.ts';
import { AgentTelemetry, type AgentTelemetryOptions } from './agent-telemetry.ts';
import type { Cluster } from './apply/cluster.ts';
import { DesiredSync } from './desired-sync.ts';
import type { HubClient } from './hub-client.ts';
import { HubContact } from './hub-contact.ts';
import { type LocalPage, type LocalStatus, type Readiness, serveLocalPage } from './local-page.ts';
import { Reconciler } from './reconciler.ts';
import { Reporter } from './reporter.ts';
import { SiteIdentity } from './site-identity.ts';
import { LocalState } from './state/local-state.ts';
import { Outbox, type OutboxLimits } from './state/outbox.ts';
import type { AgentUpgrade } from './upgrade/agent-upgrade.ts';

export type { AgentTelemetryOptions } from './agent-telemetry.ts';

/** This agent's version: stamped in by the build (scripts/build-app.ts); a run from source says "dev". */
export const agentVersion: string = process.env.OUTPOST_BUILD_VERSION ?? 'dev';

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
  /** how this install runs another agent release (upgrade/); without it the agent runs none */
  upgrade?: (site: UpgradeSite) => Promise<AgentUpgrade> | AgentUpgrade;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** What an upgrade needs from the running agent: who it is and whether this run proved itself. */
export interface UpgradeSite {
  running: string;
  stateDir: string;
  /** the release key pinned at join, once registered */
  pinnedKey: () => string | undefined;
  hub: () => HubClient | undefined;
  ready: () => Readiness;
  /** aborted when the agent stops */
  signal: AbortSignal;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** The exit status that tells the launcher the agent stopped to let it start a staged release. */
export const stagedReleaseExitCode = 75;

/** The parts of a running agent, each with one job; built by run(). */
interface Parts {
  outbox: Outbox;
  contact: HubContact;
  identity: SiteIdentity;
  sync: DesiredSync;
  reconciler: Reconciler;
  reporter: Reporter;
  telemetry: AgentTelemetry | undefined;
}

export class Agent {
  readonly #opts: Required<
    Pick<AgentOptions, 'pollWaitSeconds' | 'readinessResyncMs' | 'heartbeatMs' | 'driftCheckMs'>
  > &
    AgentOptions;
  readonly #startedAt = new Date();
  #parts: Parts | undefined;
  #page: LocalPage | undefined;
  #restarting = false;

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

  /**
   * Runs until `signal` aborts, or until it stops to let its supervisor start a staged release (then
   * exitCode says so); should a loop fail unexpectedly, stops the others and throws.
   */
  async run(outer: AbortSignal): Promise<void> {
    const failed = new AbortController();
    const restart = new AbortController();
    const signal = AbortSignal.any([outer, failed.signal, restart.signal]);
    const parts = await this.#build(signal, () => this.#restart(restart));
    this.#parts = parts;
    const localPage = this.#opts.localPage ?? '127.0.0.1:7071';
    if (localPage !== false) {
      try {
        this.#page = await serveLocalPage(
          localPage,
          () => this.status(),
          () => this.readiness(),
        );
        this.#log('local status page', { url: this.#page.url });
      } catch (e) {
        // The page is for people on site; the agent's work does not depend on it.
        this.#log('local status page unavailable', { address: localPage, error: (e as Error).message });
      }
    }
    const owned = (loop: Promise<void>) =>
      loop.catch((e: unknown) => {
        failed.abort();
        throw e;
      });
    try {
      await Promise.all([
        owned(this.#hubLoop(parts, signal)),
        owned(parts.reconciler.run(signal)),
        owned(parts.reporter.run(signal)),
        parts.telemetry?.run(signal), // never throws: telemetry trouble does not stop the site
      ]);
    } finally {
      await parts.reconciler.stopped();
      await this.#page?.close();
      parts.identity.close();
    }
  }

  /**
   * Opens the state directory and builds the parts on it. They call one another only once running, so
   * a callback may name a part built after it.
   */
  async #build(signal: AbortSignal, restart: () => void): Promise<Parts> {
    const opts = this.#opts;
    const log = opts.log;
    const state = await LocalState.open(opts.stateDir);
    const outbox = await Outbox.open(opts.stateDir, opts.outboxLimits);
    const identity = new SiteIdentity({
      state,
      cluster: opts.cluster,
      agentVersion,
      joinToken: opts.joinToken,
      name: opts.name,
      machineId: opts.machineId,
      labels: opts.labels,
      facts: opts.facts,
      log,
    });
    let telemetry: AgentTelemetry | undefined;
    if (opts.telemetry !== false) {
      try {
        telemetry = await AgentTelemetry.open(opts.telemetry ?? {}, {
          stateDir: opts.stateDir,
          cluster: opts.cluster,
          hub: () => identity.hub,
          agentMetrics: () => ({
            outpost_agent_reports_pending: outbox.stats().pending,
            outpost_agent_reports_dropped_total: outbox.stats().dropped,
            outpost_agent_bundles: reconciler.bundleCount,
          }),
          log,
        });
      } catch (e) {
        // telemetry is for the hub's view of the site; the site's own work does not wait for it
        this.#log('telemetry unavailable', { error: (e as Error).message });
      }
    }
    const contact = await HubContact.open(state, {
      onBack: () => {
        reporter.hubBack();
        telemetry?.hubBack();
      },
      log,
    });
    const sync = await DesiredSync.open({
      state,
      contact,
      pollWaitSeconds: opts.pollWaitSeconds,
      onChange: () => reconciler.wake(),
      log,
    });
    const reconciler = await Reconciler.open({
      cluster: opts.cluster,
      state,
      desired: sync,
      report: () => reporter.enqueue(),
      manifests: telemetry,
      readinessResyncMs: opts.readinessResyncMs,
      heartbeatMs: opts.heartbeatMs,
      driftCheckMs: opts.driftCheckMs,
      watch: opts.watch !== false,
      prePullPauseImage: opts.prePullPauseImage,
      agentUpgrade: await opts.upgrade?.({
        running: agentVersion,
        stateDir: opts.stateDir,
        pinnedKey: () => identity.identity?.releaseKey,
        hub: () => identity.hub,
        ready: () => this.readiness(),
        signal,
        log,
      }),
      restart,
      log,
    });
    const reporter = new Reporter({
      outbox,
      contact,
      source: reconciler,
      heartbeatMs: opts.heartbeatMs,
      onSequenceReset: () => reconciler.wake(),
      log,
    });
    return { outbox, contact, identity, sync, reconciler, reporter, telemetry };
  }

  /**
   * Stops the agent for its supervisor to start a staged release, after giving the report that says so a
   * few seconds to reach the hub (it stays in the outbox for the next version otherwise).
   */
  #restart(restart: AbortController): void {
    if (this.#restarting) return;
    this.#restarting = true;
    this.#log('stopping to start the staged agent release');
    void (this.#parts?.reporter.drain(5000) ?? Promise.resolve()).finally(() => restart.abort());
  }

  /** The exit status the process should end with: set when it stopped for a staged release. */
  get exitCode(): number | undefined {
    return this.#restarting ? stagedReleaseExitCode : undefined;
  }

  /** Identity first (registration, approval), then polling and certificate renewal. */
  async #hubLoop(parts: Parts, signal: AbortSignal): Promise<void> {
    const hub = await parts.identity.establish(signal);
    if (!hub) return;
    parts.reporter.useHub(hub);
    await Promise.all([parts.sync.run(hub, signal), parts.identity.renew(signal)]);
  }

  /** The local page's URL once it listens. */
  get localPageUrl(): string | undefined {
    return this.#page?.url;
  }

  /**
   * Ready once this process loaded its saved state, reached the hub and had a report acknowledged: what
   * Kubernetes' readiness probe and an upgrade's confirmation wait for. A hub outage after that does not
   * make it unready (the site keeps enforcing what it has, which is its job).
   */
  readiness(): Readiness {
    const parts = this.#parts;
    if (!parts) return { ready: false, reason: 'loading the saved state' };
    if (!parts.contact.reachedThisRun)
      return { ready: false, reason: 'has not reached the hub since it started' };
    if (!parts.reporter.ackedThisRun)
      return { ready: false, reason: 'no report acknowledged by the hub since it started' };
    return { ready: true, reason: 'ready' };
  }

  /** A snapshot of what this site runs: for the local page, /status.json and tests. */
  status(): LocalStatus {
    const parts = this.#parts;
    const identity = parts?.identity.identity;
    return {
      site: identity?.name ?? this.#opts.name ?? '',
      hub:
        identity?.hub ??
        (this.#opts.joinToken ? decodeJoinToken(this.#opts.joinToken)?.hub : undefined) ??
        '',
      agentVersion,
      startedAt: this.#startedAt.toISOString(),
      hubContact: parts?.contact.status() ?? { last: null, reachable: false, error: null },
      desiredDigest: parts?.sync.current()?.digest ?? null,
      deployments: parts?.reconciler.deployments() ?? [],
      outbox: parts?.outbox.stats() ?? { pending: 0, bytes: 0, dropped: 0, nextSeq: 1 },
      telemetry: parts?.telemetry?.status(),
    };
  }
}
