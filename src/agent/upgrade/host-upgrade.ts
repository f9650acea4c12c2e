// Agent upgrades of a host install, together with the launcher (deploy/outpost-agent): the running agent
// downloads and checks a release, unpacks it beside the one in use under STATE/releases (A/B), marks it
// for trial and stops; the launcher starts it, and the new agent confirms itself once it is ready. If it
// never does, the launcher goes back, and the old agent reports why (agent_upgrade_reverted).

import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type AgentRelease, upgradeRevertedMessage } from '../../model/agent-release.ts';
import type { HubClient } from '../hub-client.ts';
import type { Readiness } from '../local-page.ts';
import { readJson, writeAtomic } from '../state/local-state.ts';
import { type AgentUpgrade, downloadRelease, releaseProblem, type UpgradeStatus } from './agent-upgrade.ts';

const exec = promisify(execFile);

export interface HostUpgradeOptions {
  stateDir: string;
  /** this agent's version */
  running: string;
  /** the version the launcher is trying (OUTPOST_AGENT_TRIAL), when this run is a trial */
  trial: string | undefined;
  /** the release key pinned at join, once the site has its identity */
  pinnedKey: () => string | undefined;
  hub: () => HubClient | undefined;
  ready: () => Readiness;
  /** aborted when the agent stops: a download in flight stops with it */
  signal: AbortSignal;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** A release that did not prove itself here: not tried again while it stays desired. */
interface FailedUpgrade {
  version: string;
  digest: string;
  message: string;
}

/** A release being fetched and unpacked in the background, so a pass never waits on a download. */
interface Staging {
  digest: string;
  finished: boolean;
  error?: string;
}

const idleMs = 300_000;

export class HostUpgrade implements AgentUpgrade {
  readonly #opts: HostUpgradeOptions;
  readonly #dir: string;
  #failed: FailedUpgrade | undefined;
  #confirmed = false;
  #pruned = false;
  #staging: Staging | undefined;

  private constructor(opts: HostUpgradeOptions, failed: FailedUpgrade | undefined) {
    this.#opts = opts;
    this.#dir = join(opts.stateDir, 'releases');
    this.#failed = failed;
  }

  /**
   * Opens the releases folder and takes in what the launcher left: the reason it went back from a trial,
   * which becomes this site's failed upgrade until another release is desired.
   */
  static async open(opts: HostUpgradeOptions): Promise<HostUpgrade> {
    const dir = join(opts.stateDir, 'releases');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    let failed = await readJson<FailedUpgrade>(join(dir, 'failed.json'));
    const reverted = await readFile(join(dir, 'reverted'), 'utf8').catch(() => undefined);
    if (reverted !== undefined) {
      const line = reverted.trim();
      const space = line.indexOf(' ');
      const version = space > 0 ? line.slice(0, space) : line;
      const reason = space > 0 ? line.slice(space + 1) : 'the launcher went back';
      const staged = await readJson<{ version: string; digest: string }>(join(dir, 'staged.json'));
      failed = {
        version,
        digest: staged?.version === version ? staged.digest : '',
        message: upgradeRevertedMessage(version, reason, opts.running),
      };
      await writeAtomic(join(dir, 'failed.json'), JSON.stringify(failed));
      await rm(join(dir, 'reverted'), { force: true });
      opts.log?.('the launcher went back from an agent upgrade', { version, reason });
    }
    return new HostUpgrade(opts, failed);
  }

