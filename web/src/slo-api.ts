// The SLO read API (contract: GET /api/v1/slos, /slos/:name, /sites/:name/slis). It may not be on this
// hub yet: a 404 for the whole route means "not available", which pages show as an honest empty state.

import { ApiError, get } from './api.ts';

export interface SloView {
  name: string;
  bundle: string;
  objective: number;
  window: string;
  sli: { kind: 'errors' | 'latency' };
  description?: string;
  budgetRemaining: number;
  attainment: number | null;
  burn: { fast: number | null; slow: number | null };
  alert: 'ok' | 'slow-burn' | 'fast-burn';
  sites: number;
}

export interface SloDetail extends SloView {
  series: { t: string; budgetRemaining: number; burnRate: number | null }[];
  worstSites: { site: string; budgetRemaining: number; errorRate: number | null }[];
}

export interface SiteSlis {
  series: { bundle: string; name: string; points: [number, number][] }[];
}

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
