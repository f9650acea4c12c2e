// The agent at one site: registers once, long-polls its desired state, applies each bundle to the
// site's cluster, watches what it applied for drift and readiness, rolls back a revision that misses its
// deadline, prunes what was unplaced, and reports up through a durable outbox. With the hub out of reach
// it keeps enforcing the last desired state it saved; nothing is removed because the hub went quiet.
// Operators' remote actions, log requests and tunnels are picked up when the poll says they wait.
// This class is the supervisor: it builds those parts, wires them together and stops them on one signal.

import { sleep } from '../base/timing.ts';
import { decodeJoinToken } from '../model/join-token.ts';
import type { Facts } from '../model/wire.ts';
import { AgentTelemetry, type AgentTelemetryOptions } from './agent-telemetry.ts';
import type { Cluster } from './apply/cluster.ts';
import { DesiredSync } from './desired-sync.ts';
import { HostLayerUpgrades } from './host-layers/host-layer-upgrades.ts';
import type { HubClient } from './hub-client.ts';
import { HubContact } from './hub-contact.ts';
import type { KubeConnection } from './kube/config.ts';
import { type LocalPage, type LocalStatus, type Readiness, serveLocalPage } from './local-page.ts';
import { localPageTokenFile } from './local-page-access.ts';
import { NodeInventory } from './node-inventory.ts';
import { Reconciler } from './reconciler.ts';
import { Reporter } from './reporter.ts';
import { siteSealingKey } from './secrets/sealing-key.ts';
import { SiteIdentity } from './site-identity.ts';
import { SiteOperations } from './site-operations.ts';
import { LocalState, machineIdFile, wipeLocalState } from './state/local-state.ts';
import { Outbox, type OutboxLimits } from './state/outbox.ts';
import { StateLock, stateLockDir } from './state/state-lock.ts';
import { SiteTunnel } from './tunnel.ts';
import type { AgentUpgrade } from './upgrade/agent-upgrade.ts';

export type { AgentTelemetryOptions } from './agent-telemetry.ts';

/** This agent's version: stamped in by the build (scripts/build-app.ts); a run from source says "dev". */
export const agentVersion: string = process.env.OUTPOST_BUILD_VERSION ?? 'dev';

