// The agent at one site: registers once, long-polls its desired state, applies each bundle to the
// site's cluster, watches what it applied for drift and readiness, rolls back a revision that misses its
// deadline, prunes what was unplaced, and reports up through a durable outbox. With the hub out of reach
// it keeps enforcing the last desired state it saved; nothing is removed because the hub went quiet.
// Operators' remote actions and log requests are picked up when the poll says they wait.
// This class is the supervisor: it builds those parts, wires them together and stops them on one signal.

import { decodeJoinToken } from '../model/join-token.ts';
import type { Facts } from '../model/wire.ts';
import { AgentTelemetry, type AgentTelemetryOptions } from './agent-telemetry.ts';
import type { Cluster } from './apply/cluster.ts';
import { DesiredSync } from './desired-sync.ts';
import { HubContact } from './hub-contact.ts';
import { type LocalPage, type LocalStatus, serveLocalPage } from './local-page.ts';
import { Reconciler } from './reconciler.ts';
import { Reporter } from './reporter.ts';
import { SiteIdentity } from './site-identity.ts';
import { SiteOperations } from './site-operations.ts';
import { LocalState } from './state/local-state.ts';
import { Outbox, type OutboxLimits } from './state/outbox.ts';

export type { AgentTelemetryOptions } from './agent-telemetry.ts';

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

/** The parts of a running agent, each with one job; built by run(). */
interface Parts {
  outbox: Outbox;
  contact: HubContact;
  identity: SiteIdentity;
  sync: DesiredSync;
  reconciler: Reconciler;
  reporter: Reporter;
  operations: SiteOperations;
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
    const parts = await this.#build();
    this.#parts = parts;
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
        owned(parts.operations.run(signal)),
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
  async #build(): Promise<Parts> {
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
      onWork: (hub) => operations.claim(hub),
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
    const operations = new SiteOperations({ cluster: opts.cluster, reconciler, log });
    return { outbox, contact, identity, sync, reconciler, reporter, operations, telemetry };
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
