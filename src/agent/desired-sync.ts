// Keeps the site's desired state in step with the hub: a long-poll that answers when it changes, and the
// content-addressed manifests (blobs) it names, fetched, checked against their digests and cached before
// the new state is saved. The saved state is what the site enforces while the hub is out of reach.

import { Wakeup } from '../base/timing.ts';
import type { DesiredState } from '../model/wire.ts';
import { sha256Digest } from '../render/digest.ts';
import type { HubClient } from './hub-client.ts';
import { HubError } from './hub-client.ts';
import { type HubContact, hubRetryDelay } from './hub-contact.ts';
import type { LocalState } from './state/local-state.ts';

/** The desired state as the reconciler sees it: the latest saved, and the cache of its manifests. */
export interface DesiredSource {
  /** the latest desired state, every blob of it cached; undefined before the first one arrived */
  current(): DesiredState | undefined;
  /** a desired blob is not in the cache: fetch the missing ones again */
  blobMissing(): void;
  /** drops cached blobs except the desired ones and `alsoKeep` (applied, last-known-good) */
  pruneBlobs(alsoKeep: ReadonlySet<string>): Promise<void>;
}

export interface DesiredSyncOptions {
  state: LocalState;
  contact: HubContact;
  /** longest the hub may hold a poll */
  pollWaitSeconds: number;
  /** an unreachable hub is tried again at least this often, so a site is back within one heartbeat */
  heartbeatMs: number;
  /** a new desired state was saved */
  onChange: () => void;
  /** the hub said operations wait for the site: the next poll waits until they are taken */
  onWork?: (hub: HubClient) => Promise<void>;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export class DesiredSync implements DesiredSource {
  readonly #opts: DesiredSyncOptions;
  #desired: DesiredState | undefined;
  #blobsMissing = false;
  /** serializes changes to which blobs are kept (the poll saves, the reconciler prunes) */
  #blobLock: Promise<void> = Promise.resolve();

  private constructor(opts: DesiredSyncOptions, desired: DesiredState | undefined) {
    this.#opts = opts;
    this.#desired = desired;
  }

  /** Starts from the desired state an earlier run saved. */
  static async open(opts: DesiredSyncOptions): Promise<DesiredSync> {
    return new DesiredSync(opts, await opts.state.desired());
  }

  current(): DesiredState | undefined {
    return this.#desired;
  }

  blobMissing(): void {
    this.#blobsMissing = true;
  }

  async pruneBlobs(alsoKeep: ReadonlySet<string>): Promise<void> {
    await this.#withBlobLock(async () => {
      const keep = new Set(alsoKeep);
      for (const d of this.#desired?.deployments ?? []) keep.add(d.digest);
      await this.#opts.state.pruneBlobs(keep);
    });
  }

  /** Polls `hub` until `signal` aborts; an unreachable hub is waited out with backoff. */
  async run(hub: HubClient, signal: AbortSignal): Promise<void> {
    const { state, contact } = this.#opts;
    let failures = 0;
    const pause = new Wakeup();
    while (!signal.aborted) {
      try {
        if (this.#blobsMissing && this.#desired) {
          const desired = this.#desired;
          await this.#withBlobLock(() => this.#fetchBlobs(hub, desired));
        }
        const answer = await hub.desired(this.#desired?.digest, this.#opts.pollWaitSeconds, signal);
        contact.reached();
        failures = 0;
        if (answer.work) await this.#opts.onWork?.(hub);
        const res = answer.desired;
        if (res === 'unchanged') continue;
        await this.#withBlobLock(async () => {
          await this.#fetchBlobs(hub, res);
          await state.saveDesired(res);
          this.#desired = res;
        });
        this.#opts.log?.('desired state changed', { digest: res.digest, bundles: res.deployments.length });
        this.#opts.onChange();
      } catch (e) {
        if (signal.aborted) return;
        contact.failed((e as Error).message);
        const delay = hubRetryDelay(failures++, this.#opts.heartbeatMs);
        this.#opts.log?.('hub unreachable; enforcing the last desired state', {
          error: (e as Error).message,
          delayMs: delay,
        });
        await pause.sleep(delay, signal);
      }
    }
  }

  async #fetchBlobs(hub: HubClient, desired: DesiredState): Promise<void> {
    const state = this.#opts.state;
    for (const d of desired.deployments) {
      if (await state.blob(d.digest)) continue;
      const text = await hub.blob(d.digest);
      if (sha256Digest(text) !== d.digest)
        throw new HubError(`blob ${d.digest} does not match its digest`, 502, 'blob_corrupt');
      await state.saveBlob(d.digest, text);
    }
    this.#blobsMissing = false;
  }

  #withBlobLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#blobLock.then(fn);
    this.#blobLock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}
