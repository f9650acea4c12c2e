// Builds a large simulated fleet for the benchmarks straight into a real file-backed hub store: site
// rows in bulk (as many registrations would leave them), then the hub's own code for everything that
// counts (aggregate rebuild, bundle placement), and helpers for percentiles and the machine's identity.

import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { contextFromConfig } from '../src/hub/assemble.ts';
import { applyBundle } from '../src/hub/bundles/bundles.ts';
import type { HubContext } from '../src/hub/context.ts';
import type { HubTls } from '../src/hub/identity/ca.ts';
import { newSiteRow } from '../src/hub/sites/sites.ts';
import { rebuildAggregates } from '../src/hub/status/rebuild.ts';
import type { SiteTable } from '../src/hub/store/schema.ts';

export const regions = ['west', 'east', 'north', 'south', 'central', 'alps', 'coast', 'islands'];
export const formats = ['mini', 'standard', 'max'];

export interface BenchFleet {
  ctx: HubContext;
  /** site i's id */
  siteIdOf(i: number): string;
  close(): Promise<void>;
}

export function siteName(i: number): string {
  return `store-${String(i).padStart(6, '0')}`;
}

/**
 * A hub on a fresh SQLite file with `n` Active sites and two bundles placed (one fleet-wide). With
 * `dataDir` (and the hub's `tls` from it) the store is the one `outpost hub --data-dir` then opens.
 */
export async function benchFleet(
  n: number,
  at: { dataDir?: string; tls?: HubTls } = {},
): Promise<BenchFleet> {
  const dir = at.dataDir ?? (await mkdtemp(join(tmpdir(), 'outpost-bench-')));
  const ctx = await contextFromConfig(
    { database: join(dir, 'hub.db'), connectivity: { sweepIntervalMs: 0 } },
    at.tls ? { tls: at.tls } : {},
  );
  const siteIdOf = (i: number) => `site-${String(i).padStart(8, '0')}`;
  const now = ctx.now();
  await ctx.store.db.transaction().execute(async (tx) => {
    let rows: SiteTable[] = [];
    for (let i = 0; i < n; i++) {
      // 90% heard from within a minute, 7% Stale, 3% Offline
      const silence = i % 100 < 90 ? (i * 7919) % 60_000 : i % 100 < 97 ? 100_000 : 700_000;
      const seen = new Date(now.getTime() - silence).toISOString();
      rows.push(
        newSiteRow({
          id: siteIdOf(i),
          name: siteName(i),
          labels: JSON.stringify({
            region: regions[i % regions.length],
            format: formats[i % formats.length],
          }),
          properties: JSON.stringify({ storeId: i, lanes: 1 + (i % 12), lat: 40 + (i % 1000) / 100 }),
          lifecycle: 'Active',
          registered_at: now.toISOString(),
          last_seen_at: seen,
          connectivity_since: seen,
        }),
      );
      if (rows.length === 1000) {
        await tx.insertInto('sites').values(rows).execute();
        rows = [];
      }
    }
    if (rows.length > 0) await tx.insertInto('sites').values(rows).execute();
  });
  await rebuildAggregates(ctx);
  const bundle = (name: string, selector: string) => ({
    files: [
      {
        path: `${name}.yaml`,
        content: `apiVersion: outpost.dev/v1\nkind: Bundle\nmetadata: {name: ${name}}\nspec: {placement: {selector: ${selector}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: default}\ndata: {a: "1"}\n`,
      },
    ],
  });
  const bench = { name: 'bench', source: 'bench' };
  await applyBundle(ctx, bench, bundle('pos', '{}'));
  await applyBundle(ctx, bench, bundle('cameras', '{matchLabels: {format: max}}'));
  return {
    ctx,
    siteIdOf,
    async close() {
      await ctx.close();
      if (!at.dataDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function machine(): string {
  const c = cpus();
  return `${c.length} cores (${c[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.versions.node}, SQLite ${process.versions.sqlite}, load average ${loadavg()[0]!.toFixed(1)} at the end`;
}

export function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bench'], {
      encoding: 'utf8',
    }).trim();
    return dirty ? `${sha} (+ uncommitted changes)` : sha;
  } catch {
    return 'unknown';
  }
}
