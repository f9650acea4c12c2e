// The agent's host-layer work: follows the host layers of the latest desired state (OS first, through its
// hook, then Kubernetes through Plans or a hook, only once the OS is there) beside the bundles, never in
// their way, and keeps what it saw for the report's stack.upgrades and the local page.

import { Wakeup } from '../../base/timing.ts';
import type { LayerUpgrade, StackTarget } from '../../model/site-stack.ts';
import { canonicalJson } from '../../render/digest.ts';
import type { Cluster } from '../apply/cluster.ts';
import { followKey, hostLayerSteps } from './core/host-layer-steps.ts';
import { HostHooks } from './host-hook.ts';
import { KubernetesLayerUpgrade } from './kubernetes-layer.ts';

export interface HostLayerUpgradesOptions {
  cluster: Cluster;
  /** the agent's state directory: the hooks keep their records and checkpoints under it */
  stateDir: string;
  /**
   * the host-layer target of the latest desired state: null when it asks for none, undefined while the
   * agent has no desired state at all (then nothing is known, so nothing is withdrawn either)
   */
  target: () => StackTarget | null | undefined;
  /** the programs this host lets a profile run (OUTPOST_HOST_HOOKS); none on an in-cluster install */
  allowedHooks: ReadonlySet<string>;
  /** how soon an upgrade under way is looked at again */
  pollMs: number;
  /** how soon a layer that is there, or stuck, is looked at again: a node may fall back, a controller catch up */
  recheckMs: number;
  /** what the host layers show changed: time for a report */
  onChange: () => void;
  now?: () => Date;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export class HostLayerUpgrades {
  readonly #opts: HostLayerUpgradesOptions;
  readonly #hooks: HostHooks;
  readonly #kubernetes: KubernetesLayerUpgrade;
  readonly #wakeup = new Wakeup();
  #upgrades: LayerUpgrade[] = [];
  #shown = '[]';
  /** the work under way, and how to cut it when the target changes under it */
  #following: { key: string; stop: AbortController } | undefined;

  constructor(opts: HostLayerUpgradesOptions) {
    this.#opts = opts;
    const { stateDir, cluster, now, log } = opts;
    this.#hooks = new HostHooks({ stateDir, allowed: opts.allowedHooks, now, log });
    this.#kubernetes = new KubernetesLayerUpgrade({ cluster, pollMs: opts.pollMs, now, log });
  }

  /** The host layers as last seen, in upgrade order; empty when the site's profile asks for none. */
  upgrades(): LayerUpgrade[] {
    return this.#upgrades;
  }

  /**
   * The desired state changed. Another target cuts the work that follows the old one (a running hook
   * gets SIGTERM and is run again, for its own version, only if that comes back); the same target goes on.
   */
  wake(): void {
    const following = this.#following;
    if (following && following.key !== followKey(this.#opts.target())) following.stop.abort();
    this.#wakeup.wake();
  }

  /** Moves the host layers until `signal` aborts; trouble with the cluster is logged and tried again. */
  async run(signal: AbortSignal): Promise<void> {
    let withdrawnFor: string | undefined;
    while (!signal.aborted) {
      const target = this.#opts.target();
      const key = followKey(target);
      const stop = new AbortController();
      this.#following = { key, stop };
      const pass = AbortSignal.any([signal, stop.signal]);
      if (target !== undefined && key !== withdrawnFor) {
        await this.#withdrawPlans(target);
        withdrawnFor = key;
      }
      let again = this.#opts.recheckMs;
      try {
        again = await this.#pass(target, pass);
      } catch (e) {
        if (signal.aborted) return;
        // cut by a new target, the failure is the old work's: the next pass follows the new one at once
        if (!pass.aborted)
          this.#opts.log?.('could not move the host layers; trying again', { error: (e as Error).message });
        again = this.#opts.pollMs;
      }
      await this.#wakeup.sleep(again, pass);
    }
  }

  /** One look at each layer in order; the next layer only once this one is Conformant. */
  async #pass(target: StackTarget | null | undefined, signal: AbortSignal): Promise<number> {
    const seen: LayerUpgrade[] = [];
    const deadlineSeconds = target?.upgradeDeadlineSeconds ?? 0;
    for (const step of target ? hostLayerSteps(target) : []) {
      const p =
        step.via === 'plans'
          ? await this.#kubernetes.pass({ ...step.kubernetes, deadlineSeconds }, signal)
          : await this.#hooks.run(
              { layer: step.layer, command: step.command, version: step.version, deadlineSeconds },
              signal,
              (progress) => this.#show([...seen, progress]),
            );
      // cut by a new target: what this pass saw is about the old one
      if (signal.aborted) return 0;
      seen.push(p);
      if (p.state !== 'Conformant') break;
    }
    this.#show(seen);
    return seen.some((u) => u.state === 'Upgrading') ? this.#opts.pollMs : this.#opts.recheckMs;
  }

  /**
   * The Plans of a distribution the target no longer asks for are taken back, so the controller does not
   * go on toward a version nobody wants. A cluster that will not let the agent is logged, not retried:
   * the Plans are then the site's to remove.
   */
  async #withdrawPlans(target: StackTarget | null): Promise<void> {
    for (const distribution of ['k3s', 'rke2'] as const) {
      if (target?.kubernetes?.distribution === distribution) continue;
      try {
        await this.#kubernetes.withdraw(distribution);
      } catch (e) {
        this.#opts.log?.('could not withdraw the upgrade Plans', {
          distribution,
          error: (e as Error).message,
        });
      }
    }
  }

  #show(upgrades: LayerUpgrade[]): void {
    const shown = canonicalJson(upgrades);
    if (shown === this.#shown) return;
    this.#shown = shown;
    this.#upgrades = upgrades;
    this.#opts.onChange();
  }
}
