// The agent's side of a k3s or RKE2 upgrade: when the nodes run short of the profile's version it applies
// the system-upgrade-controller Plans, then follows the nodes until each reports the target or the deadline passes.

import { sleep } from '../../base/timing.ts';
import type { KubernetesLayer } from '../../model/profile.ts';
import type { LayerUpgrade } from '../../model/site-stack.ts';
import { nodeInfoOf } from '../../model/site-stack.ts';
import type { Cluster } from '../apply/cluster.ts';
import { kubernetesProgress } from './core/layer-progress.ts';
import { planApiVersion, startedAtAnnotation, upgradeNamespace, upgradePlans } from './core/upgrade-plans.ts';

export interface KubernetesLayerOptions {
  cluster: Cluster;
  /** how often the nodes are read again while an upgrade runs */
  pollMs: number;
  now?: () => Date;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface KubernetesTarget extends KubernetesLayer {
  deadlineSeconds: number;
}

const fieldManager = 'outpost-agent';

export class KubernetesLayerUpgrade {
  readonly #opts: KubernetesLayerOptions;

  constructor(opts: KubernetesLayerOptions) {
    this.#opts = opts;
  }

  #now(): Date {
    return this.#opts.now?.() ?? new Date();
  }

  /**
   * One look: the nodes' progress toward the target, the Plans applied first when some node is short
   * of it. The start is kept on the server Plan, so an agent restarted mid-upgrade keeps its deadline.
   * A cluster without system-upgrade-controller's Plan kind is Behind at once: nothing would move.
   */
  async pass(target: KubernetesTarget, signal?: AbortSignal): Promise<LayerUpgrade> {
    const { cluster } = this.#opts;
    const list = await cluster.list({ apiVersion: 'v1', kind: 'Node' }, { signal });
    const nodes = list.items.map((n) => nodeInfoOf(n as Parameters<typeof nodeInfoOf>[0]));
    const serverName = upgradePlans(target, '').server.metadata.name!;
    const planKind = await cluster.resourceOf(planApiVersion, 'Plan');
    const existing = planKind
      ? await cluster.get({
          apiVersion: planApiVersion,
          kind: 'Plan',
          namespace: upgradeNamespace,
          name: serverName,
        })
      : undefined;
    const sameTarget = (existing?.spec as { version?: string } | undefined)?.version === target.version;
    const recorded = sameTarget ? existing?.metadata.annotations?.[startedAtAnnotation] : undefined;
    const startedAt = recorded && !Number.isNaN(Date.parse(recorded)) ? new Date(recorded) : this.#now();
    const progress = kubernetesProgress({
      target: target.version,
      nodes,
      startedAt,
      deadlineSeconds: target.deadlineSeconds,
      now: this.#now(),
    });
    // only an upgrade under way needs the Plans: done, or blocked by a node too far back, it does not
    if (progress.state !== 'Upgrading' || recorded) return progress;
    if (!planKind)
      return {
        ...progress,
        state: 'Behind',
        detail: `system-upgrade-controller is not installed (the cluster serves no ${planApiVersion} Plan), so no node can move to ${progress.target}`,
      };
    const plans = upgradePlans(target, startedAt.toISOString());
    try {
      await cluster.apply(plans.server, { fieldManager, force: true });
      await cluster.apply(plans.agent, { fieldManager, force: true });
    } catch (e) {
      return {
        ...progress,
        state: 'Behind',
        detail: `the upgrade Plans were refused: ${(e as Error).message}`,
      };
    }
    this.#opts.log?.('applied the upgrade Plans', { version: target.version, nodes: progress.behind });
    return progress;
  }

  /**
   * Takes back the Plans this agent applied for `distribution` (the profile no longer asks for that
   * Kubernetes): the controller starts no further node, and nodes already moved stay where they are,
   * since Kubernetes is never moved back. True when there was a Plan to take back.
   */
  async withdraw(distribution: 'k3s' | 'rke2'): Promise<boolean> {
    const { cluster } = this.#opts;
    if (!(await cluster.resourceOf(planApiVersion, 'Plan'))) return false;
    const plans = upgradePlans({ distribution, version: '' }, '');
    let withdrawn = false;
    for (const plan of [plans.agent, plans.server]) {
      const ref = {
        apiVersion: planApiVersion,
        kind: 'Plan',
        namespace: upgradeNamespace,
        name: plan.metadata.name!,
      };
      if (await cluster.delete(ref)) withdrawn = true;
    }
    if (withdrawn) this.#opts.log?.('withdrew the upgrade Plans', { distribution });
    return withdrawn;
  }

  /**
   * Follows the upgrade until it ends, Conformant or Behind, telling `onProgress` each change;
   * the signal stops it between looks (the Plans stay: the controller carries on without the agent).
   */
  async follow(
    target: KubernetesTarget,
    signal: AbortSignal,
    onProgress?: (p: LayerUpgrade) => void,
  ): Promise<LayerUpgrade> {
    let last = '';
    for (;;) {
      const p = await this.pass(target, signal);
      const seen = `${p.state} ${p.behind.join(',')}`;
      if (seen !== last) onProgress?.(p);
      last = seen;
      if (p.state !== 'Upgrading') return p;
      await sleep(this.#opts.pollMs, signal);
      if (signal.aborted) return p;
    }
  }
}
