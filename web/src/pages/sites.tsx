// Sites: the fleet as a table, filtered and paged by the hub (POST /api/v1/query with a keyset cursor),
// or grouped with counts. Only one page is ever in the browser, so it holds up at 100,000 sites.

import { useState } from 'preact/hooks';
import type { QueryRequest, QueryResult } from '../../../src/model/wire.ts';
import { parseFilter } from '../../../src/web/filter.ts';
import { ago, count } from '../../../src/web/format.ts';
import { post } from '../api.ts';
import { navigate, search } from '../router.ts';
import {
  ColumnHeads,
  Empty,
  ErrorNote,
  Link,
  Pager,
  Show,
  SiteLink,
  StateBadge,
  useCursorPages,
  useData,
} from '../ui.tsx';

const defaultPageSize = 50;
const groupChoices = [
  '',
  'connectivity',
  'state',
  'lifecycle',
  'label:region',
  'label:format',
  'bundle',
  'revision',
];

function groupLabel(g: string): string {
  return g === '' ? 'No grouping (list sites)' : g;
}

/** The filter term that selects one group's sites. */
function termFor(field: string, value: string | number | null): string {
  if (value === null) return `!${field.replace(/^label:/, '')}`;
  const key = field.startsWith('label:') ? field.slice(6) : field;
  return `${key}=${value}`;
}

export function SitesPage() {
  const params = new URLSearchParams(search.value);
  const [text, setText] = useState(params.get('q') ?? '');
  const [applied, setApplied] = useState(params.get('q') ?? '');
  const [groupBy, setGroupBy] = useState(params.get('group') ?? '');
  const pages = useCursorPages();
  const pageSize = Math.min(200, Math.max(10, Number(params.get('limit')) || defaultPageSize));
  const parsed = parseFilter(applied);
  const cursor = pages.cursor;
  const loaded = useData(async () => {
    if ('error' in parsed) throw new Error(parsed.error);
    const req: QueryRequest = { ...parsed.filter, limit: groupBy ? 200 : pageSize };
    if (groupBy) {
      req.groupBy = [groupBy];
      req.sort = '-count';
    }
    if (cursor) req.cursor = cursor;
    return post<QueryResult>('/query', req);
  }, [applied, groupBy, cursor]);
  const apply = (q: string, g = groupBy) => {
    setApplied(q);
    setText(q);
    setGroupBy(g);
    pages.restart();
    const sp = new URLSearchParams();
    if (q) sp.set('q', q);
    if (g) sp.set('group', g);
    if (pageSize !== defaultPageSize) sp.set('limit', String(pageSize));
    history.replaceState(null, '', `${location.pathname}${sp.size ? `?${sp}` : ''}`);
  };
  const now = new Date();
  return (
    <section>
      <h1>Sites</h1>
      <search>
        <form
          class="toolbar"
          onSubmit={(e) => {
            e.preventDefault();
            apply(text);
          }}
        >
          <div class="field grow">
            <label for="filter">Filter</label>
            <input
              id="filter"
              value={text}
              placeholder="region=west, connectivity!=Online, property:lanes>4"
              aria-describedby="filter-help"
              onInput={(e) => setText((e.target as HTMLInputElement).value)}
            />
          </div>
          <div class="field">
            <label for="group">Group by</label>
            <select
              id="group"
              value={groupBy}
              onChange={(e) => apply(applied, (e.target as HTMLSelectElement).value)}
            >
              {groupChoices.map((g) => (
                <option key={g} value={g}>
                  {groupLabel(g)}
                </option>
              ))}
            </select>
          </div>
          <button type="submit">Apply</button>
        </form>
      </search>
      <p id="filter-help" class="note">
        Labels as in kubectl (<code>region=west</code>, <code>format in (mini,max)</code>,{' '}
        <code>!legacy</code>); status fields <code>connectivity</code>, <code>state</code>,{' '}
        <code>lifecycle</code>, <code>revision</code>, <code>name</code>; <code>property:KEY&gt;n</code>;{' '}
        <code>bundle=NAME</code> for that bundle's states; or a JSON <code>where</code>.
      </p>
      {'error' in parsed ? (
        <ErrorNote error={new Error(parsed.error)} />
      ) : (
        <Show loaded={loaded} what="sites">
          {(r) =>
            r.groups ? (
              r.groups.length === 0 ? (
                <Empty>No site matches.</Empty>
              ) : (
                <table data-testid="groups">
                  <caption>Sites grouped by {groupBy}</caption>
                  <ColumnHeads columns={[groupBy, 'Sites']} numeric={['Sites']} />
                  <tbody>
                    {r.groups.map((g) => {
                      const v = g.key[groupBy] ?? null;
                      const term = termFor(groupBy, v);
                      return (
                        <tr key={String(v)}>
                          <td>
                            <button
                              type="button"
                              class="link"
                              onClick={() => apply(applied ? `${applied}, ${term}` : term, '')}
                            >
                              {v === null ? '(none)' : String(v)}
                            </button>
                          </td>
                          <td class="num">{count(g.count)}</td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              )
            ) : (r.sites ?? []).length === 0 ? (
              <Empty>No site matches.</Empty>
            ) : (
              <>
                <table data-testid="sites">
                  <caption class="sr-only">Sites, page {pages.page}</caption>
                  <ColumnHeads
                    columns={[
                      'Name',
                      'Lifecycle',
                      'Connectivity',
                      'State',
                      'Labels',
                      'Last seen',
                      'Attention',
                    ]}
                  />
                  <tbody>
                    {(r.sites ?? []).map((s) => (
                      <tr key={s.name}>
                        <td>
                          <SiteLink name={s.name} />
                        </td>
                        <td>
                          <StateBadge state={s.lifecycle} />
                        </td>
                        <td>
                          <StateBadge state={s.connectivity} />
                        </td>
                        <td>
                          <StateBadge state={s.state} />
                          {s.revision !== null && <span class="muted"> r{s.revision}</span>}
                        </td>
                        <td class="labels">
                          {Object.entries(s.labels).map(([k, v]) => (
                            <code key={k}>
                              {k}={v}
                            </code>
                          ))}
                        </td>
                        <td>{ago(s.lastSeen, now)}</td>
                        <td>{s.attention ?? ''}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                <Pager pages={pages} nextCursor={r.nextCursor} />
              </>
            )
          }
        </Show>
      )}
      <p class="note">
        Looking for new sites? <Link to="/registrations">Registrations</Link> lists those waiting for
        approval.{' '}
        <button type="button" class="link" onClick={() => navigate('/map')}>
          See them on the map.
        </button>
      </p>
    </section>
  );
}
