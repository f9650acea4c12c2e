// Overview: the fleet at a glance — sites by lifecycle and connectivity, deployments by state, rollouts
// in progress, SLO burn, and the sites that most need attention. Every number is the API's, live.

import { deploymentStates } from '../../../src/model/deployment.ts';
import { connectivities, lifecycles } from '../../../src/model/site.ts';
import type { AttentionItem, FleetStatus, RolloutView } from '../../../src/model/wire.ts';
import { ago, burn, count, percent } from '../../../src/web/format.ts';
import { get } from '../api.ts';
import { recentEvents } from '../live.ts';
import { listSlos } from '../slo-api.ts';
import { ColumnHeads, Empty, Link, Show, SiteLink, StateBadge, useData } from '../ui.tsx';

export const finishedPhases = ['Succeeded', 'Failed', 'Aborted', 'Superseded'];

function Counts({
  title,
  id,
  keys,
  values,
}: {
  title: string;
  id: string;
  keys: readonly string[];
  values: Record<string, number>;
}) {
  return (
    <section class="card" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>{title}</h2>
      <dl class="counts">
        {keys.map((k) => (
          <div key={k}>
            <dt>
              <StateBadge state={k} />
            </dt>
            <dd data-testid={`${id}-${k}`}>{count(values[k] ?? 0)}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

export function OverviewPage() {
  const status = useData(() => get<FleetStatus>('/status'), []);
  const attention = useData(() => get<{ items: AttentionItem[] }>('/attention?limit=10'), []);
  const rollouts = useData(() => get<{ items: RolloutView[] }>('/rollouts'), []);
  const slos = useData(() => listSlos(), []);
  const now = new Date();
  return (
    <section>
      <h1>Overview</h1>
      <Show loaded={status} what="fleet status">
        {(s) => (
          <div class="grid">
            <section class="card" aria-labelledby="total-h">
              <h2 id="total-h">Sites</h2>
              <p class="big" data-testid="sites-total">
                {count(s.sites.total)}
              </p>
              <dl class="counts">
                {lifecycles.map((k) => (
                  <div key={k}>
                    <dt>{k}</dt>
                    <dd data-testid={`lifecycle-${k}`}>{count(s.sites.byLifecycle[k] ?? 0)}</dd>
                  </div>
                ))}
              </dl>
            </section>
            <Counts
              title="Connectivity (active sites)"
              id="connectivity"
              keys={connectivities}
              values={s.sites.byConnectivity}
            />
            <Counts
              title={`Deployments (${count(s.deployments.total)})`}
              id="deployments"
              keys={deploymentStates}
              values={s.deployments.byState}
            />
          </div>
        )}
      </Show>
      <div class="grid two">
        <section class="card" aria-labelledby="rollouts-h">
          <h2 id="rollouts-h">Rollouts in progress</h2>
          <Show loaded={rollouts} what="rollouts">
            {(r) => {
              const active = r.items.filter((x) => !finishedPhases.includes(x.phase));
              if (active.length === 0) return <Empty>No rollout is in progress.</Empty>;
              return (
                <ul class="plain" data-testid="rollouts-active">
                  {active.map((x) => (
                    <li key={x.id}>
                      <Link to={`/rollouts/${x.id}`}>
                        {x.bundle} r{x.fromRevision} → r{x.toRevision}
                      </Link>{' '}
                      <StateBadge state={x.phase} /> wave {x.wave}
                    </li>
                  ))}
                </ul>
              );
            }}
          </Show>
        </section>
        <section class="card" aria-labelledby="slo-h">
          <h2 id="slo-h">SLO burn</h2>
          <Show loaded={slos} what="SLOs">
            {(r) => {
              if (r === 'unavailable') return <Empty>This hub does not serve SLOs yet.</Empty>;
              if (r.items.length === 0) return <Empty>No SLOs are defined.</Empty>;
              const burning = r.items.filter((x) => x.alert !== 'ok');
              return (
                <>
                  <p>
                    {count(r.items.length)} SLOs, {count(burning.length)} burning.
                  </p>
                  <ul class="plain">
                    {[...r.items]
                      .sort((a, b) => a.budgetRemaining - b.budgetRemaining)
                      .slice(0, 5)
                      .map((x) => (
                        <li key={x.name}>
                          <Link to={`/slos/${encodeURIComponent(x.name)}`}>{x.name}</Link>{' '}
                          <StateBadge state={x.alert} /> budget {percent(x.budgetRemaining, 1)}, burn{' '}
                          {burn(x.burn.fast)} (1 h)
                        </li>
                      ))}
                  </ul>
                </>
              );
            }}
          </Show>
        </section>
      </div>
      <div class="grid two">
        <section class="card" aria-labelledby="attention-h">
          <h2 id="attention-h">Needs attention</h2>
          <Show loaded={attention} what="the attention list">
            {(a) =>
              a.items.length === 0 ? (
                <Empty>Nothing needs attention.</Empty>
              ) : (
                <table>
                  <caption class="sr-only">Sites that need attention, most urgent first</caption>
                  <ColumnHeads columns={['Site', 'Reason', 'Since']} />
                  <tbody>
                    {a.items.map((i) => (
                      <tr key={i.site}>
                        <td>
                          <SiteLink name={i.site} />
                        </td>
                        <td>
                          <StateBadge state={i.reason} /> {i.detail}
                        </td>
                        <td>{ago(i.since, now)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )
            }
          </Show>
        </section>
        <section class="card" aria-labelledby="events-h">
          <h2 id="events-h">Latest events</h2>
          {recentEvents.value.length === 0 ? (
            <Empty>No events since this page opened.</Empty>
          ) : (
            <ul class="plain events" aria-live="polite">
              {recentEvents.value.slice(0, 12).map((e) => (
                <li key={e.id}>
                  <span class="muted">{ago(e.time, now)}</span> <strong>{e.type}</strong>{' '}
                  {e.site && <SiteLink name={e.site} />} {e.message}
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
    </section>
  );
}
