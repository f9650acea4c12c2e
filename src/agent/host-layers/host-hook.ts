// Host hooks: for an OS image, or a Kubernetes distribution no Plan drives, the agent of a host install runs
// the profile's command with the layer and target version and reads its exit (the contract is in README,
// "Host hooks"). What it last did is kept on disk, so a hook cut off by a reboot or a restart runs again.

import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { HookedLayer } from '../../model/profile.ts';
import type { LayerUpgrade } from '../../model/site-stack.ts';
import { readJson, writeAtomic } from '../state/local-state.ts';

/** The hook's way of saying "not done, run me again": a reboot is pending, a download must resume (EX_TEMPFAIL). */
export const hookRunAgainExit = 75;
const progressPrefix = 'progress ';
const stderrTailBytes = 1024;

export interface HostHookOptions {
  /** the agent's state directory: records under hooks/, and each layer's own folder for the hook */
  stateDir: string;
  /**
   * The programs this host lets a profile run, set at the site (OUTPOST_HOST_HOOKS): whoever may write a
   * profile must not thereby be able to run any command as the agent on every host of the fleet.
   */
  allowed: ReadonlySet<string>;
  now?: () => Date;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface HookTarget {
  layer: HookedLayer;
  command: readonly string[];
  version: string;
  deadlineSeconds: number;
}

/** What the agent last knew of a layer's hook, written before it starts one and after it ends. */
interface HookRecord {
  version: string;
  startedAt: string;
  /** running: started and never seen to end (the agent or the host went down): run it again */
  state: 'running' | 'again' | 'done' | 'failed';
  detail: string;
}

interface HookExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  lastProgress: string;
  stderr: string;
  timedOut: boolean;
}

export class HostHooks {
  readonly #opts: HostHookOptions;

  constructor(opts: HostHookOptions) {
    this.#opts = opts;
  }

  #now(): Date {
    return this.#opts.now?.() ?? new Date();
  }

  /**
   * Moves one layer toward its target with the hook: Conformant once the hook has said so for this
   * version, Upgrading while it asks to run again, Behind when it failed or the deadline passed. A failed
   * version is not retried (a host mid-way through an OS change needs a person); a new version is.
   * `onProgress` receives each `progress …` line the hook prints. The signal stops the hook (SIGTERM).
   */
  async run(
    target: HookTarget,
    signal?: AbortSignal,
    onProgress?: (p: LayerUpgrade) => void,
  ): Promise<LayerUpgrade> {
    const recordPath = join(this.#opts.stateDir, 'hooks', `${target.layer}.json`);
    const workDir = join(this.#opts.stateDir, 'hooks', target.layer);
    await mkdir(workDir, { recursive: true });
    const previous = await readJson<HookRecord>(recordPath);
    const same = previous?.version === target.version ? previous : undefined;
    const startedAt = same ? new Date(same.startedAt) : this.#now();
    const result = (state: LayerUpgrade['state'], detail: string): LayerUpgrade => ({
      layer: target.layer,
      target: target.version,
      state,
      behind: state === 'Conformant' ? [] : [target.layer],
      detail,
      startedAt: startedAt.toISOString(),
    });
    const program = target.command[0] ?? '';
    if (!this.#opts.allowed.has(program))
      return result(
        'Behind',
        `the ${target.layer} hook ${program} is not one this host allows (OUTPOST_HOST_HOOKS): nothing was run`,
      );
    if (same?.state === 'done') return result('Conformant', same.detail);
    if (same?.state === 'failed') return result('Behind', same.detail);
    const leftMs = startedAt.getTime() + target.deadlineSeconds * 1000 - this.#now().getTime();
    const record = async (state: HookRecord['state'], detail: string) =>
      writeAtomic(
        recordPath,
        JSON.stringify({ version: target.version, startedAt: startedAt.toISOString(), state, detail }),
      );
    if (leftMs <= 0) {
      const detail = `the ${target.layer} hook did not reach ${target.version} within ${target.deadlineSeconds} s`;
      await record('failed', detail);
      return result('Behind', detail);
    }
    await record('running', `the ${target.layer} hook is running`);
    // a hook may print nothing for a long while: the layer shows as under way from its start
    onProgress?.(result('Upgrading', `the ${target.layer} hook is running`));
    this.#opts.log?.('running a host hook', { layer: target.layer, version: target.version, again: !!same });
    const exit = await this.#spawn(target, workDir, leftMs, signal, (line) =>
      onProgress?.(result('Upgrading', line)),
    );
    // stopped with the agent: the record stays `running`, and the next start runs the hook again
    if (signal?.aborted) return result('Upgrading', `the ${target.layer} hook was stopped with the agent`);
    const said = exit.lastProgress ? `: ${exit.lastProgress}` : '';
    if (exit.code === 0) {
      const detail = `the ${target.layer} hook reached ${target.version}${said}`;
      await record('done', detail);
      return result('Conformant', detail);
    }
    if (exit.timedOut) {
      const detail = `the ${target.layer} hook was stopped at the ${target.deadlineSeconds} s deadline${said}`;
      await record('failed', detail);
      return result('Behind', detail);
    }
    if (exit.code === hookRunAgainExit || exit.signal) {
      // a hook killed from outside did not say it failed; the contract makes running it again safe
      const why = exit.signal ? `was killed (${exit.signal})` : 'asks to be run again';
      const detail = `the ${target.layer} hook ${why}${said}`;
      await record('again', detail);
      return result('Upgrading', detail);
    }
    const detail = `the ${target.layer} hook failed with exit ${exit.code}${exit.stderr ? `: ${exit.stderr}` : said}`;
    await record('failed', detail);
    return result('Behind', detail);
  }

  #spawn(
    target: HookTarget,
    workDir: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    onLine: (progress: string) => void,
  ): Promise<HookExit> {
    const [program, ...args] = target.command;
    return new Promise((resolve) => {
      const child = spawn(program!, [...args, target.layer, target.version], {
        cwd: workDir,
        env: {
          PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
          OUTPOST_HOOK_LAYER: target.layer,
          OUTPOST_HOOK_TARGET: target.version,
          OUTPOST_HOOK_STATE: workDir,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        signal,
        killSignal: 'SIGTERM',
      });
      const out: HookExit = { code: null, signal: null, lastProgress: '', stderr: '', timedOut: false };
      const timer = setTimeout(() => {
        out.timedOut = true;
        child.kill('SIGTERM');
      }, timeoutMs);
      let pending = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines)
          if (line.startsWith(progressPrefix)) {
            out.lastProgress = line.slice(progressPrefix.length).trim().slice(0, 512);
            onLine(out.lastProgress);
          }
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        out.stderr = (out.stderr + chunk).slice(-stderrTailBytes);
      });
      child.on('error', (e) => {
        // the program is missing or not executable: as good as a hook that failed
        if ((e as NodeJS.ErrnoException).code !== 'ABORT_ERR') out.stderr = e.message;
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        out.code = code;
        out.signal = sig;
        out.stderr = out.stderr.trim();
        resolve(out);
      });
    });
  }
}
