// The hub's hot queries, built and compiled by Kysely once per dialect and then run with new arguments:
// building a query anew cost a fifth of an agent request's CPU. On PostgreSQL they run as named prepared
// statements (postgres.ts), so the server parses and plans each once per connection too.

import type { Compilable, CompiledQuery, QueryResult } from 'kysely';
import type { Db } from './schema.ts';

/** Marks an argument's place among a compiled query's parameters. */
const argPrefix = '\u0000outpost-arg:';

/** SQL texts compiled here, with the name PostgreSQL connections prepare each under. */
export const preparedSql = new Map<string, string>();

type Compiled<R> = { query: CompiledQuery<R>; slots: Array<{ arg: string } | { value: unknown }> };

/**
 * A query whose shape is fixed and whose values change: `build` makes it once per dialect with `arg(name)`
 * where each value goes, and the result runs it on any Kysely instance or transaction with `args`. Only
 * whole values can be arguments (not IN lists, whose length changes the SQL).
 *
 * @example
 * const siteName = preparedQuery((db, arg: Arg<{ id: string }>) =>
 *   db.selectFrom('sites').select('name').where('id', '=', arg('id')));
 * const { rows } = await siteName(ctx.store.db, { id });
 */
export function preparedQuery<A extends Record<string, unknown>, R>(
  build: (db: Db, arg: Arg<A>) => Compilable<R>,
): (db: Db, args: A) => Promise<QueryResult<R>> {
  // one compilation per adapter: a transaction shares its database's adapter and compiler
  const byAdapter = new WeakMap<object, Compiled<R>>();
  const argOf = ((name: string) => `${argPrefix}${name}`) as Arg<A>;
  return async (db, args) => {
    const adapter = db.getExecutor().adapter;
    let compiled = byAdapter.get(adapter);
    if (!compiled) {
      const query = build(db, argOf).compile();
      const slots = query.parameters.map((p) =>
        typeof p === 'string' && p.startsWith(argPrefix) ? { arg: p.slice(argPrefix.length) } : { value: p },
      );
      compiled = { query, slots };
      byAdapter.set(adapter, compiled);
      if (!preparedSql.has(query.sql)) preparedSql.set(query.sql, `outpost_${preparedSql.size}`);
    }
    const parameters = compiled.slots.map((s) => {
      if (!('arg' in s)) return s.value;
      if (!(s.arg in args)) throw new Error(`prepared query: no value for argument ${s.arg}`);
      return args[s.arg];
    });
    return db.executeQuery({ ...compiled.query, parameters });
  };
}

/** Stands for an argument while the query is built: typed as the value it will be. */
export type Arg<A> = <K extends keyof A & string>(name: K) => A[K];

/**
 * A statement whose text grows with a count (an IN list, rows of VALUES), compiled once per size: `build`
 * makes it for `size` items, and `bySize(size)` is the prepared query of that size. Callers round a count
 * up with `paddedSize` (repeating an item where a repeat changes no result, as in an IN list or an
 * update's source rows) or split it with `sizePieces` (where each item must be written once, as in an
 * insert's rows), so a handful of shapes serve every count: built by Kysely anew for each batch, a
 * batch's statements cost more CPU than running them.
 *
 * @example
 * const namesOf = preparedPerSize((db, arg: Arg<PositionalArgs<string>>, size) =>
 *   db.selectFrom('sites').select('name').where('id', 'in', Array.from({ length: size }, (_, i) => arg(`${i}`))));
 * const size = paddedSize(ids.length);
 * const { rows } = await namesOf(size)(db, paddedArgs(ids, size));
 */
export function preparedPerSize<A extends Record<string, unknown>, R>(
  build: (db: Db, arg: Arg<A>, size: number) => Compilable<R>,
): (size: number) => (db: Db, args: A) => Promise<QueryResult<R>> {
  const bySize = new Map<number, (db: Db, args: A) => Promise<QueryResult<R>>>();
  return (size) => {
    let query = bySize.get(size);
    if (!query) {
      query = preparedQuery((db, arg: Arg<A>) => build(db, arg, size));
      bySize.set(size, query);
    }
    return query;
  };
}

/** The power of two at or above `count` (1 for none). */
export function paddedSize(count: number): number {
  return count <= 1 ? 1 : 2 ** Math.ceil(Math.log2(count));
}

/**
 * `count` as powers of two, largest first, none above `largest` (a power of two): 11 → 8, 2, 1.
 * Statements of these sizes write each item once.
 */
export function sizePieces(count: number, largest: number): number[] {
  const out: number[] = [];
  for (let left = count; left > 0; ) {
    const size = Math.min(largest, 2 ** Math.floor(Math.log2(left)));
    out.push(size);
    left -= size;
  }
  return out;
}

/**
 * Arguments by position: a statement with many values names them '0', '1', … and takes them in an
 * array, which answers each name as an object would (thousands of named properties cost more to make
 * than the statement to run).
 */
export type PositionalArgs<T> = Record<`${number}`, T>;

/** `values` as positional arguments, the last one repeated to fill `size`. */
export function paddedArgs<T>(values: readonly T[], size: number): PositionalArgs<T> {
  const args: T[] = values.slice(0, size);
  while (args.length < size) args.push(values[values.length - 1]!);
  return args as unknown as PositionalArgs<T>;
}
