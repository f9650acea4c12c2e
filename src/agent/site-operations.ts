// The operations an operator queued for this site (remote actions, log requests), picked up when the
// hub's poll says some wait, performed one at a time (a follow session beside them) and reported. The
// hub never calls in; the agent never writes a log's content or an operation's details to its own log.

import { backoffDelay, Wakeup } from '../base/timing.ts';
import { utf8Chunks } from '../base/utf8.ts';
import {
  type ActionRequest,
  type LogRequest,
  logLimits,
  type OperationResult,
  type SiteOperation,
} from '../model/operations.ts';
import type { Cluster } from './apply/cluster.ts';
import type { HubClient } from './hub-client.ts';
import type { Reconciler } from './reconciler.ts';
import type { SiteIdentity } from './site-identity.ts';
import { UplinkPace } from './uplink-pace.ts';

/** The annotation `kubectl rollout restart` sets on the pod template; a new value rolls every pod. */
export const restartedAtAnnotation = 'kubectl.kubernetes.io/restartedAt';
const fieldManager = 'outpost-remote-action';
const apiVersionOf = { Deployment: 'apps/v1', StatefulSet: 'apps/v1', DaemonSet: 'apps/v1' } as const;

export interface SiteOperationsOptions {
  cluster: Cluster;
  reconciler: Pick<Reconciler, 'reapply' | 'checkDrift' | 'statesOf' | 'nextPass'>;
  identity: Pick<SiteIdentity, 'rotate'>;
  /**
   * Stops the agent's loops to wipe its state directory and join again (after the outcome is reported);
   * absent when the agent has no join token to join again with
   */
  factoryReset?: () => void;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export class SiteOperations {
  readonly #opts: SiteOperationsOptions;
  readonly #queue: SiteOperation[] = [];
  readonly #wakeup = new Wakeup();
  #hub: HubClient | undefined;
  /** follow sessions under way: they run beside the queue, which a long one must not hold up */
  readonly #following = new Set<Promise<void>>();
  readonly #uplink = new UplinkPace(logLimits.followBytesPerSecond);

  constructor(opts: SiteOperationsOptions) {
    this.#opts = opts;
  }

  /** The hub said operations wait: take them (the poll goes on once they are taken). */
  async claim(hub: HubClient): Promise<void> {
    this.#hub = hub;
    const claimed = await hub.claimOperations();
    if (claimed.length === 0) return;
    this.#queue.push(...claimed);
    this.#wakeup.wake();
  }

  /** Performs what was claimed, one at a time, until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const op = this.#queue.shift();
      if (!op || !this.#hub) {
        await this.#wakeup.sleep(3600_000, signal);
        continue;
      }
      const hub = this.#hub;
      this.#opts.log?.('operation', { id: op.id, kind: op.kind });
      if (op.kind === 'logs' && op.spec.follow === true) {
        const session = this.#follow(hub, op.id, op.spec as FollowSpec, signal);
        this.#following.add(session);
        void session.finally(() => this.#following.delete(session));
        continue;
      }
      let result: OperationResult;
      try {
        result = await this.#perform(hub, op, signal);
      } catch (e) {
        result = { ok: false, message: (e as Error).message };
      }
      if (signal.aborted) break;
      await this.#report(hub, op.id, result, signal);
      if (result.ok && (op.spec as ActionRequest).action === 'factory-reset') {
        this.#opts.factoryReset?.();
        break;
      }
    }
    await Promise.all(this.#following);
  }

  /** The outcome reaches the hub, retried while it is out of reach, or the deadline expires it there. */
  async #report(hub: HubClient, id: string, result: OperationResult, signal: AbortSignal): Promise<void> {
    const message = result.message.slice(0, 4096);
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        await hub.finishOperation(id, { ok: result.ok, message });
        this.#opts.log?.('operation finished', { id, ok: result.ok });
        return;
      } catch (e) {
        const transient = (e as { transient?: boolean }).transient !== false;
        if (!transient) return; // the hub no longer waits for it (expired, cancelled)
        await this.#wakeup.sleep(backoffDelay(attempt, 1000, 30_000), signal);
      }
    }
  }

  async #perform(hub: HubClient, op: SiteOperation, signal: AbortSignal): Promise<OperationResult> {
    if (op.kind === 'logs') return this.#logs(hub, op.id, op.spec as LogRequest & { limitBytes: number });
    const spec = op.spec as ActionRequest;
    const { reconciler } = this.#opts;
    switch (spec.action) {
      case 'restart':
        return this.#restart(spec);
      case 'reapply': {
        const bundles = await reconciler.reapply(spec.bundle);
        if (bundles.length === 0) return { ok: true, message: 'no failed bundle to apply again' };
        await reconciler.nextPass(signal);
        return { ok: true, message: `applied again: ${reconciler.statesOf(bundles)}` };
      }
      case 'drift-check': {
        const bundles = reconciler.checkDrift();
        await reconciler.nextPass(signal);
        return { ok: true, message: `checked ${bundles.length} bundles: ${reconciler.statesOf(bundles)}` };
      }
      case 'rotate-certificate': {
        const renewed = await this.#opts.identity.rotate(signal);
        return { ok: true, message: `certificate serial ${renewed.serial}, expires ${renewed.notAfter}` };
      }
      case 'factory-reset':
        if (!this.#opts.factoryReset) {
          return { ok: false, message: 'this agent has no join token to join again with; nothing was wiped' };
        }
        // reported before the wipe: afterwards this site has no identity to report with
        return { ok: true, message: 'wiping the state directory and joining the hub again' };
      default:
        return { ok: false, message: `this agent does not know the action ${String(spec.action)}` };
    }
  }

  async #restart(spec: ActionRequest): Promise<OperationResult> {
    const target = spec.target!;
    const { cluster } = this.#opts;
    if (!cluster.mergePatch) return { ok: false, message: 'this cluster cannot restart workloads' };
    const at = new Date().toISOString();
    const found = await cluster.mergePatch(
      {
        apiVersion: apiVersionOf[target.kind],
        kind: target.kind,
        namespace: target.namespace,
        name: target.name,
      },
      { spec: { template: { metadata: { annotations: { [restartedAtAnnotation]: at } } } } },
      fieldManager,
    );
    const what = `${target.kind} ${target.namespace}/${target.name}`;
    return found
      ? { ok: true, message: `${what} restarting (restartedAt ${at})` }
      : { ok: false, message: `no ${what}` };
  }

  /**
   * Reads the logs of one pod, or of each pod a selector picks (every line prefixed with its pod), and
   * uploads them in chunks until the byte limit, or until the hub says it wants no more.
   */
  async #logs(
    hub: HubClient,
    id: string,
    req: LogRequest & { limitBytes: number },
  ): Promise<OperationResult> {
    const { cluster } = this.#opts;
    if (!cluster.podLogs) return { ok: false, message: 'this cluster serves no container logs' };
    let pods: string[];
    if (req.pod !== undefined) {
      pods = [req.pod];
    } else {
      const listed = await cluster.list({ apiVersion: 'v1', kind: 'Pod' }, { labelSelector: req.selector });
      pods = listed.items
        .filter((p) => p.metadata.namespace === req.namespace)
        .flatMap((p) => (p.metadata.name ? [p.metadata.name] : []))
        .sort();
      if (pods.length === 0)
        return { ok: false, message: `no pod in ${req.namespace} matches ${req.selector}` };
    }
    const chosen = pods.slice(0, logLimits.maxPods);
    let left = req.limitBytes;
    let seq = 0;
    const errors: string[] = [];
    let read = 0;
    for (const pod of chosen) {
      if (left <= 0) break;
      let text: string;
      try {
        text = await cluster.podLogs(req.namespace, pod, {
          container: req.container,
          sinceSeconds: req.sinceSeconds,
          tailLines: req.tailLines,
          limitBytes: left,
          previous: req.previous,
        });
      } catch (e) {
        errors.push(`${pod}: ${(e as Error).message}`);
        continue;
      }
      read++;
      if (req.selector !== undefined) text = prefixLines(text, `[pod/${pod}] `);
      for (const data of utf8Chunks(text, left, logLimits.chunkBytes)) {
        const ack = await hub.logChunk(id, { seq: ++seq, data });
        left -= Buffer.byteLength(data, 'utf8');
        if (!ack.more) left = 0;
        if (left <= 0) break;
      }
    }
    const skipped = pods.length - chosen.length;
    const notes = [
      ...(skipped > 0 ? [`${skipped} more pods not read (at most ${logLimits.maxPods})`] : []),
      ...(left <= 0 ? [`cut at ${req.limitBytes} bytes`] : []),
      ...errors,
    ];
    if (read === 0) return { ok: false, message: errors.join('; ') };
    const sent = req.limitBytes - Math.max(left, 0);
    return { ok: true, message: [`read ${read} of ${pods.length} pods, ${sent} bytes`, ...notes].join('; ') };
  }

  /**
   * Follows one pod's log and uploads what it writes as it comes, paced to the site's uplink cap, until
   * the session's time or byte limit, the container's end, or the hub says its viewer left (a quiet
   * session asks every few seconds, so it learns that without lines to send).
   */
  async #follow(hub: HubClient, id: string, req: FollowSpec, signal: AbortSignal): Promise<void> {
    const { cluster } = this.#opts;
    if (!cluster.followPodLogs) {
      await this.#report(
        hub,
        id,
        { ok: false, message: 'this cluster cannot follow container logs' },
        signal,
      );
      return;
    }
    const stop = new AbortController();
    const session = AbortSignal.any([signal, stop.signal, AbortSignal.timeout(req.followSeconds * 1000)]);
    let ended = 'the time limit';
    const end = (why: string) => {
      if (!stop.signal.aborted) ended = why;
      stop.abort();
    };
    let seq = 0;
    let left = req.limitBytes;
    let lastSent = Date.now();
    const ask = async (chunk: string) => {
      try {
        const ack = await hub.logChunk(id, { seq: chunk === '' ? seq : ++seq, data: chunk });
        if (!ack.more) end(left <= 0 ? `the ${req.limitBytes}-byte limit` : 'the time limit');
      } catch (e) {
        end(
          (e as { transient?: boolean }).transient === false ? 'the viewer left' : 'the hub was out of reach',
        );
      }
    };
    const probe = setInterval(() => {
      if (Date.now() - lastSent >= logLimits.followProbeMs) void ask('');
    }, logLimits.followProbeMs);
    let failure: string | undefined;
    try {
      const lines = cluster.followPodLogs(
        req.namespace,
        req.pod,
        {
          container: req.container,
          sinceSeconds: req.sinceSeconds,
          tailLines: req.tailLines,
          limitBytes: left,
        },
        session,
      );
      for await (const text of lines) {
        for (const data of utf8Chunks(text, left, logLimits.chunkBytes)) {
          const size = Buffer.byteLength(data, 'utf8');
          await this.#uplink.take(size, session);
          if (session.aborted) break;
          left -= size;
          lastSent = Date.now();
          await ask(data);
          if (left <= 0) end(`the ${req.limitBytes}-byte limit`);
          if (session.aborted) break;
        }
        if (session.aborted) break;
      }
      if (!session.aborted) ended = 'the container log ended';
    } catch (e) {
      if (!session.aborted) failure = (e as Error).message;
    } finally {
      clearInterval(probe);
    }
    if (signal.aborted) return;
    const sent = req.limitBytes - left;
    const result = failure
      ? { ok: false, message: failure }
      : { ok: true, message: `followed ${req.pod}: ${sent} bytes; ended by ${ended}` };
    await this.#report(hub, id, result, signal);
  }
}

type FollowSpec = LogRequest & { pod: string; limitBytes: number; followSeconds: number };

function prefixLines(text: string, prefix: string): string {
  return text.replace(/^(?=.)/gm, prefix);
}
