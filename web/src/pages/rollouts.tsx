// Rollouts: bundle rollouts and profile rollouts listed; for a bundle's, each wave with its progress,
// the health gates with their current values and verdicts, and the operator's controls (pause, resume,
// promote, approve, roll back, abort), shown only to roles that may use them — the API checks the role again.

import type { RolloutDetail, RolloutView } from '../../../src/model/wire.ts';
import { ago, gateValue } from '../../../src/web/format.ts';
import { get } from '../api.ts';
import { ColumnHeads, Crumbs, Empty, Show, StateBadge, useData } from '../ui.tsx';
import { ProfileRollouts } from './profile-rollouts.tsx';
import { Controls, RolloutTable, rolloutControls, Wave } from './rollout-parts.tsx';

type Gate = RolloutDetail['gates'][number];

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
              <Controls
                path={`/rollouts/${encodeURIComponent(d.id)}/actions`}
                phase={d.phase}
                pending={d.pendingActions}
                offered={rolloutControls}
                done={detail.reload}
              />
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
            <RolloutTable
              kind="Bundle"
              rows={r.items.map((x) => ({ ...x, name: x.bundle, to: `/rollouts/${x.id}` }))}
            />
          )
        }
      </Show>
      <h2>Profile rollouts</h2>
      <ProfileRollouts />
    </section>
  );
}