  async reconcile(release: AgentRelease): Promise<UpgradeStatus> {
    const { running, trial } = this.#opts;
    if (release.version === running) return this.#runningDesired();
    if (trial === running && !this.#confirmed)
      return {
        state: 'Applying',
        message: `agent ${running} is on trial; ${release.version} waits until it is confirmed`,
        nextMs: 1000,
      };
    if (this.#failed && this.#failed.version === release.version && this.#failed.digest === release.digest)
      return { state: 'Failed', message: this.#failed.message, nextMs: idleMs };
    const problem = releaseProblem(release, this.#opts.pinnedKey());
    if (problem)
      return {
        state: 'Failed',
        message: `agent release ${release.version} refused: ${problem}`,
        nextMs: idleMs,
      };
    const hub = this.#opts.hub();
    if (!hub) return { state: 'Applying', message: 'waiting for the site identity', nextMs: 5000 };

    if (this.#staging?.digest !== release.digest) this.#staging = this.#stage(hub, release);
    const staging = this.#staging;
    if (!staging.finished)
      return { state: 'Applying', message: `fetching agent ${release.version}`, nextMs: 1000 };
    if (staging.error) {
      this.#staging = undefined;
      throw new Error(`agent release ${release.version}: ${staging.error}`);
    }
    await writeAtomic(
      join(this.#dir, 'staged.json'),
      JSON.stringify({ version: release.version, digest: release.digest }),
    );
    await writeAtomic(join(this.#dir, 'trial'), `${release.version} ${release.deadlineSeconds}\n`);
    this.#opts.log?.('agent release staged; restarting into it', { version: release.version });
    return {
      state: 'Applying',
      message: `agent ${release.version} staged; restarting into it (running ${running})`,
      nextMs: idleMs,
      restart: true,
    };
  }

  /** The desired release runs: confirm it when on trial and ready, and keep only two releases (A/B). */
  async #runningDesired(): Promise<UpgradeStatus> {
    const { running, trial } = this.#opts;
    if (trial === running && !this.#confirmed) {
      const readiness = this.#opts.ready();
      if (!readiness.ready)
        return { state: 'Applying', message: `agent ${running} on trial: ${readiness.reason}`, nextMs: 1000 };
      await writeAtomic(join(this.#dir, 'confirmed'), `${running}\n`);
      this.#confirmed = true;
      this.#opts.log?.('agent release confirmed', { version: running });
    }
    if (this.#failed) {
      this.#failed = undefined;
      await rm(join(this.#dir, 'failed.json'), { force: true });
    }
    if (!this.#pruned && (trial !== running || this.#confirmed)) await this.#pruneReleases();
    return { state: 'Ready', message: `agent ${running} running`, nextMs: idleMs };
  }

  #stage(hub: HubClient, release: AgentRelease): Staging {
    const staging: Staging = { digest: release.digest, finished: false };
    void this.#fetchAndUnpack(hub, release)
      .catch((e: Error) => {
        if (!this.#opts.signal.aborted) staging.error = e.message;
      })
      .finally(() => {
        staging.finished = true;
      });
    return staging;
  }

  /** Downloads (checked against the signed digest) and unpacks into STATE/releases/VERSION, atomically. */
  async #fetchAndUnpack(hub: HubClient, release: AgentRelease): Promise<void> {
    const target = join(this.#dir, release.version);
    if (await releaseInPlace(target, release.version)) return;
    const tarball = join(this.#dir, `.download-${release.version}.tar.gz`);
    const unpacking = join(this.#dir, `.unpacking-${release.version}`);
    await rm(unpacking, { recursive: true, force: true });
    this.#opts.log?.('downloading agent release', { version: release.version, bytes: release.size });
    await downloadRelease(hub, release, tarball, this.#opts.signal);
    try {
      await mkdir(unpacking, { recursive: true, mode: 0o700 });
      await exec('tar', ['-xzf', tarball, '-C', unpacking, '--strip-components=1', '--no-same-owner'], {
        signal: this.#opts.signal,
      });
      const says = (await readFile(join(unpacking, 'app', 'VERSION'), 'utf8').catch(() => '')).trim();
      if (says !== release.version)
        throw new Error(`the tarball holds release "${says || 'nothing'}", not ${release.version}`);
      await rm(target, { recursive: true, force: true });
      await rename(unpacking, target);
    } finally {
      await rm(tarball, { force: true });
      await rm(unpacking, { recursive: true, force: true });
    }
  }

  /** Keeps the release in use and the one before (for going back); the rest go. */
  async #pruneReleases(): Promise<void> {
    this.#pruned = true;
    const keep = new Set([this.#opts.running]);
    for (const f of ['current', 'previous']) {
      const v = (await readFile(join(this.#dir, f), 'utf8').catch(() => '')).trim();
      if (v) keep.add(v);
    }
    for (const entry of await readdir(this.#dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || keep.has(entry.name)) continue;
      await rm(join(this.#dir, entry.name), { recursive: true, force: true });
      this.#opts.log?.('removed an old agent release', { version: entry.name });
    }
  }
}

async function releaseInPlace(dir: string, version: string): Promise<boolean> {
  try {
    await stat(join(dir, 'node', 'bin', 'node'));
    return (await readFile(join(dir, 'app', 'VERSION'), 'utf8')).trim() === version;
  } catch {
    return false;
  }
}
