// Points where a chaos scenario can have the agent process die on purpose (OUTPOST_AGENT_CRASH_AT), so a
// kill lands exactly between two steps instead of racing them. Unset, as everywhere but tests, it does nothing.

/** The named steps: `before-first-write` is after a bundle's dry-run pass and inventory, before any write. */
export type CrashStep = 'before-first-write';

/**
 * SIGKILLs this process (nothing flushed, no handler run) when OUTPOST_AGENT_CRASH_AT is `step:bundle`.
 *
 * @example crashPoint('before-first-write', 'pos') // dies when OUTPOST_AGENT_CRASH_AT=before-first-write:pos
 */
export function crashPoint(step: CrashStep, bundle: string): void {
  if (process.env.OUTPOST_AGENT_CRASH_AT === `${step}:${bundle}`) process.kill(process.pid, 'SIGKILL');
}
