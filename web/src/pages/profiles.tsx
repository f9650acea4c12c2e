// Profiles: each profile with its sites by conformance state; for one profile, the conformance counts
// per layer, every site off the profile with the layer, the nodes and why, its rollouts and revisions.

import type { ProfileConformance, ProfileDetail, ProfileView } from '../../../src/model/profile-wire.ts';
import { ago, count } from '../../../src/web/format.ts';
import {
  conformanceOrder,
  layerOrder,
  offProfile,
  pageOf,
  revisionLayers,
} from '../../../src/web/profile-view.ts';
import { get } from '../api.ts';
import {
  ColumnHeads,
  Crumbs,
  Empty,
  Link,
  Pager,
  Show,
  SiteLink,
  StateBadge,
  useCursorPages,
  useData,
} from '../ui.tsx';
import { ProfileRollouts } from './profile-rollouts.tsx';

/** Sites off the profile shown at once; the rest are a page away. */
const pageSize = 25;

function StateCounts({ counts }: { counts: Record<string, number> }) {
  return (
    <>
      {conformanceOrder
        .filter((s) => counts[s])
        .map((s) => (
          <span key={s}>
            <StateBadge state={s} /> {count(counts[s]!)}{' '}
          </span>
        ))}
    </>
  );
}

function Layers({ c }: { c: ProfileConformance }) {
  const layers = layerOrder.filter((l) => c.layers[l]);
  if (layers.length === 0) return <Empty>No site follows this profile yet.</Empty>;
  return (
    <table data-testid="layer-counts">
      <ColumnHeads columns={['Layer', ...conformanceOrder]} numeric={[...conformanceOrder]} />
      <tbody>
        {layers.map((l) => (
          <tr key={l} data-testid={`layer-${l}`}>
            <th scope="row">{l}</th>
            {conformanceOrder.map((s) => (
              <td key={s} class="num" data-testid={`layer-${l}-${s}`}>
                {count(c.layers[l]![s] ?? 0)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function OffProfile({ c }: { c: ProfileConformance }) {
  const pages = useCursorPages();
  const rows = offProfile(c.sites);
  if (rows.length === 0) return <Empty>Every site following this profile runs what it says.</Empty>;
  const page = pageOf(rows, pages.cursor, pageSize);
  return (
    <>
      <table data-testid="off-profile">
        <ColumnHeads columns={['Site', 'State', 'Revision', 'Layer', 'Nodes or bundles', 'Why']} />
        <tbody>
          {page.items.flatMap((r) =>
            r.layers.map((l, i) => (
              <tr key={`${r.site}/${l.layer}`} data-testid={i === 0 ? `off-${r.site}` : undefined}>
                <td>{i === 0 && <SiteLink name={r.site} />}</td>
                <td>{i === 0 && <StateBadge state={r.state} />}</td>
                <td>{i === 0 && r.revision}</td>
                <td>
                  {l.layer} <StateBadge state={l.state} />
                </td>
                <td>{l.behind.length === 0 ? '–' : l.behind.join(', ')}</td>
                <td>{l.detail}</td>
              </tr>
            )),
          )}
        </tbody>
      </table>
      {(pages.page > 1 || page.nextCursor) && <Pager pages={pages} nextCursor={page.nextCursor} />}
    </>
  );
}

export function ProfilePage({ name }: { name: string }) {
  const detail = useData(() => get<ProfileDetail>(`/profiles/${encodeURIComponent(name)}`), [name]);
  const conformance = useData(
    () => get<ProfileConformance>(`/profiles/${encodeURIComponent(name)}/conformance`),
    [name],
  );
  const now = new Date();
  return (
    <section>
      <Crumbs list="Profiles" to="/profiles" name={name} />
      <h1>{name}</h1>
      <Show loaded={conformance} what="the profile's conformance">
        {(c) => (
          <>
            <section class="card" aria-labelledby="conformance-h">
              <h2 id="conformance-h">Conformance to revision {c.revision}</h2>
              <p data-testid="profile-counts">
                <StateCounts counts={c.counts} />
              </p>
              <Layers c={c} />
              {c.conflicts.length > 0 && (
                <ul class="plain" data-testid="conflicts">
                  {c.conflicts.map((x) => (
                    <li key={x.site}>
                      <SiteLink name={x.site} /> follows no profile: {x.message}
                    </li>
                  ))}
                </ul>
              )}
            </section>
            <section class="card" aria-labelledby="off-h">
              <h2 id="off-h">Sites off the profile</h2>
              <OffProfile c={c} />
            </section>
          </>
        )}
      </Show>
      <section class="card" aria-labelledby="profile-rollouts-h">
        <h2 id="profile-rollouts-h">Rollouts</h2>
        <ProfileRollouts profile={name} />
      </section>
      <section class="card" aria-labelledby="revisions-h">
        <h2 id="revisions-h">Revisions</h2>
        <Show loaded={detail} what="the revisions">
          {(d) => (
            <table data-testid="profile-revisions">
              <ColumnHeads columns={['Revision', 'Layers', 'Deadline', 'Created', 'From']} />
              <tbody>
                {d.revisions.map((r) => (
                  <tr key={r.revision}>
                    <td>{r.revision}</td>
                    <td>{revisionLayers(r.spec)}</td>
                    <td>{String(r.spec.upgradeDeadlineSeconds ?? '–')} s</td>
                    <td>{ago(r.createdAt, now)}</td>
                    <td>{r.commit ? <code>{r.commit.slice(0, 12)}</code> : (d.source ?? 'API')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Show>
      </section>
    </section>
  );
}

export function ProfilesPage() {
  const list = useData(() => get<{ items: ProfileView[] }>('/profiles'), []);
  return (
    <section>
      <h1>Profiles</h1>
      <Show loaded={list} what="profiles">
        {(r) =>
          r.items.length === 0 ? (
            <Empty>
              No profiles yet: apply one with `outpost profile apply -f FILE` or add it to a source.
            </Empty>
          ) : (
            <table>
              <ColumnHeads columns={['Profile', 'Revision', 'Sites by conformance', 'Updated']} />
              <tbody>
                {r.items.map((p) => (
                  <tr key={p.name} data-testid={`profile-${p.name}`}>
                    <td>
                      <Link to={`/profiles/${encodeURIComponent(p.name)}`}>{p.name}</Link>
                    </td>
                    <td>{p.revision}</td>
                    <td>
                      <StateCounts counts={p.counts} />
                    </td>
                    <td>{ago(p.updatedAt, new Date())}</td>
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