export interface AgentOptions {
  /** from `outpost token create`: hub URL, hub CA fingerprint and bootstrap token; needed until registered */
  joinToken?: string;
  /** regional relay URLs to call first (default: those the join token lists); the hub when none answers */
  relays?: string[];
  /** how long the site stays on a fallback (another relay, the hub) before it tries its first relay again */
  relayRetryMs?: number;
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
  /**
   * the site's Kubernetes API as operators' troubleshooting tunnels reach it (with the agent's own
   * credentials); without it the site refuses every tunnel
   */
  tunnel?: KubeConnection;
  /**
   * the programs a profile's host hooks may run on this host (OUTPOST_HOST_HOOKS); none by default, and
   * none on an in-cluster install, whose pod cannot reach the host
   */
  hostHooks?: readonly string[];
  /** how often a host-layer upgrade under way is looked at again (default 10 s) */
  hostLayerPollMs?: number;
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

/** Where a run of the agent stands with its state directory. */
type Phase = { kind: 'standby' } | { kind: 'running' } | { kind: 'handedOver'; to: string };

/** How often the state directory's lease is renewed (and a handover request looked for). */
const lockRenewMs = 3000;

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
  operations: SiteOperations;
  tunnel: SiteTunnel;
  hostLayers: HostLayerUpgrades;
  telemetry: AgentTelemetry | undefined;
  upgrade: AgentUpgrade | undefined;
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
  #phase: Phase = { kind: 'standby' };

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
   * exitCode says so); a factory reset wipes the state directory and runs again from the join; should a loop fail unexpectedly, stops the others and throws. It first takes the
   * state directory's lock, waiting while another agent (the one an upgrade replaces) holds it; it hands
   * the directory over only to the version it upgrades to, and runs again if that one is reverted.
   */
  async run(outer: AbortSignal): Promise<void> {
    const lock = new StateLock({ stateDir: this.#opts.stateDir, version: agentVersion });
    await this.#servePage();
    try {
      for (;;) {
        this.#phase = { kind: 'standby' };
        if (!(await this.#acquire(lock, outer))) return;
        this.#phase = { kind: 'running' };
        const handover = await this.#runOnce(outer, lock);
        if (handover === 'factory-reset') {
          await wipeLocalState(this.#opts.stateDir, [machineIdFile, stateLockDir, localPageTokenFile]);
          this.#log('factory reset: state directory wiped; joining the hub again');
          // taken again at the top, as a fresh start takes it
          await lock.release();
          continue;
        }
        if (!handover) return;
        await lock.release();
        this.#phase = { kind: 'handedOver', to: handover.version };
        const outcome = await handover.upgrade.supervise?.(outer);
        if (outcome !== 'reverted') {
          // the new version runs the site now; this process stays until its pod is retired
          while (!outer.aborted) await sleep(3600_000, outer);
          return;
        }
      }
    } finally {
      await lock.release();
      await this.#page?.close();
    }
  }

  async #servePage(): Promise<void> {
    const localPage = this.#opts.localPage ?? '127.0.0.1:7071';
    if (localPage === false) return;
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

  /** Takes the state directory, asking its holder to hand over meanwhile; false when aborted first. */
  async #acquire(lock: StateLock, outer: AbortSignal): Promise<boolean> {
    if (await lock.tryAcquire()) return true;
    this.#log('another agent holds the state directory; waiting for it to hand over', {
      stateDir: this.#opts.stateDir,
    });
    while (!outer.aborted) {
      await lock.request();
      await sleep(1000, outer);
      if (!outer.aborted && (await lock.tryAcquire())) return true;
    }
    return false;
  }

  /**
   * One run of the agent's loops on the state directory it holds: until `outer` aborts, a staged
   * release needs a restart, or a newer version asks for the directory and the upgrade hands it over
   * (returned, so run() can watch the new version prove itself).
   */
  async #runOnce(
    outer: AbortSignal,
    lock: StateLock,
  ): Promise<{ version: string; upgrade: AgentUpgrade } | 'factory-reset' | undefined> {
    const failed = new AbortController();
    const stop = new AbortController();
    const signal = AbortSignal.any([outer, failed.signal, stop.signal]);
    let reset = false;
    const factoryReset = () => {
      reset = true;
      stop.abort();
    };
    const parts = await this.#build(signal, () => this.#restart(stop), factoryReset);
    this.#parts = parts;
    let handover: { version: string; upgrade: AgentUpgrade } | undefined;
    const keepLock = async () => {
      while (!signal.aborted) {
        await sleep(lockRenewMs, signal);
        if (signal.aborted) return;
        await lock.renew();
        const request = await lock.pendingRequest();
        if (request && parts.upgrade?.handover?.(request.version)) {
          this.#log('handing the state directory over to the new agent', { version: request.version });
          handover = { version: request.version, upgrade: parts.upgrade };
          stop.abort();
        }
      }
    };
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
        owned(parts.hostLayers.run(signal)),
        owned(keepLock()),
        parts.telemetry?.run(signal), // never throws: telemetry trouble does not stop the site
      ]);
    } finally {
      await parts.reconciler.stopped();
      await parts.identity.sealingKeyAnnounced();
      parts.identity.close();
      parts.tunnel.close();
    }
    if (outer.aborted) return undefined;
    return reset ? 'factory-reset' : handover;
  }

  /**
   * Opens the state directory and builds the parts on it. They call one another only once running, so
   * a callback may name a part built after it.
   */
  async #build(signal: AbortSignal, restart: () => void, factoryReset: () => void): Promise<Parts> {
    const opts = this.#opts;
    const log = opts.log;
    const state = await LocalState.open(opts.stateDir);
    const outbox = await Outbox.open(opts.stateDir, opts.outboxLimits);
    const sealingKey = await siteSealingKey(opts.stateDir);
    const identity = new SiteIdentity({
      state,
      cluster: opts.cluster,
      agentVersion,
      joinToken: opts.joinToken,
      relays: opts.relays,
      relayRetryMs: opts.relayRetryMs,
      name: opts.name,
      machineId: opts.machineId,
      labels: opts.labels,
      facts: opts.facts,
      sealingKey: sealingKey.publicKey,
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
      heartbeatMs: opts.heartbeatMs,
      onChange: () => {
        reconciler.wake();
        hostLayers.wake();
      },
      onWork: async (hub) => {
        await Promise.all([operations.claim(hub), tunnel.answer(hub)]);
      },
      log,
    });
    const upgrade = await opts.upgrade?.({
      running: agentVersion,
      stateDir: opts.stateDir,
      pinnedKey: () => identity.identity?.releaseKey,
      hub: () => identity.hub,
      ready: () => this.readiness(),
      signal,
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
      sealingKey,
      agentUpgrade: upgrade,
      restart,
      log,
    });
    const nodes = new NodeInventory({
      cluster: opts.cluster,
      agentVersion,
      refreshMs: opts.heartbeatMs,
      log,
    });
    // beside the reconciler, never before it: a site mid-upgrade keeps its bundles enforced
    const hostLayers = new HostLayerUpgrades({
      cluster: opts.cluster,
      stateDir: opts.stateDir,
      target: () => {
        const desired = sync.current();
        return desired && (desired.stack ?? null);
      },
      allowedHooks: new Set(opts.hostHooks ?? []),
      pollMs: opts.hostLayerPollMs ?? 10_000,
      recheckMs: opts.heartbeatMs,
      // the reconciler's pass ends with a report, and it is the one caller of the reporter
      onChange: () => {
        nodes.stale();
        reconciler.wake();
      },
      log,
    });
    const reporter = new Reporter({
      outbox,
      contact,
      source: reconciler,
      stack: async () => {
        const stack = await nodes.current(signal);
        const upgrades = hostLayers.upgrades();
        return stack && upgrades.length > 0 ? { ...stack, upgrades } : stack;
      },
      heartbeatMs: opts.heartbeatMs,
      onSequenceReset: () => reconciler.wake(),
      log,
    });
    const operations = new SiteOperations({
      cluster: opts.cluster,
      reconciler,
      identity,
      ...(opts.joinToken ? { factoryReset } : {}),
      log,
    });
    const tunnel = new SiteTunnel({ kube: opts.tunnel, log });
    return {
      outbox,
      contact,
      identity,
      sync,
      reconciler,
      reporter,
      operations,
      tunnel,
      hostLayers,
      telemetry,
      upgrade,
    };
  }

  /**
   * Stops the agent for its supervisor to start a staged release, after giving the report that says so a
   * few seconds to reach the hub (it stays in the outbox for the next version otherwise).
   */
  #restart(stop: AbortController): void {
    if (this.#restarting) return;
    this.#restarting = true;
    this.#log('stopping to start the staged agent release');
    void (this.#parts?.reporter.drain(5000) ?? Promise.resolve()).finally(() => stop.abort());
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
    const phase = this.#phase;
    if (phase.kind === 'standby')
      return {
        ready: false,
        reason: 'waiting for the agent this one replaces to hand over the state directory',
      };
    if (phase.kind === 'handedOver')
      return { ready: true, reason: `handed over to agent ${phase.to}; watching it prove itself` };
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
      via: parts?.identity.hub?.serving,
      agentVersion,
      startedAt: this.#startedAt.toISOString(),
      hubContact: parts?.contact.status() ?? { last: null, reachable: false, error: null },
      desiredDigest: parts?.sync.current()?.digest ?? null,
      deployments: parts?.reconciler.deployments() ?? [],
      outbox: parts?.outbox.stats() ?? { pending: 0, bytes: 0, dropped: 0, nextSeq: 1 },
      telemetry: parts?.telemetry?.status(),
      upgrades: parts?.hostLayers.upgrades() ?? [],
    };
  }
}
