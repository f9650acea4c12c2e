// Agent upgrades of an in-cluster install: the agent changes its own Deployment's image, and Kubernetes'
// rolling update is the A/B: the new pod starts beside the old one on the same state volume (maxSurge 1,
// maxUnavailable 0) and waits for the state lock. The old agent hands over only to the version it
// upgrades to, then watches: once the new one confirms itself (ready: state loaded, hub reached, report
// acknowledged) Kubernetes retires the old pod; if it does not within the deadline, the old agent puts
// its own image back, which removes the new pod, takes the lock again and reports the revert.

import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep } from '../../base/timing.ts';
import { type AgentRelease, upgradeRevertedMessage } from '../../model/agent-release.ts';
import type { KubeObject, ObjectRef } from '../../model/manifest.ts';
import type { Cluster } from '../apply/cluster.ts';
import type { Readiness } from '../local-page.ts';
import { readJson, writeAtomic } from '../state/local-state.ts';
import { type AgentUpgrade, releaseProblem, type UpgradeStatus } from './agent-upgrade.ts';

export interface ClusterUpgradeOptions {
  cluster: Cluster;
  /** the agent's own Deployment: OUTPOST_POD_NAMESPACE / OUTPOST_AGENT_WORKLOAD */
  namespace: string;
  workload: string;
  stateDir: string;
  running: string;
  pinnedKey: () => string | undefined;
  ready: () => Readiness;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

/** An upgrade under way, kept in the state directory both pods share. */
interface UpgradeRecord {
  version: string;
  digest: string;
  image: string;
  /** the image to put back if the new version does not prove itself */
  previousImage: string;
  deadlineSeconds: number;
  /** when the new image was set (ISO): a new pod that never asks for the state directory is given up on */
  imageSetAt: string;
  /** when the old agent handed the state directory over (ISO); the deadline counts again from it */
  handedOverAt?: string;
}

interface FailedUpgrade {
  version: string;
  digest: string;
  message: string;
}

/** The agent's container in its Deployment (cluster-manifest.ts names it so). */
const container = 'agent';
const fieldManager = 'outpost-agent-upgrade';
const idleMs = 300_000;

export class ClusterUpgrade implements AgentUpgrade {
  readonly #opts: ClusterUpgradeOptions;
  readonly #dir: string;
  #record: UpgradeRecord | undefined;
  #failed: FailedUpgrade | undefined;

  private constructor(opts: ClusterUpgradeOptions, record?: UpgradeRecord, failed?: FailedUpgrade) {
    this.#opts = opts;
    this.#dir = join(opts.stateDir, 'releases');
    this.#record = record;
    this.#failed = failed;
  }

  static async open(opts: ClusterUpgradeOptions): Promise<ClusterUpgrade> {
    const dir = join(opts.stateDir, 'releases');
    return new ClusterUpgrade(
      opts,
      await readJson<UpgradeRecord>(join(dir, 'upgrade.json')),
      await readJson<FailedUpgrade>(join(dir, 'failed.json')),
    );
  }

