// The status aggregates in the store: how writers move the counts, how PostgreSQL's pending changes are
// folded in, and the one read every count goes through (stored cells plus whatever is still pending).

import { sql } from 'kysely';
import { engineOf } from '../store/dialect.ts';
import { type Arg, type PositionalArgs, preparedPerSize, sizePieces } from '../store/prepared.ts';
import type { Db } from '../store/schema.ts';
import { type CellCounts, cellOf } from './aggregate.ts';

/** How often the leading replica folds pending count changes into the cells on PostgreSQL. */
export const foldIntervalMs = 1000;

/** Cells per statement at most: 2,048 parameters, within both engines' limits. */
const largestWrite = 512;

/** Four arguments a cell, by position: dimension, key, metric, count. */
type CellArgs = PositionalArgs<string | number>;

/** Adds counts to the cells themselves (ON CONFLICT: the row stays locked until the writer commits). */
const cellUpsert = preparedPerSize((db, arg: Arg<CellArgs>, cells) =>
  db
    .insertInto('status_aggregates')
    .values(cellRows(arg, cells))
    .onConflict((oc) =>
      oc
        .columns(['dimension', 'key', 'metric'])
        .doUpdateSet((eb) => ({ count: eb('status_aggregates.count', '+', eb.ref('excluded.count')) })),
    ),
);

/** Appends pending changes: new rows only, so no writer ever waits for another's. */
const deltaInsert = preparedPerSize((db, arg: Arg<CellArgs>, cells) =>
  db.insertInto('status_aggregate_deltas').values(cellRows(arg, cells)),
);

function cellRows(arg: Arg<CellArgs>, cells: number) {
  return Array.from({ length: cells }, (_, i) => ({
    dimension: arg(`${4 * i}`) as string,
    key: arg(`${4 * i + 1}`) as string,
    metric: arg(`${4 * i + 2}`) as string,
    count: arg(`${4 * i + 3}`) as number,
  }));
}

/**
 * Runs `write` over the cells in statements whose sizes are powers of two (1,000 cells: six statements),
 * each compiled once.
 */
async function writeCells(db: Db, deltas: CellCounts, write: typeof cellUpsert): Promise<void> {
  // one order for every writer: two transactions upserting the same cells lock them in the same order
  const ids = [...deltas.keys()].sort();
  let at = 0;
  for (const cells of sizePieces(ids.length, largestWrite)) {
    const args: Array<string | number> = [];
    for (let i = 0; i < cells; i++) {
      const id = ids[at + i]!;
      const { dimension, key, metric } = cellOf(id);
      args.push(dimension, key, metric, deltas.get(id)!);
    }
    await write(cells)(db, args as unknown as CellArgs);
    at += cells;
  }
}

/**
 * Moves the counts by `deltas` inside the caller's transaction. SQLite has one writer at a time, so the
 * cells are upserted at once. On PostgreSQL every writer that moves a site (reports, returns from Stale,
 * sweeps, placement chunks) would lock the same fleet-wide cells until its commit, and under load a
 * commit waits for its replica's event loop: there the change is appended as pending, and foldDeltas
 * adds it to the cells in one short statement of its own.
 */
export async function writeDeltas(db: Db, deltas: CellCounts): Promise<void> {
  await writeCells(db, deltas, engineOf(db as never) === 'postgres' ? deltaInsert : cellUpsert);
}

/** Adds counts to the cells themselves on either engine: the rebuild, which holds the aggregates' lock. */
export async function upsertCells(db: Db, deltas: CellCounts): Promise<void> {
  await writeCells(db, deltas, cellUpsert);
}

/**
 * Folds every committed pending change into the cells in one statement (so one snapshot: a reader sees a
 * change either pending or folded, never both nor neither). Changes committed while it runs stay for the
 * next fold; two folds at once do not count a change twice, as the later one's DELETE skips the rows the
 * earlier one removed. Returns how many pending rows it folded.
 */
export async function foldDeltas(db: Db): Promise<number> {
  if (engineOf(db as never) !== 'postgres') return 0;
  const { rows } = await sql<{ folded: number }>`
    with folded as (
      delete from status_aggregate_deltas returning dimension, key, metric, count
    ), sums as (
      insert into status_aggregates (dimension, key, metric, count)
      select dimension, key, metric, sum(count) from folded
      group by dimension, key, metric
      order by dimension, key, metric
      on conflict (dimension, key, metric)
      do update set count = status_aggregates.count + excluded.count
    )
    select count(*) as folded from folded`.execute(db);
  return Number(rows[0]?.folded ?? 0);
}

/** One aggregate cell as the readers see it. */
export interface CellRow {
  dimension: string;
  key: string;
  metric: string;
  count: number;
}

/**
 * The counts of one dimension (or all), exact: the cells plus the changes still pending, summed in one
 * statement. Pending rows are few (a heartbeat moves no count; the fold runs every second).
 */
export async function readAggregates(db: Db, dimension?: string): Promise<CellRow[]> {
  const rows = await db
    .selectFrom((eb) => {
      let cells = eb.selectFrom('status_aggregates').select(['dimension', 'key', 'metric', 'count']);
      let pending = eb.selectFrom('status_aggregate_deltas').select(['dimension', 'key', 'metric', 'count']);
      if (dimension !== undefined) {
        cells = cells.where('dimension', '=', dimension);
        pending = pending.where('dimension', '=', dimension);
      }
      return cells.unionAll(pending).as('c');
    })
    .select((eb) => ['c.dimension', 'c.key', 'c.metric', eb.fn.sum<number>('c.count').as('count')])
    .groupBy(['c.dimension', 'c.key', 'c.metric'])
    .execute();
  return rows.map((r) => ({ dimension: r.dimension, key: r.key, metric: r.metric, count: Number(r.count) }));
}

/** Forgets every count, pending ones included: the rebuild starts from nothing. */
export async function clearAggregates(db: Db): Promise<void> {
  await db.deleteFrom('status_aggregates').execute();
  await db.deleteFrom('status_aggregate_deltas').execute();
}
