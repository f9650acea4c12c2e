// The SLO read API (GET /api/v1/slos, /slos/:name, /sites/:name/slis), typed by the hub's own wire types.
// An older hub may not serve it: a 404 for the whole route means "not available", which pages show as an
// honest empty state.

import type { SiteSlis, SloDetail, SloView } from '../../src/model/slo-wire.ts';
import { ApiError, get } from './api.ts';

export type { SiteSlis, SloDetail, SloView };

/** 'unavailable' when this hub has no SLO API (the route itself is missing). */
export async function orUnavailable<T>(load: Promise<T>): Promise<T | 'unavailable'> {
  try {
    return await load;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && /no route/.test(e.message)) return 'unavailable';
    throw e;
  }
}

export const listSlos = () => orUnavailable(get<{ items: SloView[] }>('/slos'));
export const sloDetail = (name: string) => orUnavailable(get<SloDetail>(`/slos/${encodeURIComponent(name)}`));
export const siteSlis = (site: string, since: Date) =>
  orUnavailable(
    get<SiteSlis>(`/sites/${encodeURIComponent(site)}/slis?since=${encodeURIComponent(since.toISOString())}`),
  );
