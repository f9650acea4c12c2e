// One site's stack on its page: the profile it follows and how each layer stands against it, the
// host-layer upgrades its agent drives, and every node with its kubelet, OS image and runtime.

import type { SiteStackView } from '../../../src/model/profile-wire.ts';
import { ago } from '../../../src/web/format.ts';
import { layerRank } from '../../../src/web/profile-view.ts';
import { get } from '../api.ts';
import { ColumnHeads, Empty, Link, Show, StateBadge, useData } from '../ui.tsx';

function Conformance({ v }: { v: SiteStackView }) {
  if (v.conflict) return <p class="error">Follows no profile: {v.conflict}</p>;
  if (!v.profile || !v.conformance) return <Empty>No profile is placed on this site.</Empty>;
  const c = v.conformance;
  const layers = [...c.layers].sort((a, b) => layerRank(a.layer) - layerRank(b.layer));
  return (
    <>
      <p data-testid="site-profile">
        Profile <Link to={`/profiles/${encodeURIComponent(v.profile)}`}>{v.profile}</Link> revision{' '}
        {c.revision}: <StateBadge state={c.state} />
      </p>
      <table data-testid="site-layers">
        <ColumnHeads columns={['Layer', 'State', 'Nodes or bundles', 'Why']} />
        <tbody>
          {layers.map((l) => (
            <tr key={l.layer}>
              <th scope="row">{l.layer}</th>
              <td>
                <StateBadge state={l.state} />
              </td>
              <td>{l.behind.length === 0 ? '–' : l.behind.join(', ')}</td>
              <td>{l.detail || '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Nodes({ stack }: { stack: NonNullable<SiteStackView['stack']> }) {
  if (stack.nodes.length === 0) return <Empty>The agent reported no nodes.</Empty>;
  return (
    <table data-testid="site-nodes">
      <ColumnHeads columns={['Node', 'Role', 'Kubelet', 'OS image', 'Container runtime', 'Kernel', 'Arch']} />
      <tbody>
        {stack.nodes.map((n) => (
          <tr key={n.name}>
            <td>{n.name}</td>
            <td>{n.controlPlane ? 'server' : 'agent'}</td>
            <td>{n.kubeletVersion || '–'}</td>
            <td>{n.osImage || '–'}</td>
            <td>{n.containerRuntimeVersion || '–'}</td>
            <td>{n.kernelVersion || '–'}</td>
            <td>{n.architecture || '–'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Upgrades({ stack, now }: { stack: NonNullable<SiteStackView['stack']>; now: Date }) {
  const upgrades = stack.upgrades ?? [];
  if (upgrades.length === 0) return null;
  return (
    <>
      <h3>Host-layer upgrades</h3>
      <table data-testid="site-upgrades">
        <ColumnHeads columns={['Host layer', 'Target', 'State', 'Nodes not there', 'Detail', 'Started']} />
        <tbody>
          {upgrades.map((u) => (
            <tr key={u.layer}>
              <th scope="row">{u.layer}</th>
              <td>{u.target}</td>
              <td>
                <StateBadge state={u.state} />
              </td>
              <td>{u.behind.length === 0 ? '–' : u.behind.join(', ')}</td>
              <td>{u.detail}</td>
              <td>{ago(u.startedAt, now)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export function SiteStackCard({ site }: { site: string }) {
  const view = useData(() => get<SiteStackView>(`/sites/${encodeURIComponent(site)}/stack`), [site]);
  const now = new Date();
  return (
    <section class="card" aria-labelledby="stack-h">
      <h2 id="stack-h">Stack</h2>
      <Show loaded={view} what="the site's stack">
        {(v) => (
          <>
            <Conformance v={v} />
            {v.stack ? (
              <>
                <p class="muted">
                  Agent {v.stack.agentVersion}
                  {v.stack.kubernetesVersion && `, API server ${v.stack.kubernetesVersion}`}, reported{' '}
                  {ago(v.reportedAt, now)}
                </p>
                <Upgrades stack={v.stack} now={now} />
                <h3>Nodes</h3>
                <Nodes stack={v.stack} />
              </>
            ) : (
              <Empty>The agent has not reported its nodes yet.</Empty>
            )}
          </>
        )}
      </Show>
    </section>
  );
}
