// What the reconciler does with the agent bundle's one object: not apply it to Kubernetes but make the
// agent run that release, and report it Ready only once the new version runs and proved itself. How is
// the install's business (a host's launcher, the agent's own Deployment); checking a release is shared.

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { AgentRelease } from '../../model/agent-release.ts';
import { releaseStatement } from '../../model/agent-release.ts';
import type { ReportedState } from '../../model/deployment.ts';
import { releaseSignatureValid } from '../../pki/release-key.ts';
import type { HubClient } from '../hub-client.ts';

/** How the agent bundle stands on this site, as its deployment reports it. */
export interface UpgradeStatus {
  state: ReportedState;
  message: string;
  /** when to look again, in ms */
  nextMs: number;
  /** the agent must stop now so its supervisor starts the staged release */
  restart?: boolean;
}

/** One way of running another agent release: the reconciler calls it on every pass over the agent bundle. */
export interface AgentUpgrade {
  reconcile(release: AgentRelease): Promise<UpgradeStatus>;
  /** whether to hand the state directory to a waiting agent of this version (in-cluster upgrades) */
  handover?(version: string): boolean;
  /**
   * After a handover: watches the new version until it confirms itself or its deadline passes (then
   * puts the previous version back); 'reverted' means this agent runs the site again.
   */
  supervise?(signal: AbortSignal): Promise<'confirmed' | 'reverted' | 'stopped'>;
}

/**
 * An install that cannot run another release (started by hand, not by the launcher or a Deployment):
 * the site says so instead of pretending.
 */
export function noUpgrade(running: string, why: string): AgentUpgrade {
  return {
    async reconcile(release) {
      if (release.version === running)
        return { state: 'Ready', message: `agent ${running} running`, nextMs: 300_000 };
      return {
        state: 'Failed',
        message: `agent ${running} cannot upgrade itself to ${release.version}: ${why}`,
        nextMs: 300_000,
      };
    },
  };
}

/**
 * Why a release must not run here, or undefined when it may: it has to be signed with the key this site
 * pinned when it joined, over exactly these facts. Nothing is downloaded before this passes.
 */
export function releaseProblem(release: AgentRelease, pinnedKey: string | undefined): string | undefined {
  if (!pinnedKey)
    return 'this site pinned no release key when it joined (its join token had none), so it runs no releases; join it again with a token from a hub started with --release-key';
  try {
    if (!releaseSignatureValid(pinnedKey, releaseStatement(release), release.signature))
      return 'its signature does not verify with the release key this site pinned when it joined';
  } catch (e) {
    return `its signature cannot be checked: ${(e as Error).message}`;
  }
  return undefined;
}

/**
 * Downloads a release into `file`, hashing it on the way; refuses (and deletes) one larger than signed or
 * with another digest, so a tampered store or a broken transfer never reaches the disk as a release.
 */
export async function downloadRelease(
  hub: HubClient,
  release: AgentRelease,
  file: string,
  signal: AbortSignal,
): Promise<void> {
  const hash = createHash('sha256');
  let bytes = 0;
  async function* checked(source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      bytes += chunk.length;
      if (bytes > release.size)
        throw new Error(`the download of ${release.version} is larger than the ${release.size} bytes signed`);
      hash.update(chunk);
      yield chunk;
    }
  }
  try {
    await pipeline(
      checked(await hub.release(release.digest, signal)),
      createWriteStream(file, { mode: 0o600 }),
      {
        signal,
      },
    );
    const digest = `sha256:${hash.digest('hex')}`;
    if (bytes !== release.size || digest !== release.digest)
      throw new Error(
        `the download of ${release.version} does not match what was signed (${bytes} bytes, ${digest})`,
      );
  } catch (e) {
    await rm(file, { force: true });
    throw e;
  }
}
