// What the site's cluster runs beneath the bundles, read from its Node objects for the report: the
// kubelet, runtime, OS and kernel of each node, and the API server's version. Read at most once per
// period, since reports come often.

import { nodeInfoOf, type SiteStack } from '../model/site-stack.ts';
import type { Cluster } from './apply/cluster.ts';

export interface NodeInventoryOptions {
  cluster: Cluster;
  agentVersion: string;
  /** how long a reading is reused before the nodes are listed again */
  refreshMs: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export class NodeInventory {
  readonly #opts: NodeInventoryOptions;
  #last: SiteStack | undefined;
  #readAt = Number.NEGATIVE_INFINITY;
  #failing = false;

  constructor(opts: NodeInventoryOptions) {
    this.#opts = opts;
  }

  /** The next reading lists the nodes again: they are moving (a host-layer upgrade saw a change). */
  stale(): void {
    this.#readAt = Number.NEGATIVE_INFINITY;
  }

  /**
   * The site's stack as last read, listing the nodes again when the reading is older than the period.
   * A cluster that refuses the list (no RBAC for nodes) leaves the last reading, or none: the hub then
   * judges the host layers Unknown rather than wrong.
   */
  async current(signal?: AbortSignal): Promise<SiteStack | undefined> {
    if (Date.now() - this.#readAt < this.#opts.refreshMs) return this.#last;
    this.#readAt = Date.now();
    try {
      const list = await this.#opts.cluster.list({ apiVersion: 'v1', kind: 'Node' }, { signal });
      const nodes = list.items.map((n) => nodeInfoOf(n as Parameters<typeof nodeInfoOf>[0]));
      nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const kubernetesVersion = await this.#opts.cluster.version?.();
      this.#last = {
        agentVersion: this.#opts.agentVersion,
        ...(kubernetesVersion ? { kubernetesVersion } : {}),
        nodes,
      };
      this.#failing = false;
    } catch (e) {
      if (!this.#failing)
        this.#opts.log?.('could not read the cluster’s nodes', { error: (e as Error).message });
      this.#failing = true;
    }
    return this.#last;
  }
}
