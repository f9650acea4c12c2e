// Building blocks every page uses: links, data loading that follows live events, notes for loading,
// errors and empty states, state badges, table heads, and paging through the hub's keyset cursors.

import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Tone } from '../../src/web/tone.ts';
import { ApiError } from './api.ts';
import { eventTick } from './live.ts';
import { follow, href } from './router.ts';

export function Link(props: {
  to: string;
  children: ComponentChildren;
  class?: string;
  'aria-current'?: 'page' | 'step' | undefined;
}) {
  const { to, children, ...rest } = props;
  return (
    <a href={href(to)} onClick={follow} {...rest}>
      {children}
    </a>
  );
}

/** A link to one site's page, its name as the text. */
export function SiteLink({ name }: { name: string }) {
  return <Link to={`/sites/${encodeURIComponent(name)}`}>{name}</Link>;
}

/** The trail above a detail page: the list it belongs to, then its own name. */
export function Crumbs({ list, to, name }: { list: string; to: string; name: string }) {
  return (
    <p class="crumbs">
      <Link to={to}>{list}</Link> / {name}
    </p>
  );
}

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload(): void;
}

/**
 * Loads with `load` when `deps` change and, with `live`, again (at most every 2 s) while events arrive.
 * Keeps showing the last data while it reloads, so live pages do not flicker.
 */
export function useData<T>(load: () => Promise<T>, deps: unknown[], live = true): Loaded<T> {
  // data and errors are kept with the deps they were loaded for, so a page never shows one query's
  // rows under another's controls while the new answer is on its way
  const key = JSON.stringify(deps);
  const [state, setState] = useState<{ key: string; data?: T; error?: Error; loading: boolean }>({
    key,
    loading: true,
  });
  const [bump, setBump] = useState(0);
  const seq = useRef(0);
  const lastLoad = useRef(0);
  const lastAsked = useRef<string | undefined>(undefined);
  const tick = live ? eventTick.value : 0;
  useEffect(() => {
    // new deps or an explicit reload load now; a live event only once 2 s have passed since the last load
    const asked = JSON.stringify([key, bump]);
    const wait = asked === lastAsked.current ? Math.max(0, lastLoad.current + 2000 - Date.now()) : 0;
    lastAsked.current = asked;
    const mine = ++seq.current;
    const timer = setTimeout(() => {
      lastLoad.current = Date.now();
      setState((s) => (s.key === key ? { ...s, loading: true } : { key, loading: true }));
      load().then(
        (data) => {
          if (seq.current === mine) setState({ key, data, loading: false });
        },
        (error: Error) => {
          if (seq.current === mine)
            setState((s) => ({ ...(s.key === key ? s : { key }), error, loading: false }));
        },
      );
    }, wait);
    return () => clearTimeout(timer);
  }, [key, tick, bump]);
  const current = state.key === key;
  return {
    data: current ? state.data : undefined,
    error: current ? state.error : undefined,
    loading: !current || state.loading,
    reload: () => setBump((b) => b + 1),
  };
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="note" role="status">
      Loading {what}…
    </p>
  );
}

export function ErrorNote({ error }: { error: Error }) {
  const code = error instanceof ApiError ? ` (${error.code}, HTTP ${error.status})` : '';
  return (
    <p class="error" role="alert">
      {error.message}
      {code}
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function Badge({
  tone,
  children,
}: {
  tone: Tone | 'ok' | 'bad' | 'warn' | 'muted';
  children: ComponentChildren;
}) {
  return <span class={`badge tone-${tone}`}>{children}</span>;
}

const stateTones: Record<string, Tone> = {
  Ready: 'healthy',
  Online: 'healthy',
  Active: 'healthy',
  Succeeded: 'healthy',
  Updated: 'healthy',
  pass: 'healthy',
  ok: 'healthy',
  Conformant: 'healthy',
  Failed: 'failed',
  Behind: 'failed',
  fail: 'failed',
  'fast-burn': 'failed',
  RollingBack: 'failed',
  Aborted: 'failed',
  NotReady: 'degraded',
  Drifted: 'degraded',
  Applying: 'degraded',
  Progressing: 'degraded',
  Baking: 'degraded',
  Updating: 'degraded',
  Upgrading: 'degraded',
  'slow-burn': 'degraded',
  Stale: 'stale',
  Paused: 'stale',
  AwaitingApproval: 'pending',
  Offline: 'offline',
  Expired: 'offline',
  Pending: 'pending',
  Ahead: 'pending',
  Waiting: 'idle',
  'no-data': 'idle',
};

export function StateBadge({ state }: { state: string | null | undefined }) {
  if (!state) return <Badge tone="idle">none</Badge>;
  return <Badge tone={stateTones[state] ?? 'idle'}>{state}</Badge>;
}

/** Unwraps a loaded value into what to show: the error, a loading note, or the children. */
export function Show<T>({
  loaded,
  what,
  children,
}: {
  loaded: Loaded<T>;
  what: string;
  children: (d: T) => ComponentChildren;
}) {
  if (loaded.data !== undefined) {
    return (
      <>
        {loaded.error && <ErrorNote error={loaded.error} />}
        {children(loaded.data)}
      </>
    );
  }
  if (loaded.error) return <ErrorNote error={loaded.error} />;
  return <Loading what={what} />;
}

/** A table's column headers; the columns named in `numeric` hold numbers and align right. */
export function ColumnHeads({ columns, numeric = [] }: { columns: string[]; numeric?: string[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th key={c} scope="col" class={numeric.includes(c) ? 'num' : undefined}>
            {c}
          </th>
        ))}
      </tr>
    </thead>
  );
}

/** Where a list paged by the hub's keyset cursor stands: the cursors of the pages walked, the last one shown. */
export interface CursorPages {
  /** the cursor of the page shown; undefined on the first */
  cursor: string | undefined;
  /** 1-based */
  page: number;
  next(cursor: string): void;
  back(): void;
  /** back to the first page, as when the query changes */
  restart(): void;
}

export function useCursorPages(): CursorPages {
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  return {
    cursor: cursors[cursors.length - 1],
    page: cursors.length,
    next: (cursor) => setCursors([...cursors, cursor]),
    back: () => setCursors(cursors.slice(0, -1)),
    restart: () => setCursors([undefined]),
  };
}

/** Previous and next page buttons around the page number; next is off when the hub gave no further cursor. */
export function Pager({ pages, nextCursor }: { pages: CursorPages; nextCursor: string | null | undefined }) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" class="secondary" disabled={pages.page <= 1} onClick={pages.back}>
        Previous page
      </button>
      <span>Page {pages.page}</span>
      <button
        type="button"
        class="secondary"
        disabled={!nextCursor}
        onClick={() => nextCursor && pages.next(nextCursor)}
      >
        Next page
      </button>
    </nav>
  );
}
