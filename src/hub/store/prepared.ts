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
