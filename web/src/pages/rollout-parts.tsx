// The parts every rollout page is made of, bundle or profile: a wave with its sites by status, and the
// operator's controls, shown only to roles that may use them (the API checks the role again).

import { useState } from 'preact/hooks';
import type { RolloutAction } from '../../../src/model/wire.ts';
import { ago, count } from '../../../src/web/format.ts';
import { canOperate, post } from '../api.ts';
import { ColumnHeads, ErrorNote, Link, StateBadge } from '../ui.tsx';
import { finishedPhases } from './overview.tsx';

const waveOrder = ['Updated', 'Updating', 'Failed', 'RolledBack', 'Skipped', 'Waiting'];

/** One wave of a rollout, bundle or profile: its sites by status and a progress bar of those updated. */
export function Wave({
  wave,
  current,
}: {
  wave: { name: string; sites: number; statuses: Record<string, number> };
  current: boolean;
}) {
  const updated = wave.statuses.Updated ?? 0;
  return (
    <li class={current ? 'wave current' : 'wave'} aria-current={current ? 'step' : undefined}>
      <div class="wave-head">
        <strong>{wave.name}</strong> {current && <span class="muted">(current)</span>}
        <span>
          {count(updated)} / {count(wave.sites)} updated
        </span>
      </div>
      <progress
        max={Math.max(1, wave.sites)}
        value={updated}
        aria-label={`${wave.name}: ${updated} of ${wave.sites} sites updated`}
      />
      <p class="muted">
        {waveOrder
          .filter((s) => wave.statuses[s])
          .map((s) => `${s} ${wave.statuses[s]}`)
          .join(' · ') || 'no sites'}
      </p>
    </li>
  );
}

export interface ControlAction {
  action: RolloutAction;
  label: string;
  when: (phase: string) => boolean;
  confirm?: string;
  style?: string;
}

/** Every action on a bundle rollout, each offered in the phases it applies to. */
export const rolloutControls: ControlAction[] = [
  { action: 'pause', label: 'Pause', when: (p) => ['Progressing', 'Baking', 'AwaitingApproval'].includes(p) },
  { action: 'resume', label: 'Resume', when: (p) => p === 'Paused' },
  { action: 'approve', label: 'Approve next wave', when: (p) => p === 'AwaitingApproval' },
  {
    action: 'promote',
    label: 'Promote',
    when: (p) => ['Progressing', 'Baking', 'AwaitingApproval', 'Paused'].includes(p),
  },
  {
    action: 'retryFailed',
    label: 'Retry failed sites',
    when: (p) => !finishedPhases.includes(p) || p === 'Failed',
  },
  {
    action: 'rollback',
    label: 'Roll back',
    when: (p) => !['Aborted', 'Superseded', 'RollingBack'].includes(p),
    confirm: 'Roll back: every site that got the new revision goes back to the old one. Continue?',
    style: 'danger',
  },
  {
    action: 'abort',
    label: 'Abort',
    when: (p) => !finishedPhases.includes(p),
    confirm: 'Abort: the rollout stops and every site keeps the revision it has. Continue?',
    style: 'danger',
  },
];

/**
 * The operator's buttons for a rollout in `phase`, posting to `path` (its actions endpoint); shown only
 * to roles that may use them.
 */
export function Controls({
  path,
  phase,
  pending,
  offered,
  done,
}: {
  path: string;
  phase: string;
  pending: string[];
  offered: ControlAction[];
  done: () => void;
}) {
  const [error, setError] = useState<Error | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  if (!canOperate()) return <p class="note">Controlling rollouts needs the operator role.</p>;
  const run = async (a: ControlAction) => {
    if (a.confirm && !confirm(a.confirm)) return;
    setBusy(true);
    setError(undefined);
    try {
      await post(path, { action: a.action, reason: 'from the dashboard' });
      done();
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  const available = offered.filter((a) => a.when(phase));
  return (
    <div>
      <fieldset class="toolbar">
        <legend class="sr-only">Rollout controls</legend>
        {available.length === 0 && <span class="note">No action applies in phase {phase}.</span>}
        {available.map((a) => (
          <button key={a.action} type="button" class={a.style} disabled={busy} onClick={() => void run(a)}>
            {a.label}
          </button>
        ))}
      </fieldset>
      {pending.length > 0 && <p class="note">Queued: {pending.join(', ')}</p>}
      {error && <ErrorNote error={error} />}
    </div>
  );
}

/** A rollout as the lists show it, bundle or profile: what it moves, where it points, and its progress. */
export interface RolloutRow {
  id: string;
  /** the bundle or profile it moves */
  name: string;
  /** its page */
  to: string;
  fromRevision: number;
  toRevision: number;
  phase: string;
  wave: string;
  updatedAt: string;
}

/** The table of rollouts, newest first; `kind` heads the first column (Bundle, Profile). */
export function RolloutTable({ kind, rows, testId }: { kind: string; rows: RolloutRow[]; testId?: string }) {
  return (
    <table data-testid={testId}>
      <ColumnHeads columns={[kind, 'Revisions', 'Phase', 'Wave', 'Updated']} />
      <tbody>
        {rows.map((x) => (
          <tr key={x.id}>
            <td>
              <Link to={x.to}>{x.name}</Link>
            </td>
            <td>
              {x.fromRevision} → {x.toRevision}
            </td>
            <td>
              <StateBadge state={x.phase} />
            </td>
            <td>{x.wave}</td>
            <td>{ago(x.updatedAt, new Date())}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
