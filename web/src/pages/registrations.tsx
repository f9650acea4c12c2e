// Registrations: sites waiting for approval. An operator can approve one (choosing its name and labels)
// or reject it; a viewer sees the list only.

import { useState } from 'preact/hooks';
import type { QueryResult, QuerySite } from '../../../src/model/wire.ts';
import { ago, count } from '../../../src/web/format.ts';
import { labelList, parseLabelList } from '../../../src/web/labels.ts';
import { canOperate, post } from '../api.ts';
import { Empty, ErrorNote, Pager, Show, useCursorPages, useData } from '../ui.tsx';

function Pending({ site, done }: { site: QuerySite; done: () => void }) {
  const [name, setName] = useState(site.name);
  const [labels, setLabels] = useState(labelList(site.labels));
  const [error, setError] = useState<Error | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const id = `pending-${site.name}`;
  const act = async (what: 'approve' | 'reject') => {
    setBusy(true);
    setError(undefined);
    try {
      const parsed = parseLabelList(labels);
      if (typeof parsed === 'string') throw new Error(parsed);
      const path = `/sites/${encodeURIComponent(site.name)}/${what}`;
      if (what === 'approve') await post(path, { ...(name !== site.name ? { name } : {}), labels: parsed });
      else await post(path);
      done();
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <li class="card" data-testid={id} aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>{site.name}</h2>
      <p class="muted">Last seen {ago(site.lastSeen, new Date())}</p>
      {canOperate() ? (
        <form
          class="toolbar"
          onSubmit={(e) => {
            e.preventDefault();
            void act('approve');
          }}
        >
          <div class="field">
            <label for={`${id}-name`}>Name</label>
            <input
              id={`${id}-name`}
              value={name}
              required
              onInput={(e) => setName((e.target as HTMLInputElement).value)}
            />
          </div>
          <div class="field grow">
            <label for={`${id}-labels`}>Labels</label>
            <input
              id={`${id}-labels`}
              value={labels}
              placeholder="region=west, format=mini"
              onInput={(e) => setLabels((e.target as HTMLInputElement).value)}
            />
          </div>
          <button type="submit" disabled={busy}>
            Approve
          </button>
          <button type="button" class="danger" disabled={busy} onClick={() => void act('reject')}>
            Reject
          </button>
        </form>
      ) : (
        <p class="note">Labels: {labelList(site.labels) || 'none'}. Approving needs the operator role.</p>
      )}
      {error && <ErrorNote error={error} />}
    </li>
  );
}

const pageSize = 25;

export function RegistrationsPage() {
  const pages = useCursorPages();
  const cursor = pages.cursor;
  const total = useData(
    () => post<QueryResult>('/query', { lifecycle: ['Pending'], groupBy: ['lifecycle'] }),
    [],
  );
  const pending = useData(
    () =>
      post<QueryResult>('/query', { lifecycle: ['Pending'], limit: pageSize, ...(cursor ? { cursor } : {}) }),
    [cursor],
  );
  const waiting = total.data?.groups?.[0]?.count ?? 0;
  return (
    <section>
      <h1>Registrations</h1>
      {waiting > 0 && (
        <p data-testid="pending-count">
          {waiting === 1 ? '1 site waits' : `${count(waiting)} sites wait`} for approval.
        </p>
      )}
      <Show loaded={pending} what="pending sites">
        {(r) =>
          (r.sites ?? []).length === 0 ? (
            <Empty>No site is waiting for approval.</Empty>
          ) : (
            <>
              <ul class="plain stack">
                {(r.sites ?? []).map((s) => (
                  <Pending
                    key={s.name}
                    site={s}
                    done={() => {
                      pending.reload();
                      total.reload();
                    }}
                  />
                ))}
              </ul>
              {(pages.page > 1 || r.nextCursor) && <Pager pages={pages} nextCursor={r.nextCursor} />}
            </>
          )
        }
      </Show>
    </section>
  );
}
