// Bundles: revisions and where each is placed; for one bundle, the manifests one site gets (rendered for
// it), why the bundle is or is not on that site, and a plan: what a change would do, site by site.

import { useState } from 'preact/hooks';
import type { Explanation, PlanResult } from '../../../src/model/fleet-wire.ts';
import type { BundleView, QueryResult } from '../../../src/model/wire.ts';
import { formatSelector } from '../../../src/select/labels.ts';
import { ago, count } from '../../../src/web/format.ts';
import { get, post } from '../api.ts';
import { search } from '../router.ts';
import { ColumnHeads, Crumbs, Empty, ErrorNote, Link, Show, SiteLink, StateBadge, useData } from '../ui.tsx';

interface Rendered {
  site: string;
  bundle: string;
  revision: number | null;
  digest: string | null;
  renderError: string | null;
  objects: Array<{ kind?: string; metadata?: { name?: string; namespace?: string } }>;
}

function objectName(o: Rendered['objects'][number]): string {
  // as the hub's plans and events name objects
  return `${o.kind ?? '?'} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? '?'}`;
}

function Preview({ bundle, site }: { bundle: string; site: string }) {
  const rendered = useData(
    () => get<Rendered>(`/bundles/${encodeURIComponent(bundle)}/rendered?site=${encodeURIComponent(site)}`),
    [bundle, site],
    false,
  );
  const why = useData(
    () => get<Explanation>(`/bundles/${encodeURIComponent(bundle)}/explain?site=${encodeURIComponent(site)}`),
    [bundle, site],
    false,
  );
  return (
    <section class="card" aria-labelledby="preview-h">
      <h2 id="preview-h">
        {bundle} on <SiteLink name={site} />
      </h2>
      <Show loaded={why} what="the placement explanation">
        {(e) => (
          <p>
            {e.targeted ? 'Targeted' : 'Not targeted'}: {e.reason}
            {e.renderError && <span class="error"> Render error: {e.renderError}</span>}
          </p>
        )}
      </Show>
      <Show loaded={rendered} what="the rendered manifests">
        {(r) =>
          r.objects.length === 0 ? (
            <Empty>
              {r.renderError ? `Not rendered: ${r.renderError}` : 'Nothing rendered for this site.'}
            </Empty>
          ) : (
            <>
              <p class="muted">
                Revision {r.revision}, digest <code>{r.digest?.slice(0, 19)}…</code>, {r.objects.length}{' '}
                objects
              </p>
              {r.objects.map((o) => (
                <details key={objectName(o)}>
                  <summary>{objectName(o)}</summary>
                  <pre>{JSON.stringify(o, null, 2)}</pre>
                </details>
              ))}
            </>
          )
        }
      </Show>
    </section>
  );
}