  get #ref(): ObjectRef {
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: this.#opts.namespace,
      name: this.#opts.workload,
    };
  }

  async reconcile(release: AgentRelease): Promise<UpgradeStatus> {
    const { running } = this.#opts;
    if (release.version === running) return this.#runningDesired();
    if (this.#failed && this.#failed.version === release.version && this.#failed.digest === release.digest)
      return { state: 'Failed', message: this.#failed.message, nextMs: idleMs };
    const problem =
      releaseProblem(release, this.#opts.pinnedKey()) ??
      (release.image
        ? undefined
        : 'it names no image, which an in-cluster site runs (agent release push --image)');
    if (problem)
      return {
        state: 'Failed',
        message: `agent release ${release.version} refused: ${problem}`,
        nextMs: idleMs,
      };
    const image = release.image!;
    const current = imageOf(await this.#opts.cluster.get(this.#ref));
    if (current === undefined)
      throw new Error(
        `cannot find container "${container}" of Deployment ${this.#opts.namespace}/${this.#opts.workload}`,
      );
    if (this.#record?.digest !== release.digest || current !== image) {
      this.#record = {
        version: release.version,
        digest: release.digest,
        image,
        previousImage: this.#record?.digest === release.digest ? this.#record.previousImage : current,
        deadlineSeconds: release.deadlineSeconds,
        imageSetAt: new Date().toISOString(),
      };
      await writeAtomic(join(this.#dir, 'upgrade.json'), JSON.stringify(this.#record));
      await this.#setImage(image);
      this.#opts.log?.('agent upgrade: new image set on the agent Deployment', {
        version: release.version,
        image,
      });
    }
    const left = Date.parse(this.#record.imageSetAt) + release.deadlineSeconds * 1000 - Date.now();
    if (left < 0) {
      const message = await this.#revert(this.#record, 'its pod never asked to take over');
      return { state: 'Failed', message, nextMs: idleMs };
    }
    return {
      state: 'Applying',
      message: `agent ${release.version} starting beside ${running}; it takes over once it asks`,
      nextMs: Math.min(5000, left + 1),
    };
  }

  async #runningDesired(): Promise<UpgradeStatus> {
    const { running } = this.#opts;
    if (this.#record?.version === running) {
      const readiness = this.#opts.ready();
      if (!readiness.ready)
        return {
          state: 'Applying',
          message: `agent ${running} taking over: ${readiness.reason}`,
          nextMs: 1000,
        };
      await writeAtomic(join(this.#dir, 'confirmed'), `${running}\n`);
      await rm(join(this.#dir, 'upgrade.json'), { force: true });
      this.#record = undefined;
      this.#opts.log?.('agent upgrade confirmed', { version: running });
    }
    if (this.#failed) {
      this.#failed = undefined;
      await rm(join(this.#dir, 'failed.json'), { force: true });
    }
    return { state: 'Ready', message: `agent ${running} running`, nextMs: idleMs };
  }

  /** Hands the state directory over only to the version this agent is upgrading to. */
  handover(version: string): boolean {
    return this.#record !== undefined && this.#record.version === version && version !== this.#opts.running;
  }

  /**
   * After handing over: waits for the new version to confirm itself, or at the deadline puts the old
   * image back (Kubernetes then removes the new pod) and records why. Resolves 'reverted' when this
   * agent must run again.
   */
  async supervise(signal: AbortSignal): Promise<'confirmed' | 'reverted' | 'stopped'> {
    const record = this.#record;
    if (!record) return 'reverted';
    record.handedOverAt ??= new Date().toISOString();
    await writeAtomic(join(this.#dir, 'upgrade.json'), JSON.stringify(record));
    const deadline = Date.parse(record.handedOverAt) + record.deadlineSeconds * 1000;
    while (!signal.aborted) {
      const confirmed = (await readFile(join(this.#dir, 'confirmed'), 'utf8').catch(() => '')).trim();
      if (confirmed === record.version) {
        this.#opts.log?.('the new agent confirmed itself; this one stays until Kubernetes retires it', {
          version: record.version,
        });
        return 'confirmed';
      }
      if (Date.now() > deadline) {
        await this.#revert(record, `not ready within ${record.deadlineSeconds}s`);
        return 'reverted';
      }
      await sleep(1000, signal);
    }
    return 'stopped';
  }

  /** Puts the previous image back (Kubernetes removes the new pod) and records why, for the report. */
  async #revert(record: UpgradeRecord, reason: string): Promise<string> {
    await this.#setImage(record.previousImage);
    const message = upgradeRevertedMessage(record.version, reason, this.#opts.running);
    this.#failed = { version: record.version, digest: record.digest, message };
    await writeAtomic(join(this.#dir, 'failed.json'), JSON.stringify(this.#failed));
    await rm(join(this.#dir, 'upgrade.json'), { force: true });
    this.#record = undefined;
    this.#opts.log?.('agent upgrade reverted: the previous image is back', {
      version: record.version,
      image: record.previousImage,
      reason,
    });
    return message;
  }

  async #setImage(image: string): Promise<void> {
    const patch: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: this.#opts.workload, namespace: this.#opts.namespace },
      spec: { template: { spec: { containers: [{ name: container, image }] } } },
    };
    await this.#opts.cluster.apply(patch, { fieldManager, force: true });
  }
}

function imageOf(deployment: KubeObject | undefined): string | undefined {
  const spec = deployment?.spec as {
    template?: { spec?: { containers?: Array<{ name: string; image?: string }> } };
  };
  return spec?.template?.spec?.containers?.find((c) => c.name === container)?.image;
}
