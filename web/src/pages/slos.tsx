// SLOs: per bundle (and the sites it selects), how much error budget is left and how fast it burns, with
// budget and burn-rate charts and the sites spending most. Reads the SLO API; says so when the hub has none.

import { burn, count, percent } from '../../../src/web/format.ts';
import { seriesToNow } from '../../../src/web/slo-series.ts';
import { Chart } from '../chart.tsx';
import { listSlos, type SloView, sloDetail } from '../slo-api.ts';
import { ColumnHeads, Crumbs, Empty, Link, Show, SiteLink, StateBadge, useData } from '../ui.tsx';

function Budget({ slo }: { slo: SloView }) {
  const left = Math.max(0, Math.min(1, slo.budgetRemaining));
  return (
    <span class="budget">
      <meter
        min={0}
        max={1}
        low={0.25}
        high={0.5}
        optimum={1}
        value={left}
        aria-label={`${slo.name} budget remaining`}
      />{' '}
      {percent(slo.budgetRemaining, 1)}
    </span>
  );
}

const unavailable = (
  <Empty>
    This hub does not serve SLOs yet (GET /api/v1/slos is not there). Once it does, each SLO shows here with
    its remaining error budget and burn rates.
  </Empty>
);

export function SlosPage() {
  const slos = useData(() => listSlos(), []);
  return (
    <section>
      <h1>SLOs</h1>
      <Show loaded={slos} what="SLOs">
        {(r) => {
          if (r === 'unavailable') return unavailable;
          if (r.items.length === 0)
            return <Empty>No SLOs are defined. Create one with POST /api/v1/slos.</Empty>;
          const bundles = [...new Set(r.items.map((s) => s.bundle))].sort();
          return bundles.map((b) => (
            <section key={b} class="card" aria-labelledby={`slo-${b}`}>
              <h2 id={`slo-${b}`}>
                Bundle <Link to={`/bundles/${encodeURIComponent(b)}`}>{b}</Link>
              </h2>
              <table>
                <ColumnHeads
                  columns={[
                    'SLO',
                    'Objective',
                    'Attainment',
                    'Budget left',
                    'Burn 1 h',
                    'Burn 6 h',
                    'Alert',
                    'Sites',
                  ]}
                  numeric={['Sites']}
                />
                <tbody>
                  {r.items
                    .filter((s) => s.bundle === b)
                    .map((s) => (
                      <tr key={s.name}>
                        <td>
                          <Link to={`/slos/${encodeURIComponent(s.name)}`}>{s.name}</Link>
                          <div class="muted">
                            {s.sli.kind} over {s.window}
                          </div>
                        </td>
                        <td>{percent(s.objective, 2)}</td>
                        <td>{percent(s.attainment, 3)}</td>
                        <td>
                          <Budget slo={s} />
                        </td>
                        <td>{burn(s.burn.fast)}</td>
                        <td>{burn(s.burn.slow)}</td>
                        <td>
                          <StateBadge state={s.alert} />
                        </td>
                        <td class="num">{count(s.sites)}</td>
                      </tr>
                    ))}
                </tbody>
              </table>
            </section>
          ));
        }}
      </Show>
    </section>
  );
}

export function SloPage({ name }: { name: string }) {
  const slo = useData(() => sloDetail(name), [name]);
  return (
    <section>
      <Crumbs list="SLOs" to="/slos" name={name} />
      <h1>{name}</h1>
      <Show loaded={slo} what="the SLO">
        {(s) => {
          if (s === 'unavailable') return unavailable;
          const series = seriesToNow(s.series, s, new Date());
          const t = series.map((p) => Date.parse(p.t) / 1000);
          return (
            <>
              <p>
                {s.description ?? `${s.sli.kind} SLI of bundle ${s.bundle}`}: objective {percent(s.objective)}{' '}
                over {s.window}. Budget left <Budget slo={s} />, burn {burn(s.burn.fast)} over 1 h and{' '}
                {burn(s.burn.slow)} over 6 h, <StateBadge state={s.alert} />.
              </p>
              <div class="grid two">
                <section class="card">
                  <Chart
                    title="Error budget remaining"
                    unit="budget"
                    series={[{ label: 'budget remaining', t, v: series.map((p) => p.budgetRemaining) }]}
                  />
                </section>
                <section class="card">
                  <Chart
                    title="Burn rate"
                    unit="×"
                    series={[{ label: 'burn rate', t, v: series.map((p) => p.burnRate) }]}
                  />
                </section>
              </div>
              <section class="card" aria-labelledby="worst-h">
                <h2 id="worst-h">Sites spending the most budget</h2>
                {s.worstSites.length === 0 ? (
                  <Empty>No site has spent budget.</Empty>
                ) : (
                  <table>
                    <ColumnHeads columns={['Site', 'Budget left', 'Error rate']} />
                    <tbody>
                      {s.worstSites.map((w) => (
                        <tr key={w.site}>
                          <td>
                            <SiteLink name={w.site} />
                          </td>
                          <td>{percent(w.budgetRemaining, 1)}</td>
                          <td>{percent(w.errorRate, 3)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
              </section>
            </>
          );
        }}
      </Show>
    </section>
  );
}