function Plan({ bundle }: { bundle: BundleView }) {
  const [yaml, setYaml] = useState('');
  const [result, setResult] = useState<PlanResult | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const plan = async (body: unknown) => {
    setBusy(true);
    setError(undefined);
    try {
      setResult(await post<PlanResult>('/plan', body));
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  const mine = result?.sites.filter((s) => s.bundle === bundle.name) ?? [];
  return (
    <section class="card" aria-labelledby="plan-h">
      <h2 id="plan-h">Plan a change</h2>
      <p class="note">
        What a new version of this bundle would change on each site, against what each site should run now.
        Nothing is applied.
      </p>
      {bundle.source && (
        <button
          type="button"
          class="secondary"
          disabled={busy}
          onClick={() => void plan({ source: bundle.source })}
        >
          Plan the head of source {bundle.source}
        </button>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void plan({ files: [{ path: `${bundle.name}.yaml`, content: yaml }] });
        }}
      >
        <label for="plan-yaml">Bundle YAML (the Bundle document and its manifests)</label>
        <textarea
          id="plan-yaml"
          rows={8}
          value={yaml}
          onInput={(e) => setYaml((e.target as HTMLTextAreaElement).value)}
        />
        <button type="submit" disabled={busy || yaml.trim() === ''}>
          Plan
        </button>
      </form>
      {error && <ErrorNote error={error} />}
      {result && (
        <div data-testid="plan-result">
          {result.errors.length > 0 && (
            <ul class="error">
              {result.errors.map((p) => (
                <li key={`${p.file}:${p.line}:${p.message}`}>
                  {p.file ? `${p.file}${p.line ? `:${p.line}` : ''}: ` : ''}
                  {p.message}
                </li>
              ))}
            </ul>
          )}
          {mine.length === 0 && result.errors.length === 0 ? (
            <Empty>No site would change.</Empty>
          ) : (
            mine.slice(0, 100).map((s) => (
              <details key={s.site}>
                <summary>
                  {s.site}: {s.action} ({s.added.length} added, {s.changed.length} changed, {s.removed.length}{' '}
                  removed)
                </summary>
                {s.error && <p class="error">{s.error.message}</p>}
                {s.added.map((o) => (
                  <p key={o} class="diff-add">
                    + {o}
                  </p>
                ))}
                {s.removed.map((o) => (
                  <p key={o} class="diff-del">
                    − {o}
                  </p>
                ))}
                {s.changed.map((c) => (
                  <div key={c.object}>
                    <p>~ {c.object}</p>
                    <pre>{c.diff.map((op) => JSON.stringify(op)).join('\n')}</pre>
                  </div>
                ))}
              </details>
            ))
          )}
          {mine.length > 100 && <p class="note">{count(mine.length - 100)} more sites not shown.</p>}
        </div>
      )}
    </section>
  );
}

function Revisions({ name }: { name: string }) {
  const groups = useData(
    () => post<QueryResult>('/query', { bundle: name, groupBy: ['revision', 'state'], limit: 200 }),
    [name],
  );
  return (
    <section class="card" aria-labelledby="revisions-h">
      <h2 id="revisions-h">Sites by revision and state</h2>
      <Show loaded={groups} what="revisions">
        {(r) =>
          (r.groups ?? []).length === 0 ? (
            <Empty>No site has this bundle.</Empty>
          ) : (
            <table data-testid="revisions">
              <ColumnHeads columns={['Revision', 'State', 'Sites']} numeric={['Sites']} />
              <tbody>
                {(r.groups ?? []).map((g) => (
                  <tr key={`${g.key.revision}/${g.key.state}`}>
                    <td>{g.key.revision ?? '–'}</td>
                    <td>
                      <StateBadge state={g.key.state === null ? null : String(g.key.state)} />
                    </td>
                    <td class="num">
                      <Link
                        to={`/sites?q=${encodeURIComponent(`bundle=${name}, revision=${g.key.revision}, state=${g.key.state}`)}`}
                      >
                        {count(g.count)}
                      </Link>
                    </td>
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

export function BundlePage({ name }: { name: string }) {
  const bundle = useData(() => get<BundleView>(`/bundles/${encodeURIComponent(name)}`), [name]);
  const placed = useData(() => post<QueryResult>('/query', { bundle: name, limit: 25 }), [name]);
  const initialSite = new URLSearchParams(search.value).get('site') ?? '';
  const [site, setSite] = useState(initialSite);
  const [shown, setShown] = useState(initialSite);
  return (
    <section>
      <Crumbs list="Bundles" to="/bundles" name={name} />
      <h1>{name}</h1>
      <Show loaded={bundle} what="the bundle">
        {(b) => (
          <>
            <div class="grid two">
              <section class="card" aria-labelledby="rev-h">
                <h2 id="rev-h">Revision {b.revision}</h2>
                <dl class="pairs">
                  <div>
                    <dt>Selector</dt>
                    <dd>
                      <code>{formatSelector(b.selector) || '(every site)'}</code>
                    </dd>
                  </div>
                  <div>
                    <dt>Objects</dt>
                    <dd>{b.objects}</dd>
                  </div>
                  <div>
                    <dt>Updated</dt>
                    <dd>{ago(b.updatedAt, new Date())}</dd>
                  </div>
                  {b.source && (
                    <div>
                      <dt>Source</dt>
                      <dd>{b.source}</dd>
                    </div>
                  )}
                </dl>
              </section>
              <section class="card" aria-labelledby="where-h">
                <h2 id="where-h">Placed on {count(b.sites)} sites</h2>
                <dl class="counts">
                  {Object.entries(b.states).map(([k, v]) => (
                    <div key={k}>
                      <dt>
                        <StateBadge state={k} />
                      </dt>
                      <dd>{count(v)}</dd>
                    </div>
                  ))}
                </dl>
                <p>
                  <Link to={`/sites?q=${encodeURIComponent(`bundle=${name}`)}&group=revision`}>
                    By revision
                  </Link>{' '}
                  · <Link to={`/sites?q=${encodeURIComponent(`bundle=${name}`)}`}>All its sites</Link>
                </p>
              </section>
            </div>
            <Revisions name={name} />
            <section class="card" aria-labelledby="sites-h">
              <h2 id="sites-h">Preview for a site</h2>
              <form
                class="toolbar"
                onSubmit={(e) => {
                  e.preventDefault();
                  setShown(site.trim());
                }}
              >
                <div class="field grow">
                  <label for="preview-site">Site name</label>
                  <input
                    id="preview-site"
                    list="placed-sites"
                    value={site}
                    onInput={(e) => setSite((e.target as HTMLInputElement).value)}
                  />
                  <datalist id="placed-sites">
                    {(placed.data?.sites ?? []).map((s) => (
                      <option key={s.name} value={s.name} />
                    ))}
                  </datalist>
                </div>
                <button type="submit">Show rendered manifests</button>
              </form>
              {placed.data && (placed.data.sites ?? []).length > 0 && (
                <p class="note">
                  For example:{' '}
                  {(placed.data.sites ?? []).slice(0, 6).map((s) => (
                    <button
                      key={s.name}
                      type="button"
                      class="link"
                      onClick={() => {
                        setSite(s.name);
                        setShown(s.name);
                      }}
                    >
                      {s.name}
                    </button>
                  ))}
                </p>
              )}
            </section>
            {shown && <Preview bundle={name} site={shown} />}
            <Plan bundle={b} />
          </>
        )}
      </Show>
    </section>
  );
}

export function BundlesPage() {
  const list = useData(() => get<{ items: BundleView[] }>('/bundles'), []);
  return (
    <section>
      <h1>Bundles</h1>
      <Show loaded={list} what="bundles">
        {(r) =>
          r.items.length === 0 ? (
            <Empty>No bundles yet: apply one with `outpost apply` or add a git source.</Empty>
          ) : (
            <table>
              <ColumnHeads
                columns={['Bundle', 'Revision', 'Selector', 'Sites', 'States', 'Updated']}
                numeric={['Sites']}
              />
              <tbody>
                {r.items.map((b) => (
                  <tr key={b.name}>
                    <td>
                      <Link to={`/bundles/${encodeURIComponent(b.name)}`}>{b.name}</Link>
                    </td>
                    <td>{b.revision}</td>
                    <td>
                      <code>{formatSelector(b.selector) || '(every site)'}</code>
                    </td>
                    <td class="num">{count(b.sites)}</td>
                    <td>
                      {Object.entries(b.states).map(([k, v]) => (
                        <span key={k}>
                          <StateBadge state={k} /> {count(v)}{' '}
                        </span>
                      ))}
                    </td>
                    <td>{ago(b.updatedAt, new Date())}</td>
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
