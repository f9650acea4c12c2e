// Profile rollouts: a profile revision moving over its sites in waves, each site done when it conforms
// and failed when it is Behind, with the failed sites and why; pause, resume, promote, approve, abort and
// retry, but never roll back (Kubernetes cannot go back a minor).

import type { ProfileRolloutDetail, ProfileRolloutView } from '../../../src/model/profile-wire.ts';
import { ago } from '../../../src/web/format.ts';
import { get } from '../api.ts';
import { ColumnHeads, Crumbs, Empty, Link, Show, SiteLink, StateBadge, useData } from '../ui.tsx';
import { Controls, RolloutTable, rolloutControls, Wave } from './rollout-parts.tsx';

/** A profile rollout never rolls back: the hub refuses it, so the button is not offered. */
const profileControls = rolloutControls.filter((a) => a.action !== 'rollback');

/** The profile rollouts, newest first; of one profile when `profile` is given. */
export function ProfileRollouts({ profile }: { profile?: string }) {
  const query = profile ? `?profile=${encodeURIComponent(profile)}` : '';
  const list = useData(() => get<{ items: ProfileRolloutView[] }>(`/profile-rollouts${query}`), [query]);
  return (
    <Show loaded={list} what="profile rollouts">
      {(r) =>
        r.items.length === 0 ? (
          <Empty>No profile rollouts yet. A new revision of a profile starts one.</Empty>
        ) : (
          <RolloutTable
            kind="Profile"
            testId="profile-rollouts"
            rows={r.items.map((x) => ({
              ...x,
              name: x.profile,
              to: `/rollouts/profiles/${encodeURIComponent(x.id)}`,
            }))}
          />
        )
      }
    </Show>
  );
}

export function ProfileRolloutPage({ id }: { id: string }) {
  const detail = useData(
    () => get<ProfileRolloutDetail>(`/profile-rollouts/${encodeURIComponent(id)}`),
    [id],
  );
  return (
    <section>
      <Crumbs list="Rollouts" to="/rollouts" name={id} />
      <Show loaded={detail} what="the profile rollout">
        {(d) => {
          const current = d.waves.findIndex((w) => w.name === d.wave);
          return (
            <>
              <h1>
                Profile <Link to={`/profiles/${encodeURIComponent(d.profile)}`}>{d.profile}</Link>: revision{' '}
                {d.fromRevision} → {d.toRevision}
              </h1>
              <p>
                Phase{' '}
                <span data-testid="profile-rollout-phase">
                  <StateBadge state={d.phase} />
                </span>
                {d.reason && <span> — {d.reason}</span>}. Started {ago(d.createdAt, new Date())} by{' '}
                {d.createdBy}.{d.failures > 0 && ` ${d.failures} failed sites.`}
              </p>
              <Controls
                path={`/profile-rollouts/${encodeURIComponent(d.id)}/actions`}
                phase={d.phase}
                pending={d.pendingActions}
                offered={profileControls}
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
                <section class="card" aria-labelledby="failed-h">
                  <h2 id="failed-h">Failed sites</h2>
                  {d.failed.length === 0 ? (
                    <Empty>No site has failed this rollout.</Empty>
                  ) : (
                    <table data-testid="profile-rollout-failed">
                      <ColumnHeads columns={['Site', 'Wave', 'Why']} />
                      <tbody>
                        {d.failed.map((f) => (
                          <tr key={f.site}>
                            <td>
                              <SiteLink name={f.site} />
                            </td>
                            <td>{f.wave}</td>
                            <td>{f.reason}</td>
                          </tr>
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
