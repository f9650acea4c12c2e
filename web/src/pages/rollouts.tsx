// Rollouts: each wave with its progress, the health gates with their current values and verdicts, and
// the operator's controls (pause, resume, promote, approve, roll back, abort), shown only to roles that
// may use them — the API checks the role again.

import { useState } from 'preact/hooks';
import type { RolloutAction, RolloutDetail, RolloutView } from '../../../src/model/wire.ts';
import { ago, count, gateValue } from '../../../src/web/format.ts';
import { canOperate, get, post } from '../api.ts';
import { ColumnHeads, Crumbs, Empty, ErrorNote, Link, Show, StateBadge, useData } from '../ui.tsx';
import { finishedPhases } from './overview.tsx';

type Gate = RolloutDetail['gates'][number];

const waveOrder = ['Updated', 'Updating', 'Failed', 'RolledBack', 'Skipped', 'Waiting'];

function Wave({ wave, current }: { wave: RolloutDetail['waves'][number]; current: boolean }) {
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

/** Whether the strategy's gate at `i` compares with a baseline (else there is no baseline to show). */
function compares(d: RolloutDetail, i: number): boolean {
  const spec = (d.strategy.gates ?? []) as Array<{ compareToBaseline?: unknown }>;
  return spec[i]?.compareToBaseline !== undefined;
}

function GateRow({ gate, compared }: { gate: Gate; compared: boolean }) {
  return (
    <tr data-testid={`gate-${gate.gate}`}>
      <th scope="row">{gate.gate}</th>
      <td data-testid="gate-observed">{gateValue(gate.observed)}</td>
      <td>
        {gate.op} {gate.threshold}
      </td>
      <td>{compared ? gateValue(gate.baseline) : <span class="muted">not compared</span>}</td>
      <td data-testid="gate-verdict">
        <StateBadge state={gate.result} />
      </td>
      <td class="muted">{gate.reason}</td>
    </tr>
  );
}

const actions: Array<{
  action: RolloutAction;
  label: string;
  when: (phase: string) => boolean;
  confirm?: string;
  style?: string;
}> = [
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

function Controls({ rollout, done }: { rollout: RolloutDetail; done: () => void }) {
  const [error, setError] = useState<Error | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  if (!canOperate()) return <p class="note">Controlling rollouts needs the operator role.</p>;
  const run = async (a: (typeof actions)[number]) => {
    if (a.confirm && !confirm(a.confirm)) return;
    setBusy(true);
    setError(undefined);
    try {
      await post(`/rollouts/${encodeURIComponent(rollout.id)}/actions`, {
        action: a.action,
        reason: 'from the dashboard',
      });
      done();
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  const available = actions.filter((a) => a.when(rollout.phase));
  return (
    <div>
      <fieldset class="toolbar">
        <legend class="sr-only">Rollout controls</legend>
        {available.length === 0 && <span class="note">No action applies in phase {rollout.phase}.</span>}
        {available.map((a) => (
          <button key={a.action} type="button" class={a.style} disabled={busy} onClick={() => void run(a)}>
            {a.label}
          </button>
        ))}
      </fieldset>
      {rollout.pendingActions.length > 0 && <p class="note">Queued: {rollout.pendingActions.join(', ')}</p>}
      {error && <ErrorNote error={error} />}
    </div>
  );
}

export function RolloutPage({ id }: { id: string }) {
  const detail = useData(() => get<RolloutDetail>(`/rollouts/${encodeURIComponent(id)}`), [id]);
  return (
    <section>
      <Crumbs list="Rollouts" to="/rollouts" name={id} />
      <Show loaded={detail} what="the rollout">
        {(d) => {
          const current = d.waves.findIndex((w) => w.name === d.wave);
          const gates = d.gates;
          return (
            <>
              <h1>
                {d.bundle}: revision {d.fromRevision} → {d.toRevision}
              </h1>
              <p>
                Phase{' '}
                <span data-testid="rollout-phase">
                  <StateBadge state={d.phase} />
                </span>
                {d.reason && <span> — {d.reason}</span>}. Started {ago(d.createdAt, new Date())} by{' '}
                {d.createdBy}.{d.failures > 0 && ` ${d.failures} failed sites.`}
                {d.waitingOffline > 0 && ` ${d.waitingOffline} sites wait until they come back online.`}
              </p>
              <Controls rollout={d} done={detail.reload} />
              <div class="grid two">
                <section class="card" aria-labelledby="waves-h">
                  <h2 id="waves-h">Waves</h2>
                  <ol class="plain waves">
                    {d.waves.map((w, i) => (
                      <Wave key={w.name} wave={w} current={i === current} />
                    ))}
                  </ol>
                </section>
                <section class="card" aria-labelledby="gates-h">
                  <h2 id="gates-h">Gates</h2>
                  {gates.length === 0 ? (
                    <Empty>This rollout has no health gates; waves advance on readiness and bake time.</Empty>
                  ) : (
                    <table data-testid="gates">
                      <ColumnHeads columns={['Gate', 'Now', 'Threshold', 'Baseline', 'Verdict', 'Why']} />
                      <tbody>
                        {gates.map((g, i) => (
                          <GateRow key={g.gate} gate={g} compared={compares(d, i)} />
                        ))}
                      </tbody>
                    </table>
                  )}
                </section>
              </div>
            </>
          );
        }}
      </Show>
    </section>
  );
}

export function RolloutsPage() {
  const list = useData(() => get<{ items: RolloutView[] }>('/rollouts'), []);
  return (
    <section>
      <h1>Rollouts</h1>
      <Show loaded={list} what="rollouts">
        {(r) =>
          r.items.length === 0 ? (
            <Empty>No rollouts yet. A bundle with spec.rollout starts one when it changes.</Empty>
          ) : (
            <table>
              <ColumnHeads columns={['Bundle', 'Revisions', 'Phase', 'Wave', 'Updated']} />
              <tbody>
                {r.items.map((x) => (
                  <tr key={x.id}>
                    <td>
                      <Link to={`/rollouts/${x.id}`}>{x.bundle}</Link>
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
          )
        }
      </Show>
    </section>
  );
}
