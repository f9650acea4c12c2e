// Named rollout strategies at the hub: the built-in ones, those made through the API, and those a
// source's fleet repository defines (RolloutStrategy documents). A bundle's spec.rollout may name any
// of them; one from a source changes only through its source, and none is deleted while a bundle names it.

import { OutpostError } from '../../model/errors.ts';
import {
  namedStrategies,
  type RolloutStrategy,
  strategyNamed,
  validateStrategy,
} from '../../model/rollout-strategy.ts';
import type { StrategyRequest, StrategyView } from '../../model/wire.ts';
import type { StrategyDocument } from '../../render/fleet-documents.ts';
import { type Actor, audit } from '../audit/audit.ts';
import type { StoredFleet } from '../bundles/revisions.ts';
import type { HubContext } from '../context.ts';
import type { Db, RolloutStrategyTable } from '../store/schema.ts';

function checked(doc: Record<string, unknown>, prefix: string, code: 'bundle_invalid' | 'request_invalid') {
  const result = validateStrategy(doc);
  if ('problems' in result) {
    const p = result.problems[0]!;
    throw new OutpostError(code, `${prefix}${p.path}: ${p.message}`);
  }
  return result.strategy;
}

/**
 * The strategy a revision asks for in spec.rollout (inline, or by a built-in or stored name), or
 * undefined when it asks for none.
 */
export async function resolveStrategy(
  db: Db,
  rollout: StoredFleet['rollout'],
): Promise<RolloutStrategy | undefined> {
  if (rollout === undefined) return undefined;
  if (typeof rollout !== 'string') return checked(rollout, 'spec.rollout.', 'bundle_invalid');
  const builtin = strategyNamed(rollout);
  if (builtin) return builtin;
  const row = await db
    .selectFrom('rollout_strategies')
    .select('spec')
    .where('name', '=', rollout)
    .executeTakeFirst();
  if (!row) throw new OutpostError('bundle_invalid', `spec.rollout: no strategy named "${rollout}"`);
  return checked(JSON.parse(row.spec), `strategy ${rollout}: `, 'bundle_invalid');
}

/** Names of the stored strategies, except those a source owns (when its sync is about to replace them). */
export async function storedStrategyNames(db: Db, exceptSource?: string): Promise<Set<string>> {
  const rows = await db.selectFrom('rollout_strategies').select(['name', 'source']).execute();
  return new Set(
    rows.filter((r) => exceptSource === undefined || r.source !== exceptSource).map((r) => r.name),
  );
}

function view(row: RolloutStrategyTable): StrategyView {
  return {
    name: row.name,
    strategy: JSON.parse(row.spec),
    builtin: false,
    ...(row.source ? { source: row.source } : {}),
    updatedAt: row.updated_at,
  };
}

export async function listStrategies(ctx: HubContext): Promise<StrategyView[]> {
  const builtin = Object.entries(namedStrategies).map(([name, strategy]) => ({
    name,
    strategy: { ...strategy },
    builtin: true,
  }));
  const rows = await ctx.store.db.selectFrom('rollout_strategies').selectAll().orderBy('name').execute();
  return [...builtin, ...rows.map(view)];
}

export async function getStrategy(ctx: HubContext, name: string): Promise<StrategyView> {
  const found = (await listStrategies(ctx)).find((s) => s.name === name);
  if (!found) throw new OutpostError('not_found', `no rollout strategy named ${name}`);
  return found;
}

/** Bundles whose current revision names the strategy in spec.rollout. */
async function bundlesNaming(db: Db, name: string): Promise<string[]> {
  const rows = await db
    .selectFrom('bundles')
    .innerJoin('bundle_revisions', (j) =>
      j
        .onRef('bundle_revisions.bundle', '=', 'bundles.name')
        .onRef('bundle_revisions.revision', '=', 'bundles.revision'),
    )
    .select(['bundles.name', 'bundle_revisions.fleet'])
    .execute();
  return rows.filter((r) => (JSON.parse(r.fleet) as StoredFleet).rollout === name).map((r) => r.name);
}

async function ownedRow(db: Db, name: string): Promise<RolloutStrategyTable | undefined> {
  const row = await db
    .selectFrom('rollout_strategies')
    .selectAll()
    .where('name', '=', name)
    .executeTakeFirst();
  if (row?.source) {
    throw new OutpostError(
      'conflict',
      `rollout strategy ${name} comes from source ${row.source}; change it in its fleet repository`,
    );
  }
  return row;
}

