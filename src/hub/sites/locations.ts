// Every site's coordinates and state for the dashboard's map, in one compact answer: column arrays, with
// states as indexes into a dictionary, so 100,000 sites are a few MB of JSON instead of tens.

import { sql } from 'kysely';
import type { LabelSelector } from '../../select/labels.ts';
import type { HubContext } from '../context.ts';
import { withinSql } from '../status/query-sql.ts';

export interface SiteLocationColumns {
  names: string[];
  lat: number[];
  lon: number[];
  connectivity: number[];
  state: number[];
  lifecycle: number[];
  dictionary: { connectivity: string[]; state: (string | null)[]; lifecycle: string[] };
  /** sites (not decommissioned) with no usable lat/lon in their properties or facts */
  unplaced: number;
}

function coordinate(v: unknown, limit: number): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && Math.abs(n) <= limit ? n : undefined;
}

/** Properties an operator set win over the facts the agent reported at registration. */
function locationOf(properties: string, facts: string): { lat: number; lon: number } | undefined {
  for (const text of [properties, facts]) {
    const o = JSON.parse(text) as Record<string, unknown>;
    const lat = coordinate(o.lat, 90);
    const lon = coordinate(o.lon, 180);
    if (lat !== undefined && lon !== undefined) return { lat, lon };
  }
  return undefined;
}

function indexer<T>(): { dict: T[]; of(v: T): number } {
  const dict: T[] = [];
  const seen = new Map<T, number>();
  return {
    dict,
    of(v) {
      let i = seen.get(v);
      if (i === undefined) {
        i = dict.length;
        dict.push(v);
        seen.set(v, i);
      }
      return i;
    },
  };
}

export async function siteLocations(
  ctx: HubContext,
  within?: readonly LabelSelector[],
): Promise<SiteLocationColumns> {
  const rows = await ctx.store.db
    .selectFrom('sites as s')
    .select(['name', 'properties', 'facts', 'connectivity', 'worst_state', 'lifecycle'])
    .where('lifecycle', '!=', 'Decommissioned')
    .$if(within !== undefined, (q) => q.where(sql<boolean>`${withinSql(within!, ctx.store.sql)}`))
    .orderBy('name')
    .execute();
  const connectivity = indexer<string>();
  const state = indexer<string | null>();
  const lifecycle = indexer<string>();
  const out: SiteLocationColumns = {
    names: [],
    lat: [],
    lon: [],
    connectivity: [],
    state: [],
    lifecycle: [],
    dictionary: { connectivity: connectivity.dict, state: state.dict, lifecycle: lifecycle.dict },
    unplaced: 0,
  };
  for (const r of rows) {
    const at = locationOf(r.properties, r.facts);
    if (!at) {
      out.unplaced++;
      continue;
    }
    out.names.push(r.name);
    out.lat.push(at.lat);
    out.lon.push(at.lon);
    out.connectivity.push(connectivity.of(r.connectivity));
    out.state.push(state.of(r.worst_state));
    out.lifecycle.push(lifecycle.of(r.lifecycle));
  }
  return out;
}
