// Agent upgrades on simulated sites: each site checks a release with the agent's own code (signature
// against the key it pinned at join, download checked against the signed digest) and then, instead of
// restarting into it, becomes that version at once, or reports it reverted when the release is one the
// simulation marks as never getting ready. For rollouts of agent versions at fleet scale.

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { UpgradeSite } from '../agent/agent.ts';
import {
  type AgentUpgrade,
  downloadRelease,
  releaseProblem,
  type UpgradeStatus,
} from '../agent/upgrade/agent-upgrade.ts';
import { type AgentRelease, upgradeRevertedMessage } from '../model/agent-release.ts';

export interface SimulatedAgentVersions {
  /** the release every site runs when the simulation starts */
  running: string;
  /** releases that start but never prove themselves: sites go back from them */
  bad?: readonly string[];
}

const idleMs = 300_000;

export class SimulatedUpgrade implements AgentUpgrade {
  readonly #site: UpgradeSite;
  readonly #bad: ReadonlySet<string>;
  #running: string;
  #failed: { digest: string; message: string } | undefined;

  constructor(site: UpgradeSite, versions: SimulatedAgentVersions) {
    this.#site = site;
    this.#running = versions.running;
    this.#bad = new Set(versions.bad ?? []);
  }

  /** The release this site runs now. */
  get running(): string {
    return this.#running;
  }

  async reconcile(release: AgentRelease): Promise<UpgradeStatus> {
    if (release.version === this.#running)
      return { state: 'Ready', message: `agent ${this.#running} running`, nextMs: idleMs };
    if (this.#failed?.digest === release.digest)
      return { state: 'Failed', message: this.#failed.message, nextMs: idleMs };
    const problem = releaseProblem(release, this.#site.pinnedKey());
    if (problem)
      return {
        state: 'Failed',
        message: `agent release ${release.version} refused: ${problem}`,
        nextMs: idleMs,
      };
    const hub = this.#site.hub();
    if (!hub) return { state: 'Applying', message: 'waiting for the site identity', nextMs: 1000 };
    const file = join(this.#site.stateDir, `release-${release.version}.tar.gz`);
    await downloadRelease(hub, release, file, this.#site.signal);
    await rm(file, { force: true });
    if (this.#bad.has(release.version)) {
      const message = upgradeRevertedMessage(
        release.version,
        `not ready within ${release.deadlineSeconds}s`,
        this.#running,
      );
      this.#failed = { digest: release.digest, message };
      this.#site.log?.('simulated agent upgrade reverted', { version: release.version });
      return { state: 'Failed', message, nextMs: idleMs };
    }
    this.#running = release.version;
    return { state: 'Ready', message: `agent ${this.#running} running`, nextMs: idleMs };
  }
}
