// One site: identity and lifecycle, labels and properties, every deployment with each object not ready
// and its reason, its stack against its profile, the latest events, its SLIs, and the certificate's expiry.

import { useMemo } from 'preact/hooks';
import type { SiteDetail } from '../../../src/model/wire.ts';
import { ago, expiry } from '../../../src/web/format.ts';
import { get } from '../api.ts';
import { Chart } from '../chart.tsx';
import { siteSlis } from '../slo-api.ts';
import { Badge, ColumnHeads, Crumbs, Empty, Link, Show, StateBadge, useData } from '../ui.tsx';
import { SiteStackCard } from './site-stack.tsx';

function Pairs({ values, empty }: { values: Record<string, unknown>; empty: string }) {
  const entries = Object.entries(values);
  if (entries.length === 0) return <Empty>{empty}</Empty>;
  return (
    <dl class="pairs">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{typeof v === 'string' ? v : JSON.stringify(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

function Slis({ site }: { site: string }) {
  // the period is fixed when the page opens; the axis runs from its start to now or the newest point
  const opened = useMemo(() => Date.now(), [site]);
  const since = new Date(opened - 6 * 3600_000);
  const slis = useData(() => siteSlis(site, since), [site]);
  return (
    <section class="card" aria-labelledby="slis-h">
      <h2 id="slis-h">SLIs (last 6 hours)</h2>
      <Show loaded={slis} what="SLIs">
        {(r) =>
          r === 'unavailable' ? (
            <Empty>This hub does not serve SLIs yet.</Empty>
          ) : r.series.length === 0 ? (
            <Empty>The site has reported no SLI samples in this period.</Empty>
          ) : (
            <Chart
              title={`SLIs of ${site}`}
              range={[
                since.getTime() / 1000,
                Math.max(opened, ...r.series.flatMap((x) => x.points.map((p) => p[0]))) / 1000,
              ]}
              series={r.series.map((s) => ({
                label: `${s.bundle}/${s.name}`,
                t: s.points.map((p) => p[0] / 1000),
                v: s.points.map((p) => p[1]),
              }))}
            />
          )
        }
      </Show>
    </section>
  );
}

export function SitePage({ name }: { name: string }) {
  const site = useData(() => get<SiteDetail>(`/sites/${encodeURIComponent(name)}`), [name]);
  const now = new Date();
  return (
    <section>
      <Crumbs list="Sites" to="/sites" name={name} />
      <h1>{name}</h1>
      <Show loaded={site} what="the site">
        {(s) => {
          const cert = expiry(s.certificateExpiresAt, now);
          return (
            <>
              <div class="grid">
                <section class="card" aria-labelledby="state-h">
                  <h2 id="state-h">State</h2>
                  <dl class="pairs">
                    <div>
                      <dt>Lifecycle</dt>
                      <dd>
                        <StateBadge state={s.lifecycle} />
                      </dd>
                    </div>
                    <div>
                      <dt>Connectivity</dt>
                      <dd>
                        <StateBadge state={s.connectivity} /> since {ago(s.connectivitySince, now)}
                      </dd>
                    </div>
                    <div>
                      <dt>Last seen</dt>
                      <dd>{ago(s.lastSeen, now)}</dd>
                    </div>
                    <div>
                      <dt>Last report</dt>
                      <dd>{ago(s.lastReport, now)}</dd>
                    </div>
                    <div>
                      <dt>Certificate</dt>
                      <dd data-testid="cert-expiry">
                        <Badge
                          tone={
                            cert.urgency === 'ok'
                              ? 'ok'
                              : cert.urgency === 'soon'
                                ? 'warn'
                                : cert.urgency === 'expired'
                                  ? 'bad'
                                  : 'muted'
                          }
                        >
                          {cert.text}
                        </Badge>
                      </dd>
                    </div>
                    {s.attention && (
                      <div>
                        <dt>Attention</dt>
                        <dd>
                          <StateBadge state={s.attention.reason} /> {s.attention.detail}
                        </dd>
                      </div>
                    )}
                  </dl>
                </section>
                <section class="card" aria-labelledby="labels-h">
                  <h2 id="labels-h">Labels</h2>
                  <Pairs values={s.labels} empty="No labels." />
                  <h2>Properties</h2>
                  <Pairs values={s.properties} empty="No properties." />
                </section>
                <section class="card" aria-labelledby="facts-h">
                  <h2 id="facts-h">Facts</h2>
                  <Pairs values={s.facts} empty="The site reported no facts." />
                </section>
              </div>
              <section class="card" aria-labelledby="deployments-h">
                <h2 id="deployments-h">Deployments</h2>
                {s.deployments.length === 0 ? (
                  <Empty>No bundle is placed on this site.</Empty>
                ) : (
                  <table>
                    <ColumnHeads
                      columns={['Bundle', 'Revision', 'State', 'Objects ready', 'Not ready, and why']}
                    />
                    <tbody>
                      {s.deployments.map((d) => (
                        <tr key={d.bundle}>
                          <td>
                            <Link
                              to={`/bundles/${encodeURIComponent(d.bundle)}?site=${encodeURIComponent(s.name)}`}
                            >
                              {d.bundle}
                            </Link>
                          </td>
                          <td>{d.desiredRevision ?? '–'}</td>
                          <td>
                            <StateBadge state={d.state} /> {d.message}
                          </td>
                          <td>
                            {d.counts.ready} / {d.counts.total}
                          </td>
                          <td>
                            {d.notReady.length === 0 ? (
                              '–'
                            ) : (
                              <ul class="plain">
                                {d.notReady.map((n) => (
                                  <li key={n.object}>
                                    <code>{n.object}</code>: {n.reason}
                                  </li>
                                ))}
                              </ul>
                            )}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
              </section>
              <SiteStackCard site={s.name} />
              <Slis site={s.name} />
              <section class="card" aria-labelledby="events-h">
                <h2 id="events-h">Events</h2>
                {s.events.length === 0 ? (
                  <Empty>No events.</Empty>
                ) : (
                  <ul class="plain events">
                    {[...s.events].reverse().map((e) => (
                      <li key={e.id}>
                        <span class="muted">{ago(e.time, now)}</span> <strong>{e.type}</strong> {e.message}
                      </li>
                    ))}
                  </ul>
                )}
                {s.moreEvents && <p class="note">Older events: GET /api/v1/events?site={s.name}</p>}
              </section>
            </>
          );
        }}
      </Show>
    </section>
  );
}