/** Creates or replaces a strategy made through the API. */
export async function applyStrategy(
  ctx: HubContext,
  actor: Actor,
  req: StrategyRequest,
): Promise<{ created: boolean; view: StrategyView }> {
  if (Object.hasOwn(namedStrategies, req.name)) {
    throw new OutpostError('conflict', `${req.name} is a built-in strategy; give yours another name`);
  }
  checked(req.strategy, 'strategy.', 'request_invalid');
  const now = ctx.now().toISOString();
  return ctx.store.db.transaction().execute(async (tx) => {
    const existing = await ownedRow(tx, req.name);
    const row: RolloutStrategyTable = {
      name: req.name,
      spec: JSON.stringify(req.strategy),
      source: null,
      created_at: existing?.created_at ?? now,
      updated_at: now,
    };
    if (existing) await tx.updateTable('rollout_strategies').set(row).where('name', '=', req.name).execute();
    else await tx.insertInto('rollout_strategies').values(row).execute();
    await audit(
      tx,
      ctx.now(),
      actor,
      existing ? 'strategy.replace' : 'strategy.create',
      `strategy/${req.name}`,
      {
        strategy: req.strategy,
      },
    );
    return { created: !existing, view: view(row) };
  });
}

export async function deleteStrategy(ctx: HubContext, actor: Actor, name: string): Promise<void> {
  await ctx.store.db.transaction().execute(async (tx) => {
    const row = await ownedRow(tx, name);
    if (!row) throw new OutpostError('not_found', `no rollout strategy named ${name} (built-in ones stay)`);
    const naming = await bundlesNaming(tx, name);
    if (naming.length > 0) {
      throw new OutpostError(
        'conflict',
        `bundles ${naming.join(', ')} name rollout strategy ${name}; change their spec.rollout first`,
      );
    }
    await tx.deleteFrom('rollout_strategies').where('name', '=', name).execute();
    await audit(tx, ctx.now(), actor, 'strategy.delete', `strategy/${name}`);
  });
}

/**
 * Problems with a source's strategies before its commit is stored: a name another source or the API
 * owns already, and a strategy the commit drops while a bundle from elsewhere still names it.
 */
export async function strategyConflicts(
  db: Db,
  source: string,
  docs: readonly StrategyDocument[],
  bundlesOfCommit: ReadonlySet<string>,
): Promise<OutpostError[]> {
  const rows = await db.selectFrom('rollout_strategies').select(['name', 'source']).execute();
  const errors: OutpostError[] = [];
  const written = new Set(docs.map((d) => d.name));
  for (const d of docs) {
    const row = rows.find((r) => r.name === d.name);
    if (row && row.source !== source) {
      const owner = row.source ? `source ${row.source}` : 'the API';
      errors.push(
        new OutpostError('conflict', `rollout strategy ${d.name} already comes from ${owner}`, {
          file: d.file,
          line: d.line,
        }),
      );
    }
  }
  for (const r of rows) {
    if (r.source !== source || written.has(r.name)) continue;
    const naming = (await bundlesNaming(db, r.name)).filter((b) => !bundlesOfCommit.has(b));
    if (naming.length > 0) {
      errors.push(
        new OutpostError(
          'conflict',
          `rollout strategy ${r.name} is removed, but bundles ${naming.join(', ')} (not from this commit) still name it`,
        ),
      );
    }
  }
  return errors;
}

/**
 * Stores a source's strategies as its commit has them, in the sync's transaction: new and changed ones
 * written, those the commit no longer has deleted. Returns what changed, as `RolloutStrategy/NAME`.
 */
export async function syncStrategies(
  tx: Db,
  now: string,
  source: string,
  docs: readonly StrategyDocument[],
): Promise<{ changed: string[]; deleted: string[] }> {
  const rows = await tx.selectFrom('rollout_strategies').selectAll().where('source', '=', source).execute();
  const changed: string[] = [];
  for (const d of docs) {
    const spec = JSON.stringify(d.strategy);
    const row = rows.find((r) => r.name === d.name);
    if (row?.spec === spec) continue;
    if (row) {
      await tx
        .updateTable('rollout_strategies')
        .set({ spec, updated_at: now })
        .where('name', '=', d.name)
        .execute();
    } else {
      await tx
        .insertInto('rollout_strategies')
        .values({ name: d.name, spec, source, created_at: now, updated_at: now })
        .execute();
    }
    changed.push(`RolloutStrategy/${d.name}`);
  }
  const gone = rows.filter((r) => !docs.some((d) => d.name === r.name)).map((r) => r.name);
  if (gone.length > 0) await tx.deleteFrom('rollout_strategies').where('name', 'in', gone).execute();
  return { changed, deleted: gone.map((n) => `RolloutStrategy/${n}`) };
}
